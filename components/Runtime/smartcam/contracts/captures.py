"""Data capture for labeling: frames EventTracker's capture policy picked, on their way to S3.

:class:`DataCapture` goes from EventTracker to DynamoWriter on ``smartcam/data-captures``: the frame
(a JPEG EventTracker copied out of the ring into its work folder, named by path, as a snapshot is)
and what the model predicted in it. DynamoWriter answers with a :class:`CaptureReceipt` in its
``Receipts`` (``captures``) once the capture is in its durable spool; EventTracker keeps the capture
in a durable outbox until then. The frame id is the capture's identity: a frame is captured once.

:class:`CapturePredictions` is the file DynamoWriter puts beside the JPEG in S3: the model's
predictions as they came (normalized boxes, results and weak candidates), for training pipelines
and audits. The Ground Truth form of the same predictions is built by the writer
(``dynamo_writer/ground_truth.py``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from smartcam.contracts.base import Contract, Count, Detail, EpochSeconds, Identifier, RequestId, Unit
from smartcam.contracts.detections import Detection, ModelInfo
from smartcam.contracts.events import SnapshotPath

# uncertain: the frame's best score is in the policy's uncertainty band; new_track: a new track was
# confirmed on this frame (its event starts); random: the policy's random sample drew it.
CaptureReason = Literal["uncertain", "new_track", "random"]
CAPTURE_REASONS: tuple[CaptureReason, ...] = ("uncertain", "new_track", "random")
# Predictions kept per capture, best first (results and candidates each): a full message stays far
# below the 128 KB IPC limit (~110 bytes a prediction).
MAX_CAPTURE_PREDICTIONS = 200
Pixels = Annotated[int, Field(gt=0, le=16384)]


class DataCapture(Contract):
    schema_: Literal["smartcam.data-capture/1"] = Field("smartcam.data-capture/1", alias="schema")
    frame_id: Identifier
    camera_id: Identifier
    request_id: RequestId | None = None  # the capture command of the frame
    captured_at: EpochSeconds
    width: Pixels  # of the JPEG, as the camera encoded it
    height: Pixels
    reasons: Annotated[list[CaptureReason], Field(min_length=1, max_length=len(CAPTURE_REASONS))]
    best_score: Unit | None = None  # of results and candidates; None: the model found nothing
    detections: Annotated[list[Detection], Field(max_length=MAX_CAPTURE_PREDICTIONS)]
    candidates: Annotated[list[Detection], Field(max_length=MAX_CAPTURE_PREDICTIONS)] = []
    model: ModelInfo
    path: SnapshotPath  # the JPEG in EventTracker's captures folder, until the writer receipts it
    bytes: Count
    sent_at: EpochSeconds

    @model_validator(mode="after")
    def _consistent(self) -> DataCapture:
        if len(set(self.reasons)) != len(self.reasons):
            raise ValueError("reasons must not repeat")
        scores = [d.score for d in (*self.detections, *self.candidates)]
        if (self.best_score is None) != (not scores) or (scores and max(scores) != self.best_score):
            raise ValueError("best_score must be the highest score of detections and candidates")
        return self


class CaptureReceipt(Contract):
    """DynamoWriter's word on a capture: ``stored`` once it is in its durable spool (S3 follows from
    there exactly once); ``lost`` when it can be neither spooled nor stored (``detail`` says why)."""

    frame_id: Identifier
    outcome: Literal["stored", "lost"]
    detail: Detail | None = None


class CapturePredictions(Contract):
    """``<frame id>.predictions.json`` beside the captured JPEG in S3."""

    schema_: Literal["smartcam.capture-predictions/1"] = Field("smartcam.capture-predictions/1", alias="schema")
    device: Identifier  # the thing name
    frame_id: Identifier
    camera_id: Identifier
    request_id: RequestId | None = None
    captured_at: EpochSeconds
    width: Pixels
    height: Pixels
    reasons: Annotated[list[CaptureReason], Field(min_length=1, max_length=len(CAPTURE_REASONS))]
    model: ModelInfo
    detections: Annotated[list[Detection], Field(max_length=MAX_CAPTURE_PREDICTIONS)]
    candidates: Annotated[list[Detection], Field(max_length=MAX_CAPTURE_PREDICTIONS)] = []
    image: Annotated[str, Field(min_length=6, max_length=1024, pattern=r"^s3://[^/]+/.+$")]
