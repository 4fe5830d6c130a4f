"""``TrackEvent`` messages from the tracker's tracks: one event per confirmed track.

Each message is the whole event as of then (:mod:`smartcam.contracts.events`); :class:`OpenEvent`
keeps what the track itself does not: the event's id and sequence, the capture request it began in,
when it entered and left zones, and its snapshot on disk.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from event_tracker.tracker import Track
from event_tracker.zones import Change, ZoneChange, ZoneSummary
from smartcam.contracts import (
    MAX_EVENT_ZONES,
    EndReason,
    EventKind,
    LineCrossings,
    SnapshotRef,
    TrackEvent,
    ZoneVisit,
    parse,
)

MAX_ID = 128  # an Identifier's length
_DIGEST = 12


def event_id(camera_id: str, first_seen: float, track_id: int) -> str:
    """``<camera>.<first seen, ms>.<track id>``: the same track always gets the same id, and no two tracks
    of a camera share one (ids count per tracker, and a restarted tracker only takes frames captured in a
    later millisecond than anything its predecessor tracked). A camera id too long to fit is shortened to
    its start and a digest of the whole."""
    tail = f".{round(first_seen * 1000)}.{track_id}"
    camera = camera_id
    if len(camera) + len(tail) > MAX_ID:
        digest = hashlib.sha256(camera_id.encode()).hexdigest()[:_DIGEST]
        camera = f"{camera_id[: MAX_ID - len(tail) - _DIGEST - 1]}-{digest}"
    return camera + tail


@dataclass
class _Visit:
    zone: str
    entered: float
    left: float | None = None


@dataclass
class OpenEvent:
    """An event whose ``end`` has not been sent. ``sequence`` is that of its last message."""

    event_id: str
    camera_id: str
    track_id: int
    request_id: str | None
    sequence: int = -1
    sent_last_seen: float = 0.0  # the track's last_seen in the last message
    snapshot: SnapshotRef | None = None
    visits: list[_Visit] = field(default_factory=list)

    def visit(self, changes: Iterable[ZoneChange]) -> bool:
        """Record zones entered and left; True when there was any change (lines included)."""
        changed = False
        for change in changes:
            changed = True
            if change.change == Change.ENTERED:
                self._enter(change.name, change.at)
            elif change.change == Change.LEFT:
                open_visit = next((v for v in reversed(self.visits) if v.zone == change.name and v.left is None), None)
                if open_visit is not None:
                    open_visit.left = change.at
        return changed

    def _enter(self, zone: str, at: float) -> None:
        if len(self.visits) < MAX_EVENT_ZONES:
            self.visits.append(_Visit(zone, at))
            return
        # Full: the zone's last visit goes on (a person pacing in and out of one zone all day).
        last = next((v for v in reversed(self.visits) if v.zone == zone), None)
        if last is not None:
            last.left = None

    def message(self, kind: EventKind, track: Track, zones: ZoneSummary, sent_at: float,
                end_reason: EndReason | None = None) -> TrackEvent:
        """The next message of this event (its sequence rises by one)."""
        self.sequence += 1
        self.sent_last_seen = track.last_seen
        ended = kind == "end"
        return TrackEvent(
            event_id=self.event_id, kind=kind, sequence=self.sequence, camera_id=self.camera_id, track_id=track.id,
            label=track.label, request_id=self.request_id, first_seen=track.first_seen, last_seen=track.last_seen,
            duration_s=track.last_seen - track.first_seen, best_score=track.best_score, frames=track.hits,
            path=[(point.at, *point.box) for point in track.path],
            zones=[ZoneVisit(zone=v.zone, entered=v.entered,
                             left=track.last_seen if ended and v.left is None else v.left) for v in self.visits],
            lines=[LineCrossings(line=name, crossed_in=counts[Change.CROSSED_IN],
                                 crossed_out=counts[Change.CROSSED_OUT]) for name, counts in zones.crossings.items()],
            snapshot=self.snapshot, end_reason=end_reason if ended else None, sent_at=sent_at,
        )


def ended_by_restart(last: TrackEvent, sent_at: float) -> TrackEvent:
    """The ``end`` of an event the tracker's previous run left open: as it was last sent, its sequence
    continued, zones still inside left when it was last seen."""
    message = last.to_message()
    message.update(kind="end", sequence=last.sequence + 1, end_reason="restarted", sent_at=sent_at)
    message["zones"] = [{**zone, "left": zone.get("left", last.last_seen)} for zone in message.get("zones", [])]
    return parse(TrackEvent, message)

