"""Every message and file the smartcam processes exchange: one strict pydantic model each.

Use :func:`parse` on anything that arrives from a peer; build what you send as a contract (IPC
publishes contracts only). By topic:

- frames: :class:`FrameRef` (CameraIngest -> SsdInference), with the motion gate's verdict and regions
- detections: :class:`Detections` (SsdInference -> DynamoWriter, EventTracker; with weak candidates for the
  tracker), :class:`DetectionSummary` (-> IoT Core)
- capture: :class:`CaptureCommand` (operator -> CameraIngest), :class:`CaptureStatus` (its replies)
- health: :class:`Health` (every component: health on local pub/sub, problem status on IoT Core)
- events: :class:`TrackEvent` (EventTracker -> DynamoWriter, IoT Core), :class:`EventReceipt` (in Receipts)
- captures: :class:`DataCapture` (EventTracker -> DynamoWriter: frames for labeling), :class:`CaptureReceipt`
  (in Receipts), :class:`CapturePredictions` (the predictions file in S3)
- receipts: :class:`Receipts` (each stage -> the stages before it), :class:`FrameAccounting`
- writer: :class:`WriterReport` (DynamoWriter -> IoT Core)
- metrics: :class:`MetricPut` (every component -> AWS's ``aws.greengrass.Cloudwatch``; AWS's format, no
  ``schema``), :class:`MetricPutStatus` (its replies)
- model_manifest: :class:`ModelManifest`, ``model.json`` (model_packaging -> SsdModelStore -> SsdInference)
- model_evaluation: :class:`ModelEvaluation`, :class:`EvaluationRecord` (model_packaging evaluate -> the publish gate)
"""

from smartcam.contracts.base import (
    MAX_MESSAGE_BYTES,
    Contract,
    ContractError,
    Identifier,
    RequestId,
    Unit,
    parse,
)
from smartcam.contracts.capture import CaptureCommand, CaptureStatus
from smartcam.contracts.captures import (
    CAPTURE_REASONS,
    MAX_CAPTURE_PREDICTIONS,
    CapturePredictions,
    CaptureReason,
    CaptureReceipt,
    DataCapture,
)
from smartcam.contracts.detections import (
    Box,
    Detection,
    Detections,
    DetectionSummary,
    ModelInfo,
    StageLatency,
)
from smartcam.contracts.events import (
    MAX_EVENT_ZONES,
    MAX_PATH_POINTS,
    EndReason,
    EventKind,
    EventReceipt,
    LineCrossings,
    SnapshotRef,
    TrackEvent,
    ZoneVisit,
)
from smartcam.contracts.frames import MAX_MOTION_REGIONS, FrameRef, GatePass, MotionRegion
from smartcam.contracts.health import Health, HealthState
from smartcam.contracts.metrics import UNITS, Dimension, MetricDatum, MetricPut, MetricPutStatus, MetricRequest
from smartcam.contracts.model_evaluation import (
    EVALUATION_RECORD_SCHEMA,
    EVALUATION_SCHEMA,
    ClassFigures,
    EvaluatedModel,
    EvaluationProtocol,
    EvaluationRecord,
    EvaluationSet,
    FrameTiming,
    ModelEvaluation,
)
from smartcam.contracts.model_manifest import (
    DECODER_TYPES,
    MANIFEST_FILE,
    MAX_MODEL_BUNDLE_BYTES,
    MAX_MODEL_FILE_BYTES,
    MODEL_SCHEMA,
    DecoderSpec,
    InputSpec,
    ModelFile,
    ModelManifest,
    NeoJob,
    Normalization,
    RuntimeSpec,
    describe_file,
    sha256_file,
)
from smartcam.contracts.receipts import (
    MAX_RECEIPTS,
    OUTCOMES,
    FrameAccounting,
    FrameReceipt,
    Outcome,
    Receipts,
)
from smartcam.contracts.writer import MAX_CONFIRMATIONS, Confirmation, EventSpoolDepth, SpoolDepth, WriterReport

__all__ = [
    "CAPTURE_REASONS",
    "DECODER_TYPES",
    "EVALUATION_RECORD_SCHEMA",
    "EVALUATION_SCHEMA",
    "MANIFEST_FILE",
    "MAX_CAPTURE_PREDICTIONS",
    "MAX_CONFIRMATIONS",
    "MAX_EVENT_ZONES",
    "MAX_MESSAGE_BYTES",
    "MAX_MODEL_BUNDLE_BYTES",
    "MAX_MODEL_FILE_BYTES",
    "MAX_MOTION_REGIONS",
    "MAX_PATH_POINTS",
    "MAX_RECEIPTS",
    "MODEL_SCHEMA",
    "OUTCOMES",
    "UNITS",
    "Box",
    "CaptureCommand",
    "CapturePredictions",
    "CaptureReason",
    "CaptureReceipt",
    "CaptureStatus",
    "ClassFigures",
    "Confirmation",
    "Contract",
    "ContractError",
    "DataCapture",
    "DecoderSpec",
    "Detection",
    "DetectionSummary",
    "Detections",
    "Dimension",
    "EndReason",
    "EvaluatedModel",
    "EvaluationProtocol",
    "EvaluationRecord",
    "EvaluationSet",
    "EventKind",
    "EventReceipt",
    "EventSpoolDepth",
    "FrameAccounting",
    "FrameReceipt",
    "FrameRef",
    "FrameTiming",
    "GatePass",
    "Health",
    "HealthState",
    "Identifier",
    "InputSpec",
    "LineCrossings",
    "MetricDatum",
    "MetricPut",
    "MetricPutStatus",
    "MetricRequest",
    "ModelEvaluation",
    "ModelFile",
    "ModelInfo",
    "ModelManifest",
    "MotionRegion",
    "NeoJob",
    "Normalization",
    "Outcome",
    "Receipts",
    "RequestId",
    "RuntimeSpec",
    "SnapshotRef",
    "SpoolDepth",
    "StageLatency",
    "TrackEvent",
    "Unit",
    "WriterReport",
    "ZoneVisit",
    "describe_file",
    "parse",
    "sha256_file",
]
