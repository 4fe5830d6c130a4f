"""A capture session with the camera's motion gate, on real frames (vtest.avi): a frame the gate keeps
back goes no further (no JPEG in the ring, no reference), one it lets through carries its verdict and
regions, and the session's counts add up. The gate's clock advances one frame period per grab, so
the keep-alive interval is kept in the video's time, not the test machine's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from camera_ingest.commands import CaptureRequest
from camera_ingest.motion import MotionGate, MotionSettings
from camera_ingest.replies import CaptureReplies
from camera_ingest.session import CaptureSession
from camera_ingest.settings import CameraSettings, ReconnectSettings
from smartcam import topics
from smartcam.contracts import MAX_MOTION_REGIONS, CaptureStatus, FrameRef, parse
from smartcam.frames import FrameRing
from smartcam.telemetry import Counters
from tests.camera_ingest.helpers import THING
from tests.camera_ingest.motion_frames import FakeClock, noisy_stills, vtest_frames
from tests.camera_ingest.replay import Replay
from tests.support.fake_nucleus import FakeNucleus

CAMERA = CameraSettings.model_validate({"id": "cam0", "source": {"type": "folder", "path": "unused"}})


class Run:
    """One session over ``frames`` (all of them, every one taken), with what it published."""

    def __init__(self, tmp_path: Path, frames: list[np.ndarray], gate: MotionGate | None,
                 clock: FakeClock, on_grab: Callable[[int], None] = lambda _: None) -> None:
        self.nucleus = FakeNucleus({}, "smartcam.CameraIngest")
        self.ring = FrameRing(tmp_path / "frames", "cam0", capacity=len(frames) + 1, max_bytes=1 << 30)
        self.published: list[FrameRef] = []
        self.published_at: list[float] = []  # on the gate's clock, from the start of the run
        started = clock.now

        def publish(ref: FrameRef) -> None:
            self.published.append(ref)
            self.published_at.append(round(clock.now - started, 3))

        request = CaptureRequest("capture", CAMERA, "r1", frames=len(frames), gated=gate is not None)
        self.session = CaptureSession(
            request, Replay(frames, clock, on_grab), self.ring,
            CaptureReplies(self.nucleus.ipc, THING, Counters()), publish,
            reconnect=ReconnectSettings(), progress_interval_s=3600, gate=gate,
        )
        self.session.run()  # on this thread
        self.stats = self.session.stats


def gate_at(clock: FakeClock, **settings: object) -> MotionGate:
    return MotionGate(MotionSettings(**settings), clock)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def vtest() -> list[np.ndarray]:
    return vtest_frames(count=120)  # 12 s of people walking


@pytest.fixture(scope="module")
def noisy_still(vtest: list[np.ndarray]) -> list[np.ndarray]:
    return noisy_stills(vtest[60], count=150, sigma=3.0)  # 15 s of one frame with sensor noise


def test_a_noisy_still_scene_is_gated_but_for_keep_alive_frames(
        tmp_path: Path, noisy_still: list[np.ndarray], monkeypatch: pytest.MonkeyPatch):
    stored = []
    real_write = FrameRing.write

    def counting_write(ring: FrameRing, image: np.ndarray, **kwargs: Any) -> FrameRef:
        stored.append(image)
        return real_write(ring, image, **kwargs)

    monkeypatch.setattr(FrameRing, "write", counting_write)
    clock = FakeClock()
    run = Run(tmp_path, noisy_still, gate_at(clock), clock)  # the defaults: keep-alive every 4 s
    stats = run.stats
    assert run.session.outcome is not None and run.session.outcome[0] == "finished"
    assert stats.taken == len(noisy_still) and stats.frames + stats.gated == len(noisy_still)
    assert stats.gated >= 0.95 * len(noisy_still)
    # The first frame starts the background; then one keep-alive every 40 frames (4 s at 10 fps).
    assert [ref.gate for ref in run.published] == ["start", "keep_alive", "keep_alive", "keep_alive"]
    assert run.published_at == [0.1, 4.1, 8.1, 12.1]
    assert all(ref.motion is None for ref in run.published)
    # What was gated never left: nothing in the ring, no reference, no sequence number used.
    assert len(stored) == stats.frames == stats.passed == 4
    assert [ref.sequence for ref in run.published] == [0, 1, 2, 3]
    assert "(+146 gated: no motion)" in run.session.outcome[1]


def test_the_keep_alive_frames_come_at_the_keep_alive_interval(tmp_path: Path, noisy_still: list[np.ndarray]):
    clock = FakeClock()
    run = Run(tmp_path, noisy_still[:100], gate_at(clock, keep_alive_s=2.5), clock)
    assert run.published_at == [0.1, 2.6, 5.1, 7.6]  # the start frame, then every 2.5 s of video
    assert [ref.gate for ref in run.published] == ["start"] + ["keep_alive"] * 3
    assert run.stats.gated == 96


def test_people_walking_pass_with_their_regions(tmp_path: Path, vtest: list[np.ndarray]):
    clock = FakeClock()
    run = Run(tmp_path, vtest, gate_at(clock), clock)
    stats = run.stats
    assert stats.frames >= 0.95 * len(vtest) and stats.frames + stats.gated == len(vtest)
    assert stats.passed == stats.frames and len(run.published) == stats.frames
    assert run.published[0].gate == "start" and run.published[0].motion is None
    moving = [ref for ref in run.published if ref.gate == "motion"]
    assert len(moving) >= 0.95 * (len(vtest) - 1)
    for ref in moving:
        assert ref.motion is not None and 1 <= len(ref.motion) <= MAX_MOTION_REGIONS
        for x1, y1, x2, y2 in ref.motion:
            assert 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1
            assert (x2 - x1) * (y2 - y1) < 0.5  # a person or a group, not the frame
        # what travels stays small: nucleus lite's IPC messages are at most 10,000 bytes
        assert len(ref.to_bytes()) < 1500
        assert parse(FrameRef, ref.to_bytes()) == ref


def test_without_a_gate_every_frame_passes_unmarked(tmp_path: Path, noisy_still: list[np.ndarray]):
    clock = FakeClock()
    run = Run(tmp_path, noisy_still[:30], None, clock)  # a snapshot, or a command with motion_gate false
    assert (run.stats.frames, run.stats.gated, run.stats.passed, run.stats.judged) == (30, 0, 0, False)
    assert all(ref.gate is None and ref.motion is None for ref in run.published)
    assert "gate" not in run.published[0].to_message()


def test_a_gate_turned_off_mid_capture_passes_every_frame_from_the_next_one(
        tmp_path: Path, noisy_still: list[np.ndarray]):
    clock = FakeClock()
    gate = gate_at(clock, keep_alive_s=None)

    def switch_off(n: int) -> None:
        if n == 20:  # as a configuration update does, from the configuration's thread
            gate.reconfigure(MotionSettings(enabled=False))

    run = Run(tmp_path, noisy_still[:50], gate, clock, on_grab=switch_off)
    assert (run.stats.gated, run.stats.passed, run.stats.frames) == (19, 1, 31)
    assert [ref.gate for ref in run.published] == ["start"] + [None] * 30


def test_the_gate_remembers_its_background_from_one_capture_to_the_next(
        tmp_path: Path, noisy_still: list[np.ndarray]):
    clock = FakeClock()
    gate = gate_at(clock, keep_alive_s=None)
    first = Run(tmp_path / "1", noisy_still[:10], gate, clock)
    second = Run(tmp_path / "2", noisy_still[10:20], gate, clock)
    assert (first.stats.frames, first.stats.gated) == (1, 9)
    assert (second.stats.frames, second.stats.gated) == (0, 10)  # no new start frame
    gate.reconfigure(MotionSettings(keep_alive_s=None, sensitivity=0.8))
    third = Run(tmp_path / "3", noisy_still[20:30], gate, clock)
    assert [ref.gate for ref in third.published] == ["start"]  # new settings: a new background


def test_progress_reports_the_frames_gated(tmp_path: Path, noisy_still: list[np.ndarray]):
    clock = FakeClock()
    nucleus = FakeNucleus({}, "smartcam.CameraIngest")
    session = CaptureSession(
        CaptureRequest("capture", CAMERA, "r3", frames=20, gated=True), Replay(noisy_still[:20], clock),
        FrameRing(tmp_path / "frames", "cam0", capacity=30), CaptureReplies(nucleus.ipc, THING, Counters()),
        lambda ref: None, reconnect=ReconnectSettings(), progress_interval_s=1e-9,
        gate=gate_at(clock, keep_alive_s=None),
    )
    session.run()
    progress = [s for s in nucleus.parsed(CaptureStatus, topics.LOCAL_CAPTURE_STATUS) if s.state == "progress"]
    assert [(s.frames_captured, s.frames_gated) for s in progress] == [(1, n) for n in range(20)]
