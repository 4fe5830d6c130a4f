"""What the page shows, kept in memory from local pub/sub: each camera's latest inferred frame and its
boxes, the recent events, each component's latest health. Thread-safe: IPC handlers write, the web
server reads.

Every message is parsed as its contract; one that is not is counted and dropped, so a peer cannot
break the page. Everything is bounded: cameras and components by count, events by ``recent_events``.

Frames are paced here: a camera's frame offered to pages (``offered``) moves on to its latest frame at
most ``max_fps`` times a second, and only when a page asks (:meth:`live`), so with no page open no
frame is ever read, and with pages open at most ``max_fps`` frames per camera and second are.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from smartcam.contracts import ContractError, Detections, Health, TrackEvent, parse

MAX_CAMERAS = 64
MAX_COMPONENTS = 64


@dataclass
class _Camera:
    latest: Detections
    offered: Detections
    offered_at: float


def _boxes(detections: Detections) -> list[list[Any]]:
    return [[d.label, round(d.score, 3), round(d.box.x1, 4), round(d.box.y1, 4), round(d.box.x2, 4),
             round(d.box.y2, 4)] for d in detections.detections]


class ViewState:
    def __init__(self, *, max_fps: Callable[[], float], recent_events: Callable[[], int],
                 clock: Callable[[], float] = time.monotonic, on_invalid: Callable[[], None] = lambda: None) -> None:
        """``on_invalid`` is told of every message refused for not being its contract."""
        self._max_fps = max_fps
        self._on_invalid = on_invalid
        self._recent_events = recent_events
        self._clock = clock
        self._lock = threading.Lock()
        self._cameras: dict[str, _Camera] = {}
        self._events: OrderedDict[str, TrackEvent] = OrderedDict()  # oldest first
        self._health: dict[str, Health] = {}
        self.refused: dict[str, int] = {}

    # IPC handlers: never raise -------------------------------------------------------------------
    def on_detections(self, _topic: str, payload: Any) -> None:
        detections = self._parse(Detections, payload, "detections")
        if detections is None:
            return
        camera_id = detections.frame.camera_id
        with self._lock:
            camera = self._cameras.get(camera_id)
            if camera is None:
                if len(self._cameras) >= MAX_CAMERAS:
                    self._refuse("cameras")
                    return
                self._cameras[camera_id] = _Camera(detections, detections, self._clock())
            elif detections.frame.captured_at >= camera.latest.frame.captured_at:
                camera.latest = detections

    def on_event(self, _topic: str, payload: Any) -> None:
        event = self._parse(TrackEvent, payload, "events")
        if event is None:
            return
        with self._lock:
            known = self._events.get(event.event_id)
            if known is not None and known.sequence > event.sequence:
                return
            self._events.pop(event.event_id, None)
            self._events[event.event_id] = event
            while len(self._events) > self._recent_events():
                self._events.popitem(last=False)

    def on_health(self, _topic: str, payload: Any) -> None:
        health = self._parse(Health, payload, "health")
        if health is None:
            return
        with self._lock:
            if health.component not in self._health and len(self._health) >= MAX_COMPONENTS:
                self._refuse("components")
                return
            self._health[health.component] = health

    # what the server reads ------------------------------------------------------------------------
    def live(self) -> list[Detections]:
        """Each camera's frame offered to pages, moved on to its latest if it is due (``max_fps``)."""
        now = self._clock()
        interval = 1.0 / self._max_fps()
        with self._lock:
            for camera in self._cameras.values():
                if camera.offered is not camera.latest and now - camera.offered_at >= interval:
                    camera.offered, camera.offered_at = camera.latest, now
            return [self._cameras[c].offered for c in sorted(self._cameras)]

    def offered(self, camera_id: str) -> Detections | None:
        with self._lock:
            camera = self._cameras.get(camera_id)
            return camera.offered if camera else None

    def events(self) -> list[TrackEvent]:
        """Recent events, the most recently changed first."""
        with self._lock:
            return list(reversed(self._events.values()))

    def event(self, event_id: str) -> TrackEvent | None:
        with self._lock:
            return self._events.get(event_id)

    def health(self) -> list[Health]:
        with self._lock:
            return [self._health[c] for c in sorted(self._health)]

    # internals ------------------------------------------------------------------------------------
    def _parse(self, model: type[Any], payload: Any, what: str) -> Any:
        try:
            return parse(model, payload)
        except ContractError:
            with self._lock:
                self._refuse(what)
            self._on_invalid()
            return None

    def _refuse(self, what: str) -> None:
        self.refused[what] = self.refused.get(what, 0) + 1


def camera_json(detections: Detections) -> dict[str, Any]:
    frame = detections.frame
    return {"id": frame.camera_id, "frame": frame.frame_id, "width": frame.width, "height": frame.height,
            "capturedAt": frame.captured_at, "boxes": _boxes(detections),
            "model": f"{detections.model.name}@{detections.model.version} ({detections.model.backend})",
            "inferMs": round(detections.latency.infer_ms, 1)}


def event_json(event: TrackEvent) -> dict[str, Any]:
    return {"id": event.event_id, "camera": event.camera_id, "track": event.track_id, "label": event.label,
            "kind": event.kind, "firstSeen": event.first_seen, "lastSeen": event.last_seen,
            "durationS": round(event.duration_s, 1), "bestScore": round(event.best_score, 3),
            "frames": event.frames, "zones": sorted({visit.zone for visit in event.zones}),
            "lines": [[c.line, c.crossed_in, c.crossed_out] for c in event.lines],
            "endReason": event.end_reason,
            "snapshotFrame": event.snapshot.frame_id if event.snapshot is not None else None}


def health_json(health: Health, now: float) -> dict[str, Any]:
    return {"component": health.component, "state": health.state, "detail": health.detail or "",
            "ageS": round(max(now - health.at, 0.0), 1), "counters": health.counters}
