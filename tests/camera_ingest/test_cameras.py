"""Each camera's motion gate, through the component on the fake nucleus: it follows the camera's
configuration live and keeps its background from one request to the next; a snapshot is never gated
and a command can turn the gate off for itself; the frames it keeps back are counted beside the
frames captured, in the capture's status and in the component's health, never among them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from camera_ingest.sources import OpenCvSource
from smartcam import topics
from smartcam.contracts import CaptureStatus, Health, parse
from smartcam.handoff import new_instance
from tests.camera_ingest.helpers import THING, WRITER, FakeV4l2Capture, IngestNucleus, build_app, config_dict
from tests.camera_ingest.motion_frames import noisy_stills, vtest_frames

COMMANDS = topics.iot_capture_commands(THING)
STILL_GATE = {"keepAliveS": None}  # no keep-alive: which frames pass does not depend on the machine's speed


@pytest.fixture(scope="module")
def vtest() -> list[np.ndarray]:
    return vtest_frames(count=40)


@pytest.fixture(scope="module")
def still(vtest: list[np.ndarray]) -> list[np.ndarray]:
    return noisy_stills(vtest[30], count=40, sigma=3.0)


def camera(motion: dict[str, Any]) -> dict[str, Any]:
    return {"id": "cam0", "source": {"type": "v4l2", "device": 0}, "motion": motion}


def replaying(frames: list[np.ndarray]) -> Callable[[Any], OpenCvSource]:
    """A source factory: a V4L2 camera at 100 fps delivering ``frames`` over and over."""

    def capture(index: int, api: int) -> FakeV4l2Capture:
        fake = FakeV4l2Capture(index, api, fps=100)
        fake.frames = frames
        return fake

    return lambda cam: OpenCvSource(cam, video_capture=capture, device_exists=lambda path: True)


@pytest.fixture
def still_camera(started, folder, still):
    """The component with one camera looking at a still, noisy scene through its motion gate."""

    def start(motion: dict[str, Any] | None = None, **settings: Any) -> tuple[Any, IngestNucleus]:
        configuration = config_dict(folder, cameras=[camera(STILL_GATE if motion is None else motion)], **settings)
        return started(configuration, source_factory=replaying(still))

    return start


def send(ipc: IngestNucleus, **fields: Any) -> None:
    """A command for cam0 from IoT Core."""
    ipc.send_iot(COMMANDS, json.dumps({"camera_id": "cam0", **fields}).encode())


def capture(ipc: IngestNucleus, request_id: str, **fields: Any) -> CaptureStatus:
    send(ipc, request_id=request_id, **fields)
    return ipc.wait_for_terminal(request_id)


def frames_of(ipc: IngestNucleus, request_id: str) -> list[Any]:
    return [ref for ref in ipc.frames() if ref.request_id == request_id]


def test_a_still_scene_is_gated_and_the_counts_add_up(still_camera):
    app, ipc = still_camera()
    first = capture(ipc, "one", action="capture", frames=12, fps=100)
    assert (first.state, first.frames_captured, first.frames_gated, first.frames_requested) == ("finished", 1, 11, 12)
    assert first.accounting is not None and first.accounting.total() == first.frames_captured == 1
    assert "(+11 gated: no motion)" in (first.reason or "")
    [ref] = frames_of(ipc, "one")
    assert (ref.gate, ref.motion) == ("start", None)

    # The gate is the camera's, not the request's: the next request goes on with its background.
    second = capture(ipc, "two", action="capture", frames=8, fps=100)
    assert (second.state, second.frames_captured, second.frames_gated) == ("finished", 0, 8)
    assert second.accounting is not None and second.accounting.total() == 0
    assert frames_of(ipc, "two") == []

    counters = parse(Health, app.health().to_message()).counters
    assert (counters["framesGated"], counters["framesPassed"], counters["framesCaptured"]) == (19, 1, 1)
    assert len(ipc.frames()) == counters["framesCaptured"]
    assert ipc.iot_statuses()[-1] == second  # the same status on IoT Core


def test_people_walking_pass_with_their_regions(started, folder, vtest):
    configuration = config_dict(folder, cameras=[camera(STILL_GATE)])
    app, ipc = started(configuration, source_factory=replaying(vtest))
    final = capture(ipc, "walk", action="capture", frames=30, fps=100)
    assert final.frames_captured is not None and final.frames_gated is not None
    assert final.frames_captured + final.frames_gated == 30 and final.frames_captured >= 28
    refs = frames_of(ipc, "walk")
    assert refs[0].gate == "start" and {ref.gate for ref in refs[1:]} == {"motion"}
    assert all(ref.motion for ref in refs[1:])
    assert app.telemetry.counters["framesPassed"] == final.frames_captured


def test_a_snapshot_is_never_gated_and_leaves_the_gate_alone(still_camera):
    _, ipc = still_camera()
    capture(ipc, "warm", action="capture", frames=5, fps=100)  # the gate has its background
    snapshot = capture(ipc, "snap", action="snapshot")
    assert (snapshot.state, snapshot.frames_captured, snapshot.frames_gated) == ("finished", 1, None)
    [ref] = frames_of(ipc, "snap")
    assert (ref.gate, ref.motion) == (None, None)
    after = capture(ipc, "after", action="capture", frames=5, fps=100)
    assert (after.frames_captured, after.frames_gated) == (0, 5)  # no new start: the snapshot did not touch it


def test_a_command_can_turn_the_gate_off_for_itself(still_camera):
    app, ipc = still_camera()
    ungated = capture(ipc, "all", action="capture", frames=10, fps=100, motion_gate=False)
    assert (ungated.state, ungated.frames_captured, ungated.frames_gated) == ("finished", 10, None)
    assert {(ref.gate, ref.motion) for ref in frames_of(ipc, "all")} == {(None, None)}
    gated = capture(ipc, "gated", action="capture", frames=10, fps=100, motion_gate=True)
    assert (gated.frames_captured, gated.frames_gated) == (1, 9)
    counters = app.telemetry.counters
    assert (counters["framesCaptured"], counters["framesGated"], counters["framesPassed"]) == (11, 9, 1)


@pytest.mark.parametrize(("fields", "reason"), [
    ({"action": "capture", "frames": 3, "motion_gate": True}, "cam0's motion gate is off in the configuration"),
    ({"action": "capture", "frames": 3, "motion_gate": "false"}, "motion_gate: must be true or false"),
    ({"action": "capture", "frames": 3, "motion_gate": 0}, "motion_gate: must be true or false"),
    ({"action": "snapshot", "motion_gate": False}, "snapshot takes no duration_s, frames, fps, interval_s or "
                                                   "motion_gate"),
    ({"action": "stop", "motion_gate": True}, "stop takes no"),
])
def test_a_motion_gate_the_camera_cannot_honour_is_rejected(still_camera, fields, reason):
    _, ipc = still_camera({"enabled": False})
    rejected = capture(ipc, "bad", **fields)
    assert rejected.state == "rejected" and reason in (rejected.reason or ""), rejected.reason


def test_the_gate_follows_the_configuration_live(still_camera):
    app, ipc = still_camera(progressIntervalS=0.01)
    send(ipc, action="start", request_id="live", fps=100)

    def gated_so_far() -> int:
        progress = [s for s in ipc.statuses_of("live") if s.state == "progress" and s.frames_gated is not None]
        return progress[-1].frames_gated if progress else 0

    ipc.wait_until(lambda: gated_so_far() >= 5)
    assert [ref.gate for ref in frames_of(ipc, "live")] == ["start"]

    # An invalid update is refused: the gate goes on as it was.
    ipc.update(cameras=[camera({**STILL_GATE, "sensitivity": "high"})])
    assert ipc.live.refused is not None and "sensitivity" in ipc.live.refused
    before = gated_so_far()
    ipc.wait_until(lambda: gated_so_far() >= before + 5)
    assert len(frames_of(ipc, "live")) == 1

    # Off: from the next frame on, every frame goes on to the model, unmarked.
    ipc.update(cameras=[camera({**STILL_GATE, "enabled": False})])
    ipc.wait_until(lambda: len(frames_of(ipc, "live")) >= 6)
    assert [ref.gate for ref in frames_of(ipc, "live")[1:]] == [None] * (len(frames_of(ipc, "live")) - 1)

    # On again, more sensitive: a new background starts with the next frame, and the still scene is gated.
    ipc.update(cameras=[camera({**STILL_GATE, "sensitivity": 0.85})])
    ipc.wait_until(lambda: "start" in [ref.gate for ref in frames_of(ipc, "live")[1:]])
    settled = len(frames_of(ipc, "live"))
    before = gated_so_far()
    ipc.wait_until(lambda: gated_so_far() >= before + 5)
    send(ipc, action="stop", request_id="halt")
    final = ipc.wait_for_terminal("live")
    assert final.state == "finished"
    assert final.frames_gated is not None and final.frames_captured == len(frames_of(ipc, "live")) == settled
    assert app.telemetry.counters["framesGated"] == final.frames_gated
    assert app.telemetry.counters["framesPassed"] == 2  # the two start frames; the frames while off were not judged
    assert "ERRORED" not in ipc.states()


def test_a_camera_removed_and_added_again_starts_a_new_gate(still_camera, folder):
    _, ipc = still_camera()
    capture(ipc, "a", action="capture", frames=4, fps=100)
    other = {"id": "other", "source": {"type": "folder", "path": str(folder)}, "motion": {"enabled": False}}
    ipc.update(cameras=[other])
    ipc.update(cameras=[camera(STILL_GATE)])
    again = capture(ipc, "b", action="capture", frames=4, fps=100)
    assert (again.frames_captured, again.frames_gated) == (1, 3)
    assert [ref.gate for ref in frames_of(ipc, "b")] == ["start"]


def test_the_frames_gated_survive_a_restart_until_the_final_status(frame_root):
    configuration = config_dict(Path("unused"), cameras=[camera(STILL_GATE)], accountWithinS=3600)
    app, ipc = build_app(configuration, frame_root, source_factory=replaying(
        noisy_stills(np.full((120, 160, 3), 90, np.uint8), count=5, sigma=3.0)))
    app.start()
    send(ipc, action="capture", request_id="r", frames=6, fps=100)
    ipc.wait_for_status("r", "progress", containing="1 of 1 frames await receipts")
    app.stop()  # the final status waits for the start frame's receipt

    again, ipc2 = build_app(configuration, frame_root)
    again.start()
    try:
        ipc2.send_receipts(WRITER, new_instance(), [(ref, "stored") for ref in ipc.frames()])
        final = ipc2.wait_for_terminal("r")
        assert (final.frames_captured, final.frames_gated) == (1, 5)
        assert final.accounting is not None and final.accounting.stored == 1
    finally:
        again.stop()
