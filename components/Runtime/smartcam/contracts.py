"""The one message contract of the pipeline.

Every message between components, and every command from outside, is one of these models. Each
carries ``schema`` (name and version) so a receiver can refuse what it does not understand with a
clear reason instead of guessing. Use :func:`parse` on anything that arrives from a peer.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

SCHEMA_VERSION = 1

Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
RequestId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
Unit = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


class ContractError(ValueError):
    """A message that does not follow the contract; ``str()`` says why, for logs and status replies."""


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    def to_message(self) -> dict[str, Any]:
        """The JSON object that goes on the wire (IPC ``jsonMessage.message`` is a map)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_message(), separators=(",", ":")).encode()


class FrameRef(Contract):
    """A captured frame, handed over by reference: the JPEG lives in the ring at ``path``."""

    schema_: Literal["smartcam.frame/1"] = Field("smartcam.frame/1", alias="schema")
    frame_id: Identifier
    camera_id: Identifier
    path: Annotated[str, Field(min_length=1, max_length=4096)]
    sequence: Annotated[int, Field(ge=0)]
    captured_at: Annotated[float, Field(gt=0, allow_inf_nan=False)]  # wall clock, epoch seconds
    captured_monotonic_ns: Annotated[int, Field(ge=0)]
    width: Annotated[int, Field(gt=0, le=16384)]
    height: Annotated[int, Field(gt=0, le=16384)]
    request_id: RequestId | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)

    @field_validator("path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        if not value.startswith("/") or "\x00" in value or "/../" in value + "/":
            raise ValueError("must be an absolute path without '..' or NUL")
        return value


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
    label: Annotated[str, Field(min_length=1, max_length=64)]
    class_id: Annotated[int, Field(ge=0)]
    score: Unit
    box: Box


class StageLatency(Contract):
    """Milliseconds spent per stage of inference for one frame. ``queue_ms``: from capture to the
    start of inference (publish, IPC, waiting behind other frames); absent from older senders."""

    queue_ms: Annotated[float, Field(ge=0)] | None = None
    read_ms: Annotated[float, Field(ge=0)]
    preprocess_ms: Annotated[float, Field(ge=0)]
    infer_ms: Annotated[float, Field(ge=0)]
    postprocess_ms: Annotated[float, Field(ge=0)]


class ModelInfo(Contract):
    name: Identifier
    version: Annotated[str, Field(min_length=1, max_length=64)]
    backend: Literal["dlr", "onnxruntime", "litert"]


class Detections(Contract):
    schema_: Literal["smartcam.detections/1"] = Field("smartcam.detections/1", alias="schema")
    frame: FrameRef
    detections: Annotated[list[Detection], Field(max_length=1000)]
    model: ModelInfo
    latency: StageLatency
    inferred_at: Annotated[float, Field(gt=0, allow_inf_nan=False)]

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)


class CaptureCommand(Contract):
    """A command from an operator (IoT Core) or a local peer. Cameras are chosen by configured id;
    no path or URL is ever accepted from outside. Upper bounds are enforced by the component's
    configuration (see camera_ingest), the ones here only refuse nonsense."""

    schema_: Literal["smartcam.capture/1"] = Field("smartcam.capture/1", alias="schema")
    action: Literal["capture", "start", "stop", "snapshot"]
    camera_id: Identifier
    request_id: RequestId | None = None
    duration_s: Annotated[float, Field(gt=0, le=86_400, allow_inf_nan=False)] | None = None
    frames: Annotated[int, Field(gt=0, le=1_000_000)] | None = None
    fps: Annotated[float, Field(gt=0, le=240, allow_inf_nan=False)] | None = None
    interval_s: Annotated[float, Field(gt=0, le=86_400, allow_inf_nan=False)] | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)

    @model_validator(mode="after")
    def _consistent(self) -> CaptureCommand:
        if self.action == "capture" and (self.duration_s is None) == (self.frames is None):
            raise ValueError("capture needs exactly one of duration_s or frames")
        if self.action in ("stop", "snapshot") and any(
            v is not None for v in (self.duration_s, self.frames, self.fps, self.interval_s)
        ):
            raise ValueError(f"{self.action} takes no duration_s, frames, fps or interval_s")
        if self.action == "start" and (self.duration_s is not None or self.frames is not None):
            raise ValueError("start takes interval_s or fps, not duration_s or frames")
        return self


class CaptureStatus(Contract):
    schema_: Literal["smartcam.capture-status/1"] = Field("smartcam.capture-status/1", alias="schema")
    state: Literal["accepted", "rejected", "progress", "finished", "error"]
    request_id: RequestId | None = None
    camera_id: Identifier | None = None
    reason: Annotated[str, Field(max_length=1024)] | None = None
    frames_captured: Annotated[int, Field(ge=0)] | None = None
    frames_requested: Annotated[int, Field(ge=0)] | None = None
    at: Annotated[float, Field(gt=0, allow_inf_nan=False)]

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)


class Health(Contract):
    """Periodic health of a component on local pub/sub; ``counters`` are monotonically increasing."""

    schema_: Literal["smartcam.health/1"] = Field("smartcam.health/1", alias="schema")
    component: Identifier
    state: Literal["ok", "degraded", "errored"]
    detail: Annotated[str, Field(max_length=1024)] | None = None
    counters: dict[Annotated[str, Field(max_length=64)], Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict, max_length=64
    )
    at: Annotated[float, Field(gt=0, allow_inf_nan=False)]

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)


M = TypeVar("M", bound=Contract)

MAX_MESSAGE_BYTES = 128 * 1024  # a device's default IPC message limit


def parse(model: type[M], data: Any) -> M:
    """Validate ``data`` (a dict, JSON text or JSON bytes) as ``model``; raise ContractError."""
    if isinstance(data, bytes | bytearray | memoryview):
        if len(data) > MAX_MESSAGE_BYTES:
            raise ContractError(f"message of {len(data)} bytes is over the {MAX_MESSAGE_BYTES}-byte limit")
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ContractError(f"message is not UTF-8: {exc}") from None
    if isinstance(data, str):
        try:
            data = json.loads(data, parse_constant=_refuse_constant)
        except (json.JSONDecodeError, ValueError) as exc:
            raise ContractError(f"message is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ContractError(f"message must be a JSON object, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ContractError(_describe(model, exc)) from None
    except RecursionError:
        raise ContractError("message is nested too deeply") from None


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed")


def _describe(model: type[Contract], exc: ValidationError) -> str:
    problems = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "message"
        problems.append(f"{where}: {err['msg']}")
    more = exc.error_count() - len(problems)
    suffix = f" (+{more} more)" if more > 0 else ""
    return f"invalid {model.__name__}: " + "; ".join(problems) + suffix
