"""One capture on one camera, on its own thread: grab, keep what the schedule wants, ask the camera's
motion gate, copy the frame into the ring (resized to the camera's size on the way), publish the
reference, report progress, and end with exactly one outcome (state and reason) handed to
``on_done``; the final status follows from there once the frames are accounted for
(camera_ingest.accounting).

A frame the motion gate keeps back is counted (``gated``) and goes no further: no ring slot,
no reference, nothing in the outbox. It counts towards a capture's ``frames`` like any frame taken,
so a capture lasts as long as it asked whatever moves.

Faults end the session with a reason and the frames captured so far (a partial result), never
with an exception: a disconnect is retried with backoff, a full disk or a camera that cannot be
opened ends it with ``error``, and the component stays up for the next command.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from camera_ingest.commands import CaptureRequest
from camera_ingest.motion import MotionDecision, MotionGate, Why, region_rows
from camera_ingest.replies import CaptureReplies
from camera_ingest.schedule import FrameSchedule
from camera_ingest.settings import ReconnectSettings
from camera_ingest.sources import FrameSource, SourceDisconnected, SourceEnded, SourceError
from smartcam.contracts import FrameRef, GatePass
from smartcam.frames import FrameImageError, FrameRing

log = logging.getLogger(__name__)


class _End(Exception):
    def __init__(self, state: str, reason: str) -> None:
        super().__init__(reason)
        self.state = state
        self.reason = reason


_GATE_PASS: dict[Why, GatePass] = {Why.MOTION: "motion", Why.KEEP_ALIVE: "keep_alive", Why.START: "start"}


@dataclass
class SessionStats:
    frames: int = 0  # frames that left the process: in the ring, referenced, published
    gated: int = 0  # frames the motion gate kept back
    passed: int = 0  # frames the motion gate let through (among ``frames``)
    skipped: int = 0  # grabbed frames that could not be decoded or stored
    reconnects: int = 0
    publish_failures: int = 0
    gate_ns: int = 0  # time spent in the motion gate
    first_ns: int | None = None  # of the frames taken (gated ones included)
    last_ns: int | None = None
    timestamps_ns: list[int] = field(default_factory=list)  # of the frames that left

    @property
    def taken(self) -> int:
        """Frames the schedule took and the session handled: those that left and those gated."""
        return self.frames + self.gated

    @property
    def judged(self) -> bool:
        """The motion gate judged at least one frame (its counts mean something)."""
        return bool(self.gated or self.passed)

    def taken_at(self, now_ns: int) -> None:
        self.first_ns = self.first_ns or now_ns
        self.last_ns = now_ns

    def achieved_fps(self) -> float | None:
        if self.taken < 2 or self.first_ns is None or self.last_ns is None or self.last_ns == self.first_ns:
            return None
        return (self.taken - 1) / ((self.last_ns - self.first_ns) / 1e9)


class CaptureSession:
    def __init__(
        self,
        request: CaptureRequest,
        source: FrameSource,
        ring: FrameRing,
        status: CaptureReplies,
        publish_frame: Callable[[FrameRef], None],
        *,
        reconnect: ReconnectSettings,
        progress_interval_s: float,
        gate: MotionGate | None = None,
        on_done: Callable[[CaptureSession], None] = lambda _: None,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
        backoff_wait: Callable[[float], bool] | None = None,
    ) -> None:
        """``gate``: the camera's motion gate, when it judges this request's frames. ``monotonic_ns`` is the
        clock of frame times and of the duration's deadline; ``backoff_wait(s)`` waits between reconnect
        attempts and returns True when the session was stopped meanwhile (default: the stop event's wait)."""
        self.request = request
        self.stats = SessionStats()
        self._source = source
        self._ring = ring
        self._status = status
        self._publish_frame = publish_frame
        self._gate = gate
        self._reconnect_settings = reconnect
        self._progress_interval_ns = int(progress_interval_s * 1e9)
        self._on_done = on_done
        self._stop = threading.Event()
        self._stop_reason = "stopped"
        self._monotonic_ns = monotonic_ns
        self._backoff_wait = backoff_wait or self._stop.wait
        self.outcome: tuple[str, str] | None = None
        self._thread = threading.Thread(
            target=self.run, name=f"capture-{request.camera_id}-{request.request_id}", daemon=True
        )

    # control ------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, reason: str) -> None:
        self._stop_reason = reason
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    # the session --------------------------------------------------------------------------
    def run(self) -> None:
        state, reason = "error", "internal error"
        try:
            state, reason = self._capture()
        except Exception as exc:
            log.exception("capture %s failed", self.request.request_id)
            state, reason = "error", f"internal error: {type(exc).__name__}: {exc}"
        finally:
            self._source.close()
            self.outcome = (state, reason)
            self._on_done(self)

    def _capture(self) -> tuple[str, str]:
        try:
            self._source.open()
        except SourceError as exc:
            return "error", str(exc)
        schedule = FrameSchedule(self.request.period_s)
        started_ns = self._monotonic_ns()
        deadline_ns = started_ns + int(self.request.duration_s * 1e9) if self.request.duration_s else None
        next_progress_ns = started_ns + self._progress_interval_ns
        try:
            while True:
                self._check_done(deadline_ns)
                grabbed = self._grab()
                if grabbed is None or not schedule.take(grabbed[0]):
                    continue
                ref = self._store(*grabbed)
                if ref is not None:
                    self._publish(ref)
                if grabbed[0] >= next_progress_ns:
                    next_progress_ns = grabbed[0] + self._progress_interval_ns
                    self._progress()
        except _End as end:
            return end.state, end.reason

    def _check_done(self, deadline_ns: int | None) -> None:
        if self._stop.is_set():
            raise _End("finished", f"{self._stop_reason} after {self._summary()}")
        if self.request.frames is not None and self.stats.taken >= self.request.frames:
            raise _End("finished", f"captured {self._summary()}")
        if deadline_ns is not None and self._monotonic_ns() >= deadline_ns:
            raise _End("finished", f"captured {self._summary()} in {self.request.duration_s:g} s")

    def _grab(self) -> tuple[int, float] | None:
        """(monotonic ns, wall clock) of the next frame, or None after a reconnect."""
        try:
            self._source.grab()
        except SourceEnded as exc:
            raise _End("finished" if self.stats.taken else "error", f"{exc}; captured {self._summary()}") from None
        except SourceDisconnected as exc:
            if not self._reconnect(exc) and not self._stop.is_set():
                raise _End("error", f"{exc}; could not reconnect; partial result: {self._summary()}") from None
            return None
        return self._monotonic_ns(), time.time()

    def _store(self, now_ns: int, wall: float) -> FrameRef | None:
        """Decode, judge and store the grabbed frame; None when it was gated or had to be skipped."""
        image = self._source.retrieve()
        camera = self.request.camera
        stats = self.stats
        if image is None:
            stats.skipped += 1
            return None
        decision = self._judge(image)
        if not decision.passed:
            stats.gated += 1
            stats.taken_at(now_ns)
            return None
        gate_pass = _GATE_PASS.get(decision.why)
        size = (camera.width, camera.height) if camera.width and camera.height else None
        try:
            ref = self._ring.write(
                image, size=size, captured_at=wall, captured_monotonic_ns=now_ns,
                request_id=self.request.request_id, gate=gate_pass,
                motion=region_rows(decision.regions) if decision.regions else None,
            )
        except FrameImageError as exc:
            self.stats.skipped += 1
            log.warning("camera %s: frame skipped: %s", camera.id, exc)
            return None
        except OSError as exc:
            where = self._ring.directory
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise _End("error", f"disk full: cannot write frames to {where}; {self._summary()}") from None
            raise _End("error", f"cannot write frames to {where}: {exc}; {self._summary()}") from None
        stats.frames += 1
        stats.passed += gate_pass is not None
        stats.taken_at(now_ns)
        stats.timestamps_ns.append(now_ns)
        if len(stats.timestamps_ns) > 10_000:
            del stats.timestamps_ns[:5_000]
        return ref

    def _judge(self, image: np.ndarray) -> MotionDecision:
        if self._gate is None:
            return MotionDecision(True, Why.OFF)
        started_ns = time.perf_counter_ns()
        try:
            return self._gate.check(image)
        finally:
            self.stats.gate_ns += time.perf_counter_ns() - started_ns

    def _publish(self, ref: FrameRef) -> None:
        try:
            self._publish_frame(ref)
        except Exception as exc:  # noqa: BLE001 - the frame is in the ring; the next may get through
            self.stats.publish_failures += 1
            log.warning("frame %s not published: %s", ref.frame_id, exc)

    def _progress(self) -> None:
        self._status.send(
            "progress",
            request_id=self.request.request_id,
            camera_id=self.request.camera_id,
            frames_captured=self.stats.frames,
            frames_requested=self.request.frames,
            frames_gated=self.stats.gated if self.stats.judged else None,
        )

    def _reconnect(self, cause: SourceDisconnected) -> bool:
        settings = self._reconnect_settings
        self._source.close()
        delay = settings.initial_backoff_s
        last: SourceError = cause
        for attempt in range(1, settings.attempts + 1):
            self._status.send(
                "progress",
                request_id=self.request.request_id,
                camera_id=self.request.camera_id,
                reason=f"{cause}; reconnecting, attempt {attempt} of {settings.attempts} in {delay:g} s",
                frames_captured=self.stats.frames,
                frames_requested=self.request.frames,
                frames_gated=self.stats.gated if self.stats.judged else None,
            )
            if self._backoff_wait(delay):
                return False
            try:
                self._source.open()
            except SourceError as exc:
                last = exc
                delay = min(delay * 2, settings.max_backoff_s)
                continue
            self.stats.reconnects += 1
            log.info("camera %s reconnected after %d attempt(s)", self.request.camera_id, attempt)
            return True
        log.warning("camera %s: giving up after %d attempts: %s", self.request.camera_id, settings.attempts, last)
        return False

    def _summary(self) -> str:
        frames = self.stats.frames
        text = f"{frames} frame{'s' if frames != 1 else ''}"
        if self.stats.gated:
            text += f" (+{self.stats.gated} gated: no motion)"
        if self.request.frames is not None:
            text += f" of {self.request.frames}"
        fps = self.stats.achieved_fps()
        if fps is not None:
            text += f" at {fps:.2f} fps"
        if self.stats.skipped:
            text += f" ({self.stats.skipped} unreadable frames skipped)"
        return text
