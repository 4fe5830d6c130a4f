"""A capture asked for a duration lasts exactly that long on the session's clock: the camera below
advances a controlled clock one frame period per grab, so the frames taken are known exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from camera_ingest.commands import CaptureRequest
from camera_ingest.settings import CameraSettings
from tests.camera_ingest.helpers import pan_frames
from tests.camera_ingest.motion_frames import FakeClock
from tests.camera_ingest.replay import Recorded, Replay

CAMERA = CameraSettings.model_validate({"id": "cam0", "source": {"type": "folder", "path": "unused"}})
START_S = 1000.0


@pytest.fixture(scope="module")
def frames():
    return pan_frames(4, (64, 48))


def capture(tmp_path: Path, frames, duration_s: float, period_s: float | None = None) -> Recorded:
    source = Replay(frames, FakeClock(START_S), frame_s=0.1)  # a 10 fps camera
    run = Recorded(tmp_path, CaptureRequest("capture", CAMERA, "d1", period_s=period_s, duration_s=duration_s),
                   source)
    run.run()
    return run


def seconds_after_start(run: Recorded) -> list[float]:
    return [round(ref.captured_monotonic_ns / 1e9 - START_S, 3) for ref in run.published]


def test_a_capture_of_two_seconds_takes_every_frame_of_those_two_seconds(tmp_path: Path, frames):
    run = capture(tmp_path, frames, duration_s=2.0)
    assert run.session.outcome == ("finished", "captured 20 frames at 10.00 fps in 2 s")
    # Grabbed at 0.1 s, 0.2 s, ... 2.0 s: the deadline is checked before each grab.
    assert seconds_after_start(run) == [round(0.1 * n, 3) for n in range(1, 21)]
    assert run.session.stats.frames == 20


def test_a_duration_at_a_lower_rate_keeps_that_rate_for_the_whole_duration(tmp_path: Path, frames):
    run = capture(tmp_path, frames, duration_s=2.0, period_s=0.2)  # 5 fps from a 10 fps camera
    assert seconds_after_start(run) == [0.1, 0.3, 0.5, 0.7, 0.9, 1.1, 1.3, 1.5, 1.7, 1.9]
    assert run.session.outcome == ("finished", "captured 10 frames at 5.00 fps in 2 s")


def test_a_fraction_of_a_second_counts(tmp_path: Path, frames):
    run = capture(tmp_path, frames, duration_s=0.45)
    assert seconds_after_start(run) == [0.1, 0.2, 0.3, 0.4, 0.5]  # the grab at 0.5 s began at 0.4 s
    assert run.session.outcome is not None and run.session.outcome[1].endswith(" in 0.45 s")
