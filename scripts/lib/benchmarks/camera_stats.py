"""The arithmetic of the multi-camera benchmark (benchmarks.cameras), apart from the runtime it measures:
when and where in the video each camera starts, what became of each camera's frames, and the capture ->
stored latencies per camera.

Cameras start out of step, as real ones do. Camera i begins at frame ``spread(i) x video_frames`` of the
video, spread(i) being the van der Corput sequence (0, 1/2, 1/4, 3/4, 1/8, 5/8, ...): the first n cameras
of a schedule, which is what a run of n cameras uses, lie spread over the whole video (evenly for n a
power of two), so no two show the same scene at once. Each starts after a delay drawn from a seeded
generator (the same seed gives the same schedule, and camera i the same delay in every run), uniform in
[0, ``max_delay_s``).

A camera's frames: ``expected`` = fps x seconds; ``taken`` = captured (left the camera) + gated (kept
back by the motion gate, by design); ``served`` = inferred and the outcome kept (stored, summarized,
no_detections). Unserved = frames the camera never took (it fell behind its rate) + frames captured
but not served (dropped by inference's newest-frame policy, expired, refused, lost, pending); the
unserved share is over the frames expected. A gated frame is neither served nor unserved.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from benchmarks.percentiles import percentile

SERVED = ("stored", "summarized", "no_detections")
UNSERVED = ("dropped", "expired", "refused", "lost", "pending")


@dataclass(frozen=True)
class CameraStart:
    camera: str
    offset_frame: int  # where in the video the camera's clip begins
    delay_s: float  # after the run's start


def camera_name(index: int) -> str:
    return f"cam{index + 1:02d}"


def spread(index: int) -> float:
    """The ``index``-th term of the base-2 van der Corput sequence: ``index``'s bits mirrored behind the point."""
    share, scale = 0.0, 0.5
    while index:
        share += scale * (index & 1)
        index >>= 1
        scale /= 2
    return share


def out_of_step(count: int, video_frames: int, *, seed: int, max_delay_s: float) -> list[CameraStart]:
    """The schedule of ``count`` cameras replaying a video of ``video_frames`` frames."""
    if count < 1 or video_frames < 1:
        raise ValueError("at least one camera and one frame")
    delays = np.random.default_rng(seed).uniform(0.0, max_delay_s, size=count)  # PCG64: the same on every NumPy
    return [CameraStart(camera_name(i), int(spread(i) * video_frames), round(float(delays[i]), 3))
            for i in range(count)]


@dataclass(frozen=True)
class FrameTally:
    expected: int
    captured: int
    gated: int
    accounting: Mapping[str, int]

    @property
    def taken(self) -> int:
        return self.captured + self.gated

    @property
    def served(self) -> int:
        return sum(self.accounting.get(key, 0) for key in SERVED)

    @property
    def not_taken(self) -> int:
        return max(0, self.expected - self.taken)

    @property
    def unserved(self) -> int:
        # Captured frames the accounting does not place count as unserved too (a status without accounting).
        return self.not_taken + max(0, self.captured - self.served)

    @property
    def unserved_share(self) -> float:
        return self.unserved / self.expected if self.expected else float("nan")

    def outcome(self, key: str) -> int:
        return self.accounting.get(key, 0)


def total_unserved_share(tallies: Iterable[FrameTally]) -> float:
    tallies = list(tallies)
    expected = sum(t.expected for t in tallies)
    return sum(t.unserved for t in tallies) / expected if expected else float("nan")


def worst_unserved_share(tallies: Iterable[FrameTally]) -> float:
    return max((t.unserved_share for t in tallies), default=float("nan"))


def stored_latencies_ms(captured_at: Mapping[str, float], stored_at: Mapping[str, float]) -> list[float]:
    """Capture -> stored of every frame with both times (by frame id), in ms."""
    return [(stored_at[frame] - at) * 1000.0 for frame, at in captured_at.items() if frame in stored_at]


@dataclass(frozen=True)
class Latency:
    frames: int  # with a stored time
    p50_ms: float | None
    p99_ms: float | None


def latency(values_ms: list[float]) -> Latency:
    if not values_ms:
        return Latency(0, None, None)
    return Latency(len(values_ms), round(percentile(values_ms, 50), 1), round(percentile(values_ms, 99), 1))


def at_most(value: float | None, limit: float) -> bool:
    """A target met: measured (not None, not NaN) and within ``limit``."""
    return value is not None and not math.isnan(value) and value <= limit
