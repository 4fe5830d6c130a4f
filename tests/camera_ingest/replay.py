"""A camera for capture-session tests on a controlled clock: it replays given frames and advances the
clock one frame period per grab, so a session's frame times and deadline are exact."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from camera_ingest.commands import CaptureRequest
from camera_ingest.replies import CaptureReplies
from camera_ingest.session import CaptureSession
from camera_ingest.settings import ReconnectSettings
from camera_ingest.sources import SourceUnavailable
from smartcam import topics
from smartcam.contracts import CaptureStatus, FrameRef
from smartcam.frames import FrameRing
from smartcam.telemetry import Counters
from tests.camera_ingest.helpers import THING
from tests.camera_ingest.motion_frames import VTEST_FPS, FakeClock
from tests.support.fake_nucleus import FakeNucleus


class Replay:
    """A camera delivering ``frames`` in order (then again), advancing ``clock`` ``frame_s`` per grab;
    ``on_grab(n)`` runs before the n-th grab (0-based) and may raise what a camera raises. The first
    ``failing_opens`` opens after the first one fail, as a camera that is not back yet."""

    camera_id = "cam0"
    live = False

    def __init__(self, frames: list[np.ndarray], clock: FakeClock,
                 on_grab: Callable[[int], None] = lambda _: None, frame_s: float = 1 / VTEST_FPS,
                 failing_opens: int = 0) -> None:
        self.frames = frames
        self.clock = clock
        self.on_grab = on_grab
        self.frame_s = frame_s
        self.failing_opens = failing_opens
        self.grabbed = 0
        self.opens = 0  # attempts, the failed ones included

    def open(self) -> None:
        self.opens += 1
        if self.opens > 1 and self.failing_opens > 0:
            self.failing_opens -= 1
            raise SourceUnavailable(f"camera {self.camera_id} is not there")

    def grab(self) -> None:
        self.on_grab(self.grabbed)
        self.clock.advance(self.frame_s)
        self.grabbed += 1

    def retrieve(self) -> np.ndarray:
        return self.frames[(self.grabbed - 1) % len(self.frames)]

    def close(self) -> None:
        pass


def clock_ns(clock: FakeClock) -> Callable[[], int]:
    """``clock`` (float seconds) as the session's monotonic nanoseconds."""
    return lambda: round(clock.now * 1e9)


class Recorded:
    """One capture session on ``source`` with the controlled clock, and what it published."""

    def __init__(self, tmp_path: Path, request: CaptureRequest, source: Replay, *,
                 reconnect: ReconnectSettings | None = None) -> None:
        self.nucleus = FakeNucleus({}, "smartcam.CameraIngest")
        self.source = source
        self.clock = source.clock
        self.published: list[FrameRef] = []
        self.waits: list[float] = []  # the reconnect backoffs the session waited, in s
        self.session = CaptureSession(
            request, source, FrameRing(tmp_path / "frames", "cam0", capacity=1000),
            CaptureReplies(self.nucleus.ipc, THING, Counters()), self.published.append,
            reconnect=reconnect or ReconnectSettings(), progress_interval_s=3600,
            monotonic_ns=clock_ns(source.clock), backoff_wait=self._wait,
        )

    def _wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.clock.advance(seconds)
        return False  # never stopped meanwhile

    def run(self) -> tuple[str, str]:
        self.session.run()  # on this thread
        assert self.session.outcome is not None
        return self.session.outcome

    def statuses(self) -> list[CaptureStatus]:
        return self.nucleus.parsed(CaptureStatus, topics.LOCAL_CAPTURE_STATUS)
