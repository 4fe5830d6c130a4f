"""Receipts: what became of each frame, sent back up the pipeline on local pub/sub.

Local pub/sub delivers at most once and keeps nothing for a subscriber that is not running, so no
hand-off relies on it alone. Every stage that decides a frame's fate says so in a :class:`Receipts`
message on ``smartcam/receipts``; each producer keeps what it sent in an outbox
(:mod:`smartcam.handoff`) until the receipt arrives, and sends it again when the next stage
restarts (a new ``instance``) or stays silent too long. Consumers de-duplicate by frame id, so a
message sent twice is handled once and receipted again.

Outcomes, by the stage that decides them:
- ``stored``: DynamoWriter committed the frame's items to its durable spool (DynamoDB follows from
  there exactly once); ``summarized``: the frame had detections, and the writer (store mode
  ``events``) keeps no per-frame items: they live on in the events EventTracker makes of them;
  ``no_detections``: the frame had nothing to store; ``lost``: the writer could neither spool nor
  hold it (``detail`` says why).
- ``dropped``: SsdInference skipped it under its newest-frame policy; ``expired``: the ring had
  recycled its slot before inference read it, or overwrote it while inference read it; ``refused``:
  it could not be used (a reference that does not fit the ring, no usable model; ``detail`` says why).

Events (:mod:`smartcam.contracts.events`) are receipted the same way, by DynamoWriter to
EventTracker, in ``events``; data captures for labeling (:mod:`smartcam.contracts.captures`) in
``captures``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from smartcam.contracts.base import Contract, Count, Detail, EpochSeconds, Identifier, RequestId
from smartcam.contracts.captures import CaptureReceipt
from smartcam.contracts.events import EventReceipt

Outcome = Literal["stored", "summarized", "no_detections", "dropped", "expired", "refused", "lost"]
OUTCOMES: tuple[Outcome, ...] = ("stored", "summarized", "no_detections", "dropped", "expired", "refused", "lost")
MAX_RECEIPTS = 500  # ~100 bytes each: a full message stays far below the 128 KB IPC limit

# A stage run: 32 hex digits, new each time a component process starts.
Instance = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]


class FrameReceipt(Contract):
    frame_id: Identifier
    camera_id: Identifier
    request_id: RequestId | None = None
    outcome: Outcome
    items: Count = 0  # items committed to the spool (``stored``)
    detail: Detail | None = None


class Receipts(Contract):
    """One stage's receipts. An empty list announces a (re)started stage: producers send it what it
    has not receipted yet at once."""

    schema_: Literal["smartcam.receipts/1"] = Field("smartcam.receipts/1", alias="schema")
    stage: Identifier  # the component that decided, e.g. smartcam.DynamoWriter
    instance: Instance
    at: EpochSeconds
    receipts: Annotated[list[FrameReceipt], Field(max_length=MAX_RECEIPTS)]
    # DynamoWriter's receipts for events (absent when there are none, so a message of frame receipts
    # keeps its size).
    events: Annotated[list[EventReceipt], Field(max_length=MAX_RECEIPTS)] | None = None
    # ... and for data captures (absent when there are none).
    captures: Annotated[list[CaptureReceipt], Field(max_length=MAX_RECEIPTS)] | None = None

    @property
    def announcement(self) -> bool:
        """An empty message: the stage's run announces itself."""
        return not self.receipts and not self.events and not self.captures


class FrameAccounting(Contract):
    """What became of every frame of one capture request: the counts add up to the frames captured.
    ``pending``: no receipt yet when the final status went out (the pipeline was still busy or down
    longer than CameraIngest's ``accountWithinS``)."""

    stored: Count = 0
    summarized: Count = 0
    no_detections: Count = 0
    dropped: Count = 0
    expired: Count = 0
    refused: Count = 0
    lost: Count = 0
    pending: Count = 0

    def total(self) -> int:
        return (self.stored + self.summarized + self.no_detections + self.dropped + self.expired + self.refused
                + self.lost + self.pending)
