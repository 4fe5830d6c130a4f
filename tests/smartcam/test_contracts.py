import json
import time

import pytest

from smartcam.contracts import CaptureCommand, ContractError, Detections, FrameRef, parse


def frame(**over):
    base = dict(frame_id="f1", camera_id="cam1", path="/run/frames/0001.jpg", sequence=1,
                captured_at=time.time(), captured_monotonic_ns=123, width=640, height=480)
    base.update(over)
    return base


def test_frame_round_trips_with_schema_tag():
    original = FrameRef.model_validate(frame())
    msg = original.to_message()
    assert msg["schema"] == "smartcam.frame/1"
    assert parse(FrameRef, json.dumps(msg).encode()) == original


@pytest.mark.parametrize("bad", [
    b"not json", b"[1,2]", b'{"action":"capture","camera_id":"c","frames":NaN}',
    b'{"action":"explode","camera_id":"c"}', b'{"action":"capture","camera_id":"c"}',
    b'{"action":"capture","camera_id":"c","frames":1,"duration_s":2}',
    b'{"action":"capture","camera_id":"../etc","frames":1}', b'{"action":"stop","camera_id":"c","fps":3}',
    b"\xff\xfe", b'{"action":"capture","camera_id":"c","frames":-1}',
])
def test_bad_commands_are_refused_with_a_reason(bad):
    with pytest.raises(ContractError) as info:
        parse(CaptureCommand, bad)
    assert str(info.value)


def test_frame_path_must_be_absolute_without_dotdot():
    with pytest.raises(ContractError, match="path"):
        parse(FrameRef, frame(path="relative.jpg"))
    with pytest.raises(ContractError, match="path"):
        parse(FrameRef, frame(path="/run/../etc/passwd"))


def test_oversize_message_refused():
    with pytest.raises(ContractError, match="limit"):
        parse(Detections, b"{" + b" " * (200 * 1024) + b"}")


@pytest.mark.parametrize("field, value", [
    ("sequence", "1"),  # a string is never read as a number
    ("width", True),  # nor a bool as an int
    ("sequence", 1.0),  # nor a float as an int
    ("captured_at", "1700000000.5"),
])
def test_contracts_are_strict(field, value):
    with pytest.raises(ContractError, match=field):
        parse(FrameRef, frame(**{field: value}))


def test_an_unknown_key_is_refused():
    with pytest.raises(ContractError, match="colour: unknown key"):
        parse(FrameRef, frame(colour="red"))


def test_the_manifest_names_exactly_the_decoders_ssd_inference_has():
    from smartcam.contracts import DECODER_TYPES
    from ssd_inference.decoders import DECODERS

    assert set(DECODER_TYPES) == set(DECODERS)
