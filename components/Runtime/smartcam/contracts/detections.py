"""What SsdInference found in a frame: the full message on local pub/sub (to DynamoWriter) and the
compact summary it sends to IoT Core."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from smartcam.contracts.base import (
    MAX_COUNT,
    Contract,
    Count,
    EpochSeconds,
    Identifier,
    Milliseconds,
    RequestId,
    Unit,
)
from smartcam.contracts.frames import FrameRef

Label = Annotated[str, Field(min_length=1, max_length=64)]
Backend = Literal["dlr", "onnxruntime", "litert"]


class Box(Contract):
    """Normalized corners, 0..1, x1 <= x2 and y1 <= y2."""

    x1: Unit
    y1: Unit
    x2: Unit
    y2: Unit

    @model_validator(mode="after")
    def _ordered(self) -> Box:
        if self.x1 > self.x2 or self.y1 > self.y2:
            raise ValueError("box corners out of order")
        return self


class Detection(Contract):
    label: Label
    class_id: Count
    score: Unit
    box: Box


class StageLatency(Contract):
    """Milliseconds spent per stage of inference for one frame. ``queue_ms``: from capture to the
    start of inference (publish, IPC, waiting behind other frames); absent from older senders."""

    queue_ms: Milliseconds | None = None
    read_ms: Milliseconds
    preprocess_ms: Milliseconds
    infer_ms: Milliseconds
    postprocess_ms: Milliseconds


class ModelInfo(Contract):
    name: Identifier
    version: Annotated[str, Field(min_length=1, max_length=64)]
    backend: Backend
    #: which build of the model ran (e.g. ``dlr-avx512``); absent when the backend has one build only
    variant: Identifier | None = None


MAX_DETECTIONS = 1000


class Detections(Contract):
    """One frame's detections. ``detections`` are the results: what is stored, counted, summarised and
    drawn.

    ``candidates`` are not results: the detections scored from SsdInference's trackingScoreThreshold
    up to its scoreThreshold, after the same allow-list, minimum area and NMS (none overlaps a result
    of its class), best first. Nothing stores, counts or summarises them; they are hints for a tracker
    (ByteTrack's second association: a half-hidden person's weak detection continues their track).
    Absent when there are none, so a message without them is what it was before they existed and the
    schema stays ``smartcam.detections/1``: an older message is still valid."""

    schema_: Literal["smartcam.detections/1"] = Field("smartcam.detections/1", alias="schema")
    frame: FrameRef
    detections: Annotated[list[Detection], Field(max_length=MAX_DETECTIONS)]
    candidates: Annotated[list[Detection], Field(min_length=1, max_length=MAX_DETECTIONS)] | None = None
    model: ModelInfo
    latency: StageLatency
    inferred_at: EpochSeconds


# [label, score, x1, y1, x2, y2]: a row rather than an object keeps a summary small on IoT Core.
# JSON has no tuple: the row arrives as a list, so only the container is read laxly, never its items.
SummaryBox = Annotated[
    tuple[Label, Unit, Unit, Unit, Unit, Unit], Field(strict=False)
]


class DetectionSummary(Contract):
    """The compact form of :class:`Detections` for IoT Core: counts per label and the best boxes.

    ``frames``: the frames of this camera inferred since the previous summary of it was sent, this one
    included (more than 1 when frames without detections were not summarised, ``iotSummary.includeEmpty``
    off), so a reader counts detections per inferred frame either way. Absent from older senders (read
    it as 1); optional, so the schema stays ``smartcam.detection-summary/1``."""

    schema_: Literal["smartcam.detection-summary/1"] = Field("smartcam.detection-summary/1", alias="schema")
    frame_id: Identifier
    camera_id: Identifier
    request_id: RequestId | None = None  # the capture command the frame answers (None: scheduled captures)
    captured_at: EpochSeconds
    model: Annotated[str, Field(min_length=3, max_length=193, pattern=r"^[^@]+@[^@]+$")]  # name@version
    backend: Backend
    count: Count  # every detection, also those beyond ``boxes``
    labels: dict[Label, Count]
    boxes: Annotated[list[SummaryBox], Field(max_length=1000)]
    infer_ms: Milliseconds
    frames: Annotated[int, Field(ge=1, le=MAX_COUNT)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> DetectionSummary:
        if sum(self.labels.values()) != self.count or len(self.boxes) > self.count:
            raise ValueError("labels must add up to count, and boxes cannot be more than count")
        return self
