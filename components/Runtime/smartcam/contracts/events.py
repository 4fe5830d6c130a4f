"""Events: an object followed across frames, from EventTracker to DynamoWriter and to IoT Core.

One event per track. Its messages share the ``event_id`` and carry a ``sequence`` that rises with
each message (``start`` is 0): each is the whole event as of then, so a consumer keeps the one of
highest sequence and a message lost or sent twice changes nothing.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from smartcam.contracts.base import Contract, Count, Detail, EpochSeconds, Identifier, RequestId, Unit
from smartcam.contracts.detections import Box, Label

EventKind = Literal["start", "update", "end"]
# unseen: not detected for the tracker's endAfterS; restarted: the tracker restarted with the event
# open; shutdown: the tracker stopped; reconfigured: the camera's tracking settings changed.
EndReason = Literal["unseen", "restarted", "shutdown", "reconfigured"]
MAX_PATH_POINTS = 64
MAX_EVENT_ZONES = 32
Seconds = Annotated[float, Field(ge=0, lt=1e11, allow_inf_nan=False)]
SnapshotPath = Annotated[str, Field(min_length=2, max_length=4096, pattern=r"^/[^\x00]*$")]

# [time, x1, y1, x2, y2]: a row rather than an object keeps a long path small. JSON has no tuple:
# only the container is read laxly, never its items.
PathPoint = Annotated[tuple[EpochSeconds, Unit, Unit, Unit, Unit], Field(strict=False)]


class ZoneVisit(Contract):
    """A zone the object entered; ``left`` is absent while it is still inside."""

    zone: Identifier
    entered: EpochSeconds
    left: EpochSeconds | None = None


class LineCrossings(Contract):
    """How often the object crossed a line each way ("in": left to right of the line's direction)."""

    line: Identifier
    crossed_in: Count = 0
    crossed_out: Count = 0


class SnapshotRef(Contract):
    """The best picture of the object: the whole frame and a crop around it, JPEG files in
    EventTracker's work folder (readable by the pipeline's user only) until the writer has them."""

    frame_id: Identifier
    captured_at: EpochSeconds
    score: Unit
    box: Box
    path: SnapshotPath
    crop_path: SnapshotPath
    bytes: Count  # of both files together


class TrackEvent(Contract):
    schema_: Literal["smartcam.event/1"] = Field("smartcam.event/1", alias="schema")
    event_id: Identifier
    kind: EventKind
    sequence: Count
    camera_id: Identifier
    track_id: Count
    label: Label
    request_id: RequestId | None = None  # the capture command of the event's first frame
    first_seen: EpochSeconds
    last_seen: EpochSeconds
    duration_s: Seconds
    best_score: Unit
    frames: Count  # frames the object was detected in
    path: Annotated[list[PathPoint], Field(max_length=MAX_PATH_POINTS)]
    zones: Annotated[list[ZoneVisit], Field(max_length=MAX_EVENT_ZONES)] = []
    lines: Annotated[list[LineCrossings], Field(max_length=MAX_EVENT_ZONES)] = []
    snapshot: SnapshotRef | None = None
    end_reason: EndReason | None = None
    sent_at: EpochSeconds

    @model_validator(mode="after")
    def _consistent(self) -> TrackEvent:
        if self.last_seen < self.first_seen:
            raise ValueError("last_seen must not be before first_seen")
        if abs(self.duration_s - (self.last_seen - self.first_seen)) > 1e-3:
            raise ValueError("duration_s must be last_seen - first_seen")
        if (self.kind == "end") != (self.end_reason is not None):
            raise ValueError("end_reason is given on an end message, and only there")
        if self.kind == "start" and self.sequence != 0:
            raise ValueError("a start message has sequence 0")
        return self


class EventReceipt(Contract):
    """DynamoWriter's word on an event: ``stored`` once the event as of ``sequence`` (and its
    snapshot) is committed to its durable spool; ``lost`` when it can be neither spooled nor held."""

    event_id: Identifier
    sequence: Count
    outcome: Literal["stored", "lost"]
    detail: Detail | None = None
