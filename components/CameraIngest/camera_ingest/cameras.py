"""Runs commands against the configured cameras: at most one session per camera at a time.

A command for a camera that is already capturing is REJECTED with the running request's id (no
queue: an operator sees at once that the camera is busy and can send ``stop``). ``stop`` ends the
camera's running session, whose own ``finished`` (with the frames it captured and their accounting)
follows from the ledger. Each session's frames go out through the delivery (outbox and receipts)
under the session's capture number in the ledger.

Each camera has one motion gate, kept across its requests (its background is the camera's, not a
request's); a configuration change that alters a camera's ``motion`` settings reaches its gate at
once, so a running capture uses them from its next frame on a new background.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from camera_ingest.accounting import CaptureLedger
from camera_ingest.commands import CaptureRequest
from camera_ingest.delivery import FrameDelivery
from camera_ingest.motion import MotionGate
from camera_ingest.replies import CaptureReplies
from camera_ingest.session import CaptureSession
from camera_ingest.settings import CameraIngestConfig, CameraSettings
from camera_ingest.sources import FrameSource, open_source
from smartcam.frames import FrameRing, FrameRingError
from smartcam.telemetry import Counters, camel

log = logging.getLogger(__name__)

SourceFactory = Callable[[CameraSettings], FrameSource]


class CameraDispatcher:
    def __init__(
        self,
        config: Callable[[], CameraIngestConfig],
        status: CaptureReplies,
        frame_root: Path,
        counters: Counters,
        *,
        ledger: CaptureLedger,
        delivery: FrameDelivery,
        source_factory: SourceFactory = open_source,
    ) -> None:
        self._config = config
        self._frame_root = frame_root
        self._status = status
        self._ledger = ledger
        self._delivery = delivery
        self._source_factory = source_factory
        self._lock = threading.Lock()
        self._sessions: dict[str, CaptureSession] = {}
        self._rings: dict[str, tuple[tuple[int, int], FrameRing]] = {}
        self._gates: dict[str, MotionGate] = {}
        self._stopping = False
        self._counters = counters
        self._finished_frames: dict[str, tuple[int, int]] = {}  # camera id -> (taken, gated) of ended sessions

    def handle(self, request: CaptureRequest) -> None:
        if request.action == "stop":
            self._stop_camera(request)
        else:
            self._start_session(request)

    def running(self) -> dict[str, str]:
        """camera id -> request id of its running session."""
        with self._lock:
            return {camera: s.request.request_id for camera, s in self._sessions.items()}

    def frame_totals(self) -> dict[str, tuple[int, int]]:
        """camera id -> (frames taken, of them gated) since the component started, running sessions
        included, for every configured camera (0 for one that took none)."""
        with self._lock:
            totals = {camera.id: self._finished_frames.get(camera.id, (0, 0)) for camera in self._config().cameras}
            for camera_id, session in self._sessions.items():
                taken, gated = totals.get(camera_id, (0, 0))
                totals[camera_id] = (taken + session.stats.taken, gated + session.stats.gated)
        return totals

    def stop_all(self, reason: str, timeout_s: float = 10.0) -> None:
        with self._lock:
            self._stopping = True
            sessions = list(self._sessions.values())
        for session in sessions:
            session.stop(reason)
        for session in sessions:
            if not session.join(timeout_s):
                log.warning("capture %s did not stop within %g s", session.request.request_id, timeout_s)

    def configure(self, config: CameraIngestConfig) -> None:
        """A new configuration is in force: new motion settings reach their camera's gate, and the
        capture of every camera ``config`` no longer has ends (a command could not stop it)."""
        with self._lock:
            for camera_id in list(self._gates):
                camera = config.camera(camera_id)
                if camera is None:
                    del self._gates[camera_id]
                elif camera.motion != self._gates[camera_id].settings:
                    self._gates[camera_id].reconfigure(camera.motion)
            orphans = [s for camera, s in self._sessions.items() if config.camera(camera) is None]
        for session in orphans:
            session.stop(f"camera {session.request.camera_id} was removed from the configuration")

    def wait_idle(self, timeout_s: float) -> bool:
        """For tests and shutdown: wait until no session runs."""
        with self._lock:
            sessions = list(self._sessions.values())
        return all(session.join(timeout_s) for session in sessions)

    # internals ----------------------------------------------------------------------------
    def _stop_camera(self, request: CaptureRequest) -> None:
        with self._lock:
            session = self._sessions.get(request.camera_id)
        if session is None:
            self._reply(request, "rejected", f"camera {request.camera_id} has no capture running")
            return
        self._reply(request, "accepted")
        session.stop(f"stopped by request {request.request_id}")
        self._reply(request, "finished", f"stopping capture {session.request.request_id} on {request.camera_id}")

    def _start_session(self, request: CaptureRequest) -> None:
        with self._lock:
            # Read under the lock: a configuration change ends the sessions of removed cameras
            # (configure) after it is in force, so no session of a removed camera outlives it.
            config = self._config()
            if self._stopping:
                self._reply(request, "rejected", "component is stopping")
                return
            if config.camera(request.camera_id) is None:
                self._reply(request, "rejected", f"camera {request.camera_id} was removed from the configuration")
                return
            busy = self._sessions.get(request.camera_id)
            if busy is not None:
                self._reply(
                    request,
                    "rejected",
                    f"camera {request.camera_id} is busy with request {busy.request.request_id} "
                    f"({busy.request.action}); send stop first",
                )
                return
            try:
                ring = self._ring(config, request.camera)
            except (FrameRingError, OSError) as exc:
                self._reply(request, "error", f"frame ring unusable: {exc}")
                return
            source = self._source_factory(request.camera)
            gate = self._gate(config.camera(request.camera_id) or request.camera) if request.gated else None
            capture = self._ledger.begin(request)  # from here on the capture ends through the ledger
            session = CaptureSession(
                request,
                source,
                ring,
                self._status,
                functools.partial(self._delivery.send, capture=capture),
                reconnect=config.reconnect,
                progress_interval_s=config.progress_interval_s,
                gate=gate,
                on_done=functools.partial(self._finished, capture=capture),
            )
            self._sessions[request.camera_id] = session
            self._reply(request, "accepted")
            try:
                session.start()
            except RuntimeError as exc:  # no thread to be had: the capture ends before it began
                del self._sessions[request.camera_id]
                self._ledger.end(capture, "error", f"internal error: {exc}", 0)

    def _finished(self, session: CaptureSession, capture: int) -> None:
        stats, counters = session.stats, self._counters
        with self._lock:
            if self._sessions.get(session.request.camera_id) is session:
                del self._sessions[session.request.camera_id]
            taken, gated = self._finished_frames.get(session.request.camera_id, (0, 0))
            self._finished_frames[session.request.camera_id] = (taken + stats.taken, gated + stats.gated)
        state, reason = session.outcome or ("error", "internal error")
        counters.add("framesCaptured", stats.frames)
        counters.add("framesSkipped", stats.skipped)
        counters.add("reconnects", stats.reconnects)
        counters.add("framePublishFailures", stats.publish_failures)
        counters.add("framesGated", stats.gated)
        counters.add("framesPassed", stats.passed)
        counters.add(camel("sessions", state))
        self._ledger.end(capture, state, reason, stats.frames, stats.gated if stats.judged else None)

    def _gate(self, camera: CameraSettings) -> MotionGate:
        """The camera's gate, with the camera's current motion settings (called under the lock)."""
        gate = self._gates.get(camera.id)
        if gate is None:
            gate = self._gates[camera.id] = MotionGate(camera.motion)
        elif gate.settings != camera.motion:
            gate.reconfigure(camera.motion)
        return gate

    def _ring(self, config: CameraIngestConfig, camera: CameraSettings) -> FrameRing:
        key = (config.ring.frames, config.ring.max_bytes)
        cached = self._rings.get(camera.id)
        if cached is not None and cached[0] == key:
            return cached[1]
        ring = FrameRing(self._frame_root, camera.id, capacity=key[0], max_bytes=key[1])
        self._rings[camera.id] = (key, ring)
        return ring

    def _reply(self, request: CaptureRequest, state: str, reason: str | None = None) -> None:
        self._status.send(
            state,  # type: ignore[arg-type]
            request_id=request.request_id,
            camera_id=request.camera_id,
            reason=reason,
            frames_requested=request.frames,
        )
