"""smartcam.EventTracker: detections in, events out. This module schedules and wires; it decides nothing.

``Detections`` (``smartcam/detections``) go to the camera's :class:`~event_tracker.camera_tracks.CameraTracks`
(tracker, zones, open events), whose ``TrackEvent`` messages go out through the durable
:class:`~event_tracker.delivery.EventDelivery` until DynamoWriter receipts them (``smartcam/receipts``).
A snapshot's pixels are copied out of the frame ring the moment a track's best picture improves, and
written as JPEG by :class:`~event_tracker.snapshots.Snapshots` when a message of its event goes out;
frames the data-capture policy picks for labeling are made JPEG and sent to the writer by
:class:`~event_tracker.data_capture.DataCapturer`. A timer thread ends events whose objects went unseen
when no frames come (a motion gate holds them back), sends again what the writer has not receipted,
and publishes health.

One lock serializes the IPC handlers and the timer: a frame's work (10 people, the message parsed,
events published to a fake nucleus) took under 2 ms on the 2-core development machine; a better
snapshot adds a copy of the frame, and a message that carries a new one two JPEG encodes (frame, crop).

Restarts: at start, every event the previous run left open (the store keeps each one's latest message)
is ended with ``end_reason`` "restarted", and frames of each camera captured up to what the previous
run's events covered are not tracked again. A clean stop ends every open event as "shutdown".
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from event_tracker.camera_tracks import CameraTracks
from event_tracker.capture_store import CaptureStore
from event_tracker.data_capture import DataCapturer
from event_tracker.delivery import EventDelivery
from event_tracker.events import ended_by_restart
from event_tracker.settings import EventTrackerConfig
from event_tracker.snapshots import HeldSnapshot, SnapshotError, Snapshots, grab
from event_tracker.store import EventStore
from event_tracker.tracker import Snapshot
from smartcam import topics
from smartcam.config import LiveConfig
from smartcam.contracts import ContractError, Detections, FrameRef, Health, Receipts, SnapshotRef, TrackEvent, parse
from smartcam.device import thing_name, work_file
from smartcam.frames import FrameError, FrameExpired, FrameReader, FrameRingError, pipeline_frame_root
from smartcam.ipc import Ipc
from smartcam.metrics import Metrics
from smartcam.telemetry import Telemetry

log = logging.getLogger(__name__)

COMPONENT = "smartcam.EventTracker"
EVENTS_ENV = "SMARTCAM_EVENTS_PATH"
SNAPSHOTS_ENV = "SMARTCAM_SNAPSHOTS_DIR"
CAPTURES_ENV = "SMARTCAM_CAPTURES_PATH"
CAPTURES_DIR_ENV = "SMARTCAM_CAPTURES_DIR"
TICK_S = 0.5  # how often unseen events are ended and due events sent again
# Cameras tracked at once: far more than a device serves (CameraIngest configures at most 32); detections
# of more are refused and counted, so a confused peer cannot grow the tracker's memory without end.
MAX_TRACKED_CAMERAS = 256
# A frame captured further ahead of this device's clock is refused: tracked, it would make every later
# frame of its camera look stale (a tracker takes frames in capture order), even after a restart.
MAX_CLOCK_AHEAD_S = 60.0


class EventTrackerApp:
    def __init__(
        self,
        ipc: Ipc,
        config: LiveConfig[EventTrackerConfig],
        *,
        thing: str | None = None,
        frame_root: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        tick_s: float = TICK_S,
        rng: random.Random | None = None,
    ) -> None:
        """``frame_root``, ``clock``, ``tick_s`` and ``rng`` (the data capture's random sample) are for
        tests; a component takes the pipeline's root."""
        self._ipc = ipc
        self._config = config
        self.thing = thing or thing_name()
        self._frames = FrameReader(frame_root if frame_root is not None else pipeline_frame_root())
        self._clock = clock
        self._tick_s = tick_s
        self.telemetry = Telemetry(ipc, COMPONENT, self.thing, clock)
        self.telemetry.add_note(lambda: config.refused)
        self.store = EventStore(work_file(EVENTS_ENV, "{work:path}/events.sqlite3"))
        self.telemetry.add_note(self.store.problem)
        self.snapshots = Snapshots(work_file(SNAPSHOTS_ENV, "{work:path}/snapshots"))
        self.delivery = EventDelivery(ipc, self.store, self.telemetry.counters, self.thing,
                                      iot_enabled=lambda: config.current.iot_events, clock=clock)
        self.capture_store = CaptureStore(work_file(CAPTURES_ENV, "{work:path}/captures.sqlite3"))
        self.telemetry.add_note(self.capture_store.problem)
        self.captures = DataCapturer(ipc, self.capture_store, work_file(CAPTURES_DIR_ENV, "{work:path}/captures"),
                                     self.telemetry.counters, frames=self._frames, rng=rng, clock=clock)
        self._cameras: dict[str, CameraTracks] = {}
        self._tracked_until: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="event-tracker", daemon=True)
        self._next_health = 0.0
        self._apply(config.current)
        config.on_change(lambda _old, new: self._apply(new))
        self.metrics = Metrics(ipc, self.telemetry, self.thing, lambda: config.current.metrics)
        self.metrics.counter("FramesIn", "detectionsSeen")
        self.metrics.counter("EventsStarted", "eventsStarted")
        self.metrics.counter("EventsEnded", "eventsEnded")
        self.metrics.level("EventsOpen", "Count", self._events_open)

    # lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        # Receipts first: none for an event sent again below may be missed.
        self._ipc.subscribe(topics.RECEIPTS, self.on_receipts)
        with self._lock:
            ended = self._end_restarted()
            self._tracked_until = self.store.tracked_until()
            captures = self.captures.start()
        self._ipc.subscribe(topics.DETECTIONS, self.on_detections)
        self._thread.start()
        self.metrics.start()
        log.info("tracking; %d events the last run left open ended as restarted; %d events await receipts; "
                 "store %s, snapshots in %s; %d data captures await receipts", ended, self.delivery.awaiting(),
                 self.store.path, self.snapshots.root, captures)

    def stop(self) -> None:
        self._stop.set()
        self.metrics.stop()
        if self._thread.is_alive():
            self._thread.join(5)
        with self._lock:
            now, sent_at = self._clock(), time.time()
            for camera in self._cameras.values():
                self._send(camera.end_all("shutdown", now, sent_at))
            self.store.close()
            self.capture_store.close()

    def _events_open(self) -> dict[str | None, float]:
        """Events open per camera tracked since the start (0 for a camera whose events all ended)."""
        with self._lock:
            return {camera_id: camera.open_events for camera_id, camera in self._cameras.items()}

    # IPC side -------------------------------------------------------------------------------------
    def on_detections(self, topic: str, payload: Any) -> None:
        """Handler of smartcam/detections. Never raises: whatever a peer sends is checked and counted."""
        self.telemetry.count("detectionsSeen")
        try:
            detections = parse(Detections, payload)
        except ContractError as exc:
            self._invalid(topic, exc)
            return
        frame = detections.frame
        if frame.captured_at > time.time() + MAX_CLOCK_AHEAD_S:
            self.telemetry.problem("framesFromTheFuture", f"frame {frame.frame_id} of camera {frame.camera_id} "
                                   f"refused: captured at {frame.captured_at:.3f}, ahead of this device's clock")
            return
        with self._lock:
            if self._stop.is_set():
                return
            camera = self._camera(frame.camera_id)
            if camera is None:
                return
            result = camera.on_frame(detections, self._config.current, self._clock(), time.time())
            if result.stale:
                self.telemetry.count("framesStale")
                return
            self._send(result.messages)
            self.captures.consider(detections, self._config.current.data_capture,
                                   new_track=any(message.kind == "start" for message in result.messages))

    def on_receipts(self, topic: str, payload: Any) -> None:
        """Handler of smartcam/receipts (DynamoWriter's settle events; other stages' are not for us)."""
        try:
            receipts = parse(Receipts, payload)
        except ContractError as exc:
            self._invalid(topic, exc)
            return
        with self._lock:
            if not self._stop.is_set():
                self.delivery.on_receipts(receipts)
                self.captures.on_receipts(receipts)

    # the timer ------------------------------------------------------------------------------------
    def tick(self) -> None:
        """End events unseen for endAfterS, send again what is due, keep snapshots within bounds."""
        with self._lock:
            if self._stop.is_set():
                return
            now, sent_at = self._clock(), time.time()
            for camera in self._cameras.values():
                self._send(camera.expire(now, sent_at))
            self.delivery.tick()
            self.captures.tick()
            self._prune_snapshots()
        if time.monotonic() >= self._next_health:
            self._next_health = time.monotonic() + self._config.current.health_interval_s
            self.telemetry.publish_health(self.health())

    def health(self) -> Health:
        with self._lock:
            open_events = sum(camera.open_events for camera in self._cameras.values())
            detail = (f"{len(self._cameras)} cameras, {open_events} open events, {self.delivery.awaiting()} events "
                      f"await the writer's receipts, {len(self.snapshots)} snapshots "
                      f"({self.snapshots.total_bytes / 1e6:.1f} MB), {self.captures.awaiting()} data captures "
                      f"({self.captures.pending_bytes / 1e6:.1f} MB) await the writer's receipts")
        return self.telemetry.health("ok", detail)

    # internals ------------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.wait(self._tick_s):
            try:
                self.tick()
            except Exception:  # the timer must go on: the next tick tries again
                log.exception("event tracker timer")
                self.telemetry.count("internalErrors")

    def _apply(self, config: EventTrackerConfig) -> None:
        self.telemetry.status.min_interval_s = config.status_min_interval_s

    def _camera(self, camera_id: str) -> CameraTracks | None:
        camera = self._cameras.get(camera_id)
        if camera is None:
            if len(self._cameras) >= MAX_TRACKED_CAMERAS:
                self.telemetry.problem("camerasRefused", f"detections of camera {camera_id} refused: already "
                                       f"tracking {MAX_TRACKED_CAMERAS} cameras")
                return None
            camera = CameraTracks(camera_id, self._config.current, self._grab_snapshot, self._keep_snapshot,
                                  tracked_until=self._tracked_until.get(camera_id))
            self._cameras[camera_id] = camera
        return camera

    def _send(self, messages: Iterable[TrackEvent]) -> None:
        for message in messages:
            self.delivery.send(message)

    def _end_restarted(self) -> int:
        """End the events the previous run left open, after sending again what it had not got receipted."""
        opened = self.store.open_events()
        superseded = {event_id for event_id, _ in opened}
        self.delivery.restore(superseded)
        unreadable, sent_at = [], time.time()
        for event_id, body in opened:
            try:
                last = parse(TrackEvent, body)
            except ContractError as exc:
                log.error("open event %s from the last run is unreadable and is dropped: %s", event_id, exc)
                unreadable.append(event_id)
                continue
            self.delivery.send(ended_by_restart(last, sent_at))
            self.telemetry.count("eventsEndedByRestart")
        self.store.forget(unreadable)
        return len(opened) - len(unreadable)

    def _grab_snapshot(self, frame: FrameRef, snapshot: Snapshot) -> HeldSnapshot | None:
        """The better picture's pixels copied out of the ring, or None (the event keeps the one it had)."""
        if not self._config.current.snapshots.enabled:
            return None
        try:
            return grab(self._frames, frame, snapshot)
        except FrameExpired:
            self.telemetry.count("snapshotsExpired")  # the ring reused the slot first: the previous one stays
        except (FrameError, FrameRingError, OSError) as exc:
            self.telemetry.problem("snapshotFailed", f"frame {frame.frame_id}: {exc}")
        return None

    def _keep_snapshot(self, event_id: str, held: HeldSnapshot) -> SnapshotRef | None:
        """``held`` written as the event's snapshot, or None (the event keeps the one it had)."""
        settings = self._config.current.snapshots
        if not settings.enabled:
            return None
        try:
            written = self.snapshots.keep(event_id, held, settings)
        except (FrameRingError, SnapshotError, OSError) as exc:
            self.telemetry.problem("snapshotFailed", f"event {event_id}, frame {held.frame.frame_id}: {exc}")
            return None
        self.telemetry.count("snapshotsWritten")
        self._prune_snapshots()
        return written

    def _prune_snapshots(self) -> None:
        pruned = self.snapshots.prune(self._config.current.snapshots, self.delivery.waiting)
        if pruned.receipted or pruned.unsent:
            self.telemetry.count("snapshotsPruned", pruned.receipted + pruned.unsent)
        if pruned.unsent:
            self.telemetry.count("snapshotsPrunedUnsent", pruned.unsent)
            self.telemetry.status.report("snapshotsPrunedUnsent", f"{pruned.unsent} snapshots deleted before the "
                                         "writer receipted their events (snapshots maxCount or maxMB too small for "
                                         "the backlog)")

    def _invalid(self, topic: str, exc: ContractError) -> None:
        self.telemetry.count("messagesInvalid")
        self.telemetry.status.report("invalidMessage", f"message on {topic} refused: {exc}")
