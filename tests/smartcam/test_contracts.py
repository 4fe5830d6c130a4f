import json
import time

import pytest

from smartcam.contracts import CaptureCommand, CaptureStatus, ContractError, Detections, FrameRef, parse


def frame(**over):
    base = dict(frame_id="f1", camera_id="cam1", slot=1, sequence=1,
                captured_at=time.time(), captured_monotonic_ns=123, width=640, height=480, format="bgr8")
    base.update(over)
    return base


def test_frame_round_trips_with_schema_tag():
    original = FrameRef.model_validate(frame())
    msg = original.to_message()
    assert msg["schema"] == "smartcam.frame/2"
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


def test_a_frame_names_no_path_any_more():
    with pytest.raises(ContractError, match="path"):
        parse(FrameRef, frame(path="/run/frames/0001.jpg"))


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


def test_a_frame_carries_the_motion_gates_verdict_and_regions():
    moving = parse(FrameRef, frame(gate="motion", motion=[[0.1, 0.2, 0.3, 0.4], [0, 0, 1, 1]]))
    assert moving.motion == [(0.1, 0.2, 0.3, 0.4), (0.0, 0.0, 1.0, 1.0)]
    assert parse(FrameRef, moving.to_bytes()) == moving
    assert parse(FrameRef, frame(gate="keep_alive")).motion is None
    assert parse(FrameRef, frame(gate="start")).gate == "start"
    plain = FrameRef.model_validate(frame()).to_message()
    assert "gate" not in plain and "motion" not in plain  # no gate, no bytes
    sixteen = parse(FrameRef, frame(gate="motion", motion=[[0.1234, 0.5, 0.9876, 0.75]] * 16))
    assert len(sixteen.to_bytes()) < 1200  # well within nucleus lite's 10,000-byte messages


@pytest.mark.parametrize(("over", "reason"), [
    ({"gate": "motion"}, 'motion regions come with gate "motion" and only with it'),
    ({"gate": "keep_alive", "motion": [[0, 0, 1, 1]]}, 'motion regions come with gate "motion"'),
    ({"motion": [[0, 0, 1, 1]]}, 'motion regions come with gate "motion"'),
    ({"gate": "motion", "motion": []}, "motion: List should have at least 1 item"),
    ({"gate": "motion", "motion": [[0, 0, 1, 1]] * 17}, "motion: List should have at most 16 items"),
    ({"gate": "motion", "motion": [[0.5, 0, 0.4, 1]]}, "corners out of order"),
    ({"gate": "motion", "motion": [[0, 0, 1, 1.5]]}, "less than or equal to 1"),
    ({"gate": "motion", "motion": [[0, 0, 1]]}, "motion.0"),
    ({"gate": "motion", "motion": [[0, 0, 1, "1"]]}, "must be a number"),
    ({"gate": "motion", "motion": [{"x1": 0}]}, "motion.0"),
    ({"gate": "still"}, "gate"),
    ({"gate": True}, "gate"),
])
def test_a_bad_motion_gate_verdict_is_refused(over, reason):
    with pytest.raises(ContractError) as refused:
        parse(FrameRef, frame(**over))
    assert reason in str(refused.value)


def test_a_command_can_turn_the_motion_gate_off_strictly():
    base = {"action": "capture", "camera_id": "c", "frames": 3}
    assert parse(CaptureCommand, {**base, "motion_gate": False}).motion_gate is False
    assert parse(CaptureCommand, {"action": "start", "camera_id": "c", "motion_gate": True}).motion_gate is True
    assert "motion_gate" not in parse(CaptureCommand, base).to_message()
    for value in ("false", 0, 1, [False]):
        with pytest.raises(ContractError, match="motion_gate: must be true or false"):
            parse(CaptureCommand, {**base, "motion_gate": value})
    for action in ("stop", "snapshot"):
        with pytest.raises(ContractError, match=f"{action} takes no .*motion_gate"):
            parse(CaptureCommand, {"action": action, "camera_id": "c", "motion_gate": False})


def test_a_status_counts_the_gated_frames_beside_the_captured_ones():
    status = parse(CaptureStatus, {"state": "finished", "frames_captured": 3, "frames_gated": 97,
                                   "accounting": {"stored": 3}, "at": time.time()})
    assert (status.frames_captured, status.frames_gated, status.accounting.total()) == (3, 97, 3)
    assert "frames_gated" not in parse(CaptureStatus, {"state": "accepted", "at": time.time()}).to_message()
    for value in (-1, "3", 1.5, True):
        with pytest.raises(ContractError, match="frames_gated"):
            parse(CaptureStatus, {"state": "progress", "frames_gated": value, "at": time.time()})


def detections_message(**over):
    found = {"label": "person", "class_id": 0, "score": 0.9, "box": {"x1": 0.1, "y1": 0.2, "x2": 0.4, "y2": 0.8}}
    base = dict(schema="smartcam.detections/1", frame=frame(), detections=[found],
                model={"name": "m", "version": "1", "backend": "dlr"},
                latency={"read_ms": 1, "preprocess_ms": 1, "infer_ms": 5, "postprocess_ms": 1}, inferred_at=time.time())
    base.update(over)
    return base


def weak(score=0.3):
    return {"label": "person", "class_id": 0, "score": score, "box": {"x1": 0.6, "y1": 0.1, "x2": 0.8, "y2": 0.5}}


def test_detections_carry_candidates_only_when_there_are_some():
    old = parse(Detections, detections_message())  # as sent before candidates existed: still valid
    assert old.candidates is None and "candidates" not in old.to_message()
    hinted = parse(Detections, detections_message(candidates=[weak(0.3), weak(0.1)]))
    assert [c.score for c in hinted.candidates] == [0.3, 0.1]
    assert parse(Detections, hinted.to_bytes()) == hinted
    assert hinted.to_message()["schema"] == "smartcam.detections/1"


@pytest.mark.parametrize(("candidates", "reason"), [
    ([], "candidates: List should have at least 1 item"),
    ([weak()] * 1001, "candidates: List should have at most 1000 items"),
    ([weak(1.5)], "candidates.0.score"),
    ([{**weak(), "score": "0.3"}], "candidates.0.score"),
    ([{**weak(), "box": {"x1": 0.8, "y1": 0.1, "x2": 0.6, "y2": 0.5}}], "box corners out of order"),
    ([{**weak(), "colour": "red"}], "colour: unknown key"),
    ({"label": "person"}, "candidates"),
])
def test_bad_candidates_are_refused(candidates, reason):
    with pytest.raises(ContractError) as refused:
        parse(Detections, detections_message(candidates=candidates))
    assert reason in str(refused.value)
