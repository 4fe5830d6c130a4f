"""smartcam.contracts.capture: an operator's CaptureCommand and CameraIngest's CaptureStatus."""

from __future__ import annotations

import pytest

from smartcam.contracts import CaptureCommand, CaptureStatus, parse
from tests.contracts.messages import AT, command, refusal, round_trip, status

CAPTURE = "invalid CaptureCommand: message: capture needs exactly one of duration_s or frames"
START = "invalid CaptureCommand: message: start takes interval_s or fps, not duration_s or frames"


def test_a_capture_of_frames_or_of_seconds_round_trips():
    assert round_trip(CaptureCommand, command(fps=5.0, request_id="req-1", motion_gate=True)).frames == 3
    parsed = round_trip(CaptureCommand, {"action": "capture", "camera_id": "cam0", "duration_s": 2.5})
    assert parsed.duration_s == 2.5 and parsed.frames is None
    assert parsed.to_message() == {"schema": "smartcam.capture/1", "action": "capture", "camera_id": "cam0",
                                   "duration_s": 2.5}


@pytest.mark.parametrize("over", [{"frames": None}, {"duration_s": 1.0}])
def test_a_capture_needs_exactly_one_of_duration_or_frames(over):
    data = {k: v for k, v in command(**over).items() if v is not None}
    assert refusal(CaptureCommand, data) == CAPTURE


@pytest.mark.parametrize("action", ["stop", "snapshot"])
def test_stop_and_snapshot_take_nothing_but_the_camera(action):
    parsed = round_trip(CaptureCommand, {"action": action, "camera_id": "cam0", "request_id": "r"})
    assert parsed.action == action
    for key, value in [("duration_s", 1.0), ("frames", 1), ("fps", 1.0), ("interval_s", 1.0),
                       ("motion_gate", True), ("motion_gate", False)]:
        assert refusal(CaptureCommand, {"action": action, "camera_id": "cam0", key: value}) == (
            f"invalid CaptureCommand: message: {action} takes no duration_s, frames, fps, interval_s or motion_gate")


def test_start_takes_a_rate_or_an_interval_and_no_end():
    assert round_trip(CaptureCommand, {"action": "start", "camera_id": "cam0"}).interval_s is None
    assert round_trip(CaptureCommand, {"action": "start", "camera_id": "cam0", "interval_s": 10.0}).interval_s == 10
    assert round_trip(CaptureCommand, {"action": "start", "camera_id": "cam0", "fps": 2.0}).fps == 2
    assert refusal(CaptureCommand, {"action": "start", "camera_id": "cam0", "duration_s": 5.0}) == START
    assert refusal(CaptureCommand, {"action": "start", "camera_id": "cam0", "frames": 5}) == START


def test_a_capture_may_have_a_rate_and_an_interval():
    parsed = parse(CaptureCommand, command(fps=1.0, interval_s=2.0, motion_gate=False))
    assert (parsed.fps, parsed.interval_s, parsed.motion_gate) == (1.0, 2.0, False)


def test_an_unknown_action_is_refused():
    assert "action: must be 'capture', 'start', 'stop' or 'snapshot'" in refusal(CaptureCommand, command(action="go"))


@pytest.mark.parametrize("key", ["duration_s", "interval_s"])
def test_seconds_are_above_0_up_to_a_day(key):
    base = {"action": "capture", "camera_id": "cam0"} if key == "duration_s" else command()
    assert getattr(parse(CaptureCommand, {**base, key: 86_400}), key) == 86_400
    assert getattr(parse(CaptureCommand, {**base, key: 0.001}), key) == 0.001
    assert refusal(CaptureCommand, {**base, key: 86_400.001}) == (
        f"invalid CaptureCommand: {key}: must be less than or equal to 86400")
    assert refusal(CaptureCommand, {**base, key: 0}) == f"invalid CaptureCommand: {key}: must be greater than 0"
    assert refusal(CaptureCommand, {**base, key: "5"}).startswith(f"invalid CaptureCommand: {key}: must be a number")
    for value in (float("inf"), float("nan")):
        why = refusal(CaptureCommand, {**base, key: value})
        assert why == f"invalid CaptureCommand: {key}: must be a finite number"


def test_frames_are_1_to_a_million():
    assert parse(CaptureCommand, command(frames=1)).frames == 1
    assert parse(CaptureCommand, command(frames=1_000_000)).frames == 1_000_000
    assert refusal(CaptureCommand, command(frames=0)) == "invalid CaptureCommand: frames: must be greater than 0"
    assert refusal(CaptureCommand, command(frames=1_000_001)) == (
        "invalid CaptureCommand: frames: must be less than or equal to 1000000")
    assert refusal(CaptureCommand, command(frames=2.0)).startswith("invalid CaptureCommand: frames: must be a whole")
    assert refusal(CaptureCommand, command(frames=True)).startswith("invalid CaptureCommand: frames: must be a whole")


def test_a_rate_is_above_0_up_to_240_per_second():
    assert parse(CaptureCommand, command(fps=240)).fps == 240
    assert parse(CaptureCommand, command(fps=0.01)).fps == 0.01
    assert refusal(CaptureCommand, command(fps=240.01)) == (
        "invalid CaptureCommand: fps: must be less than or equal to 240")
    assert refusal(CaptureCommand, command(fps=0)) == "invalid CaptureCommand: fps: must be greater than 0"
    for value in (float("inf"), float("-inf"), float("nan")):
        assert refusal(CaptureCommand, command(fps=value)) == "invalid CaptureCommand: fps: must be a finite number"


def test_a_camera_is_chosen_by_identifier_only():
    assert "camera_id" in refusal(CaptureCommand, command(camera_id="/dev/video0"))
    assert "camera_id: required" in refusal(CaptureCommand, {"action": "capture", "frames": 1})


@pytest.mark.parametrize("state", ["accepted", "rejected", "progress", "finished", "error"])
def test_a_status_has_one_of_five_states(state):
    assert round_trip(CaptureStatus, status(state=state)).state == state


def test_a_status_round_trips_with_everything():
    parsed = round_trip(CaptureStatus, status(
        state="finished", request_id="req-1", camera_id="cam0", reason="done", frames_captured=3,
        frames_requested=3, frames_gated=0, accounting={"stored": 2, "dropped": 1}))
    assert parsed.to_message() == {
        "schema": "smartcam.capture-status/1", "state": "finished", "request_id": "req-1", "camera_id": "cam0",
        "reason": "done", "frames_captured": 3, "frames_requested": 3, "frames_gated": 0,
        "accounting": {"stored": 2, "summarized": 0, "no_detections": 0, "dropped": 1, "expired": 0, "refused": 0,
                       "lost": 0, "pending": 0}, "at": AT}


@pytest.mark.parametrize(("over", "why"), [
    ({"state": "done"}, "state: must be"), ({"at": 0}, "at: must be greater than 0"),
    ({"frames_captured": -1}, "frames_captured: must be greater than or equal to 0"),
    ({"frames_requested": "3"}, "frames_requested: must be a whole number"),
    ({"reason": "r" * 1025}, "reason: String should have at most 1024 characters"),
])
def test_a_bad_status_is_refused(over, why):
    assert refusal(CaptureStatus, status(**over)).startswith(f"invalid CaptureStatus: {why}")
