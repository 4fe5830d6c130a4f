"""One camera's tracking: its tracker, its zones and lines, its open events, and the frames their
snapshots may come from. Detections in, the ``TrackEvent`` messages they cause out; no I/O but the
snapshot copies it is handed: a better picture is grabbed out of the ring at once and held, and written
only when a message of its event goes out (a picture replaced before then is never encoded).

An event starts when its track is confirmed, sends an ``update`` when it enters or leaves a zone or
crosses a line, and otherwise at most every ``updateIntervalS`` of capture time while it is seen,
and ends when its track ends. Time is the frames' capture time; between frames (a motion gate holds
them back) :meth:`CameraTracks.expire` moves the camera's clock on by the time since the last one
arrived, so events end on time without ending early while frames are still on their way.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from event_tracker.events import OpenEvent, event_id
from event_tracker.settings import EventTrackerConfig
from event_tracker.snapshots import HeldSnapshot
from event_tracker.tracker import Snapshot, Step, Track, Tracker, observations
from event_tracker.zones import CameraZones, ZoneMonitor, ZoneSummary
from smartcam.contracts import Detections, EndReason, EventKind, FrameRef, SnapshotRef, TrackEvent

# Frames kept to copy a snapshot from: a track's best frame may be from before it was confirmed
# (confirmHits is at most 100 frames).
RECENT_FRAMES = 128

# (the frame, the track's snapshot) -> its pixels copied out of the ring at once, or None (none to be had)
SnapshotGrabber = Callable[[FrameRef, Snapshot], HeldSnapshot | None]
# (event id, a held snapshot) -> where it was written, or None (the event keeps the one it had)
SnapshotKeeper = Callable[[str, HeldSnapshot], SnapshotRef | None]


def millisecond(at: float) -> int:
    return math.floor(at * 1000)


@dataclass(frozen=True)
class FrameResult:
    messages: list[TrackEvent]
    stale: bool = False  # not newer than a frame already tracked (or tracked before a restart): ignored


class CameraTracks:
    def __init__(self, camera_id: str, config: EventTrackerConfig, grab_snapshot: SnapshotGrabber,
                 keep_snapshot: SnapshotKeeper, *, tracked_until: float | None = None) -> None:
        """``tracked_until``: capture time up to which the tracker's previous run tracked this camera
        (frames up to its millisecond are ignored, so no event is tracked twice or gets an id again)."""
        self.camera_id = camera_id
        self._tracker = Tracker(config.tracking)
        self._zones = ZoneMonitor(config.cameras.get(camera_id, CameraZones()))
        self._grab_snapshot = grab_snapshot
        self._keep_snapshot = keep_snapshot
        self._open: dict[int, OpenEvent] = {}
        self._held: dict[int, HeldSnapshot] = {}  # by track id: better pictures not written yet
        self._frames: OrderedDict[str, FrameRef] = OrderedDict()
        self._not_before_ms = millisecond(tracked_until) if tracked_until is not None else None
        self._last_captured_at: float | None = None
        self._last_received = 0.0  # monotonic time the last frame arrived

    @property
    def open_events(self) -> int:
        return len(self._open)

    @property
    def idle(self) -> bool:
        """No track of any state: dropping this camera's state loses nothing but its clock."""
        return not self._tracker.tracks

    def on_frame(self, detections: Detections, config: EventTrackerConfig, received: float,
                 sent_at: float) -> FrameResult:
        """Track one frame's detections (``received``: monotonic time it arrived; ``sent_at``: wall time)."""
        frame = detections.frame
        at = frame.captured_at
        if self._not_before_ms is not None and millisecond(at) <= self._not_before_ms:
            return FrameResult([], stale=True)
        self._configure(config)
        step = self._tracker.update(at, observations(detections.detections, detections.candidates or ()),
                                    frame.frame_id)
        if step.stale:
            return FrameResult([], stale=True)
        self._last_captured_at, self._last_received = at, received
        self._remember(frame)
        messages = self._end(step.ended, sent_at)
        for track in step.started:
            self._open[track.id] = OpenEvent(event_id(self.camera_id, track.first_seen, track.id), self.camera_id,
                                             track.id, self._request_of(track, frame))
        self._grab_snapshots(step)
        started = {track.id for track in step.started}
        for track in step.seen:
            event = self._open.get(track.id)
            if event is None:
                continue
            moved = event.visit(self._zones.observe(track.id, track.label, track.anchor, at))
            summary = self._zones.summary(track.id)
            if track.id in started:
                messages.append(self._message(event, "start", track, summary, sent_at=sent_at))
            elif moved or track.last_seen - event.sent_last_seen >= config.update_interval_s:
                messages.append(self._message(event, "update", track, summary, sent_at=sent_at))
        return FrameResult(messages)

    def expire(self, now: float, sent_at: float) -> list[TrackEvent]:
        """End the events unseen for endAfterS by the camera's clock (``now``: monotonic)."""
        if self._last_captured_at is None:
            return []
        return self._end(self._tracker.expire(self._last_captured_at + (now - self._last_received)).ended, sent_at)

    def end_all(self, reason: str, now: float, sent_at: float) -> list[TrackEvent]:
        """End every open event (the tracker stops)."""
        if self._last_captured_at is None:
            return []
        at = self._last_captured_at + max(0.0, now - self._last_received)
        return self._end(self._tracker.end_all(at, reason).ended, sent_at)

    # internals ---------------------------------------------------------------------------------------
    def _configure(self, config: EventTrackerConfig) -> None:
        """Live settings: applied from this frame on."""
        self._tracker.settings = config.tracking
        zones = config.cameras.get(self.camera_id, CameraZones())
        if zones != self._zones.zones:
            self._zones.reconfigure(zones)

    def _remember(self, frame: FrameRef) -> None:
        self._frames[frame.frame_id] = frame
        while len(self._frames) > RECENT_FRAMES:
            self._frames.popitem(last=False)

    def _request_of(self, track: Track, frame: FrameRef) -> str | None:
        """The capture request of the track's first frame (the confirming one's if it is gone)."""
        first = next((f for f in self._frames.values() if f.captured_at == track.first_seen), frame)
        return first.request_id

    def _grab_snapshots(self, step: Step) -> None:
        for track in step.snapshots:
            event = self._open.get(track.id)
            if event is None or track.snapshot is None or track.snapshot.frame_id is None:
                continue
            frame = self._frames.get(track.snapshot.frame_id)
            if frame is None:
                continue
            held = self._grab_snapshot(frame, track.snapshot)
            if held is not None:
                self._held[track.id] = held

    def _message(self, event: OpenEvent, kind: EventKind, track: Track, summary: ZoneSummary, *, sent_at: float,
                 end_reason: EndReason | None = None) -> TrackEvent:
        """The event's next message, with the better picture held for it written first."""
        held = self._held.pop(track.id, None)
        if held is not None:
            written = self._keep_snapshot(event.event_id, held)
            if written is not None:
                event.snapshot = written
        return event.message(kind, track, summary, sent_at, end_reason=end_reason)

    def _end(self, ended: tuple[Track, ...], sent_at: float) -> list[TrackEvent]:
        messages = []
        for track in ended:
            event = self._open.pop(track.id, None)
            summary = self._zones.forget(track.id)
            if event is not None:
                messages.append(self._message(event, "end", track, summary, sent_at=sent_at,
                                              end_reason=track.end_reason))
            self._held.pop(track.id, None)
        return messages
