"""Capture commands (from an operator on IoT Core or a local peer) and CameraIngest's replies."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from smartcam.contracts.base import Contract, Count, Detail, EpochSeconds, Identifier, RequestId
from smartcam.contracts.receipts import FrameAccounting

Seconds = Annotated[float, Field(gt=0, le=86_400, allow_inf_nan=False)]


class CaptureCommand(Contract):
    """A command from an operator (IoT Core) or a local peer. Cameras are chosen by configured id;
    no path or URL is ever accepted from outside. Upper bounds are enforced by the component's
    configuration (see camera_ingest), the ones here only refuse nonsense."""

    schema_: Literal["smartcam.capture/1"] = Field("smartcam.capture/1", alias="schema")
    action: Literal["capture", "start", "stop", "snapshot"]
    camera_id: Identifier
    request_id: RequestId | None = None
    duration_s: Seconds | None = None
    frames: Annotated[int, Field(gt=0, le=1_000_000)] | None = None
    fps: Annotated[float, Field(gt=0, le=240, allow_inf_nan=False)] | None = None
    interval_s: Seconds | None = None

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
    reason: Detail | None = None
    frames_captured: Count | None = None
    frames_requested: Count | None = None
    # On the final status (finished, error): what became of each frame captured.
    accounting: FrameAccounting | None = None
    at: EpochSeconds
