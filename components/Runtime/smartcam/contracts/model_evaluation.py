"""A model's figures on a labeled evaluation set: what ``python -m model_packaging evaluate`` writes and what
the publish gate records beside smartcam.SsdModelStore (``evaluation.json``) and compares a new model with."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from smartcam.contracts.base import Contract, Count, Identifier, Milliseconds, Unit

EVALUATION_SCHEMA = "smartcam.evaluation/1"
EVALUATION_RECORD_SCHEMA = "smartcam.evaluation-record/1"
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Name = Annotated[str, Field(min_length=1, max_length=256)]


class EvaluatedModel(Contract):
    name: Identifier
    version: Annotated[str, Field(min_length=1, max_length=64)]
    manifest_sha256: Sha256  # of model.json, which lists the sha256 of every other file of the bundle
    backend: Identifier  # what ran it: the backend and, when it has several builds, the build
    variant: Identifier | None = None


class EvaluationSet(Contract):
    manifest: Name  # the Ground Truth manifest, as given
    manifest_sha256: Sha256
    images: Count
    boxes: Count


class EvaluationProtocol(Contract):
    """How the figures were computed, so two evaluations are only compared when they agree."""

    iou: Unit  # a detection matches a truth box at this IoU or more
    score_threshold: Unit  # precision and recall count detections scored this or more
    nms_iou_threshold: Unit
    ap_min_score: Unit  # AP is computed over every detection scored this or more
    max_detections: Annotated[int, Field(ge=1, le=1000)]  # per image, after NMS
    ap: Literal["voc-all-point"]  # PASCAL VOC 2010+ AP: area under the all-point interpolated PR curve


class ClassFigures(Contract):
    label: Name
    truth: Count  # truth boxes of the class in the set
    true_positives: Count  # at score_threshold
    false_positives: Count
    false_negatives: Count
    precision: Unit  # 1.0 when nothing was detected
    recall: Unit  # 1.0 when the set has no box of the class
    ap50: Unit | None  # None when the set has no box of the class


class FrameTiming(Contract):
    """Preprocessing, inference and decoding of one frame (image decoding excluded), after one warm-up."""

    frames: Count
    median_ms: Milliseconds
    mean_ms: Milliseconds


class ModelEvaluation(Contract):
    schema_: Literal["smartcam.evaluation/1"] = Field(EVALUATION_SCHEMA, alias="schema")
    model: EvaluatedModel
    evaluation_set: EvaluationSet
    protocol: EvaluationProtocol
    classes: Annotated[list[ClassFigures], Field(min_length=1, max_length=1000)]
    ms_per_frame: FrameTiming
    evaluated_at: Annotated[str, Field(max_length=64)]  # ISO 8601, UTC

    def figures(self, label: str) -> ClassFigures | None:
        return next((figures for figures in self.classes if figures.label == label), None)


class EvaluationRecord(Contract):
    """The figures of the model smartcam.SsdModelStore ships (``current``) and of the one it replaced."""

    schema_: Literal["smartcam.evaluation-record/1"] = Field(EVALUATION_RECORD_SCHEMA, alias="schema")
    current: ModelEvaluation
    previous: ModelEvaluation | None = None
