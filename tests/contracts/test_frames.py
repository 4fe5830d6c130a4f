"""smartcam.contracts.frames: the FrameRef CameraIngest hands SsdInference."""

from __future__ import annotations

import pytest

from smartcam.contracts import MAX_MOTION_REGIONS, FrameRef, parse
from tests.contracts.messages import frame, refusal, round_trip


def test_a_frame_ref_round_trips_with_its_schema():
    parsed = round_trip(FrameRef, frame(request_id="req-1", resent=True, gate="motion", motion=[[0, 0, 1, 1]]))
    assert parsed.to_message()["schema"] == "smartcam.frame/2"
    assert parsed.resent is True and parsed.request_id == "req-1"


def test_a_first_send_carries_no_resent_key():
    assert "resent" not in parse(FrameRef, frame()).to_message()
    assert "resent" in refusal(FrameRef, frame(resent=False))


@pytest.mark.parametrize("schema", ["smartcam.frame/1", "smartcam.frame/3"])
def test_another_schema_is_refused(schema):
    """Version 1 named a JPEG file by its path; a reference of that kind is refused, never guessed at."""
    assert "schema" in refusal(FrameRef, frame(schema=schema))


def test_a_version_1_reference_with_its_path_is_refused():
    old = {key: value for key, value in frame(schema="smartcam.frame/1").items() if key not in ("slot", "format")}
    why = refusal(FrameRef, {**old, "path": "/dev/shm/smartcam-frames-1-ab/cam0/000000000001-cam0-ab-1.jpg"})
    assert "path" in why and "slot" in why and "format" in why


@pytest.mark.parametrize("side", ["width", "height"])
@pytest.mark.parametrize("value", [1, 16384])
def test_a_frame_is_1_to_16384_pixels_each_way(side, value):
    assert getattr(parse(FrameRef, frame(**{side: value})), side) == value


@pytest.mark.parametrize("side", ["width", "height"])
@pytest.mark.parametrize(("value", "why"), [(0, "greater than 0"), (-1, "greater than 0"),
                                            (16385, "less than or equal to 16384")])
def test_a_frame_size_beyond_its_bounds_is_refused(side, value, why):
    assert refusal(FrameRef, frame(**{side: value})) == f"invalid FrameRef: {side}: must be {why}"


@pytest.mark.parametrize(("slot", "ok"), [(0, True), (99_999, True), (100_000, False), (-1, False)])
def test_a_slot_is_0_to_99999(slot, ok):
    if ok:
        assert parse(FrameRef, frame(slot=slot)).slot == slot
    else:
        assert "slot" in refusal(FrameRef, frame(slot=slot))


@pytest.mark.parametrize("pixel_format", ["rgb8", "jpeg", "", None])
def test_only_bgr8_pixels_are_a_format(pixel_format):
    assert "format" in refusal(FrameRef, frame(format=pixel_format))


def test_sixteen_motion_regions_at_most():
    assert MAX_MOTION_REGIONS == 16
    assert len(parse(FrameRef, frame(gate="motion", motion=[[0, 0, 1, 1]] * 16)).motion or []) == 16
    assert "at most 16 items" in refusal(FrameRef, frame(gate="motion", motion=[[0, 0, 1, 1]] * 17))


@pytest.mark.parametrize("region", [[0.5, 0.5, 0.5, 0.5], [0, 0.2, 1, 0.2], [0.3, 0, 0.3, 1]])
def test_a_motion_region_may_be_a_line_or_a_point(region):
    assert parse(FrameRef, frame(gate="motion", motion=[region])).motion == [tuple(region)]


@pytest.mark.parametrize("region", [[0.5, 0, 0.4, 1], [0, 0.5, 1, 0.4], [0.6, 0.6, 0.5, 0.5]])
def test_a_motion_region_with_corners_out_of_order_is_refused(region):
    why = refusal(FrameRef, frame(gate="motion", motion=[[0, 0, 1, 1], region]))
    assert why == "invalid FrameRef: motion: motion region corners out of order (x1 <= x2 and y1 <= y2)"


@pytest.mark.parametrize("over", [{"gate": "motion"}, {"motion": [[0, 0, 1, 1]]},
                                  {"gate": "start", "motion": [[0, 0, 1, 1]]},
                                  {"gate": "keep_alive", "motion": [[0, 0, 1, 1]]}])
def test_motion_regions_come_with_gate_motion_and_only_with_it(over):
    assert refusal(FrameRef, frame(**over)) == (
        'invalid FrameRef: message: motion regions come with gate "motion" and only with it')


@pytest.mark.parametrize("gate", ["start", "keep_alive"])
def test_a_gate_without_motion_has_no_regions(gate):
    parsed = round_trip(FrameRef, frame(gate=gate))
    assert parsed.gate == gate and parsed.motion is None
