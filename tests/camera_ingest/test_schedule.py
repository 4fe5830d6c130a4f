"""The fps schedule on a synthetic monotonic clock: deterministic, no wall-clock timing."""

from __future__ import annotations

import itertools
import random
import statistics

import pytest

from camera_ingest.schedule import FrameSchedule


def sample(camera_fps: float, wanted_fps: float, seconds: float, jitter: float = 0.0, seed: int = 1) -> list[int]:
    rng = random.Random(seed)
    schedule = FrameSchedule(1 / wanted_fps)
    kept = []
    t = 0.0
    while t < seconds:
        now_ns = int((t + rng.uniform(-jitter, jitter) / camera_fps) * 1e9)
        if schedule.take(now_ns):
            kept.append(now_ns)
        t += 1 / camera_fps
    return kept


@pytest.mark.parametrize(("camera_fps", "wanted"), [(30, 7), (30, 10), (60, 25), (25, 1), (90, 30)])
def test_kept_frames_follow_the_requested_rate(camera_fps, wanted):
    kept = sample(camera_fps, wanted, seconds=20, jitter=0.2)
    assert abs(len(kept) - 20 * wanted) <= 2
    gaps = [b - a for a, b in itertools.pairwise(kept)]
    assert statistics.mean(gaps) / 1e9 == pytest.approx(1 / wanted, rel=0.02)
    assert min(gaps) / 1e9 >= 1 / camera_fps * 0.5  # never two frames from one camera interval


def test_requesting_more_than_the_camera_gives_every_frame():
    schedule = FrameSchedule(1 / 30)
    delivered = [int(i * 0.1e9) for i in range(50)]  # a 10 fps camera
    assert [t for t in delivered if schedule.take(t)] == delivered


def test_a_stall_does_not_cause_a_burst():
    schedule = FrameSchedule(0.1)
    assert schedule.take(0)
    assert schedule.take(int(1.0e9))  # the camera stalled for a second
    assert not schedule.take(int(1.01e9))  # no catch-up burst of the missed slots
    assert schedule.take(int(1.1e9))


def test_snapshot_schedule_takes_the_first_frame():
    schedule = FrameSchedule(None)
    assert schedule.take(5)
    assert schedule.take(6)


@pytest.mark.parametrize("phase", [0.0, 0.3, 0.5, 0.7, 0.97])
def test_a_camera_at_the_requested_rate_delivers_every_frame_despite_jitter(phase):
    rng = random.Random(7)
    schedule = FrameSchedule(1 / 30)
    interval = 1 / 30
    kept = 0
    for i in range(300):
        t = (i + phase + rng.uniform(-0.15, 0.15)) * interval
        kept += schedule.take(int(t * 1e9))
    assert kept >= 297  # no aliasing into skipped slots
