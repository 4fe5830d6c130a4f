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
    # frames the capture takes at its rate, those its motion gate keeps back included, so a capture
    # takes as long as it says whatever moves
    frames: Annotated[int, Field(gt=0, le=1_000_000)] | None = None
    fps: Annotated[float, Field(gt=0, le=240, allow_inf_nan=False)] | None = None
    interval_s: Seconds | None = None
    # capture and start follow the camera's motion gate; false turns it off for this request (every
    # frame goes on), true insists on it (refused when the camera's gate is off). A snapshot is never gated.
    motion_gate: bool | None = None

    @model_validator(mode="after")
    def _consistent(self) -> CaptureCommand:
        if self.action == "capture" and (self.duration_s is None) == (self.frames is None):
            raise ValueError("capture needs exactly one of duration_s or frames")
        if self.action in ("stop", "snapshot") and any(
            v is not None for v in (self.duration_s, self.frames, self.fps, self.interval_s, self.motion_gate)
        ):
            raise ValueError(f"{self.action} takes no duration_s, frames, fps, interval_s or motion_gate")
        if self.action == "start" and (self.duration_s is not None or self.frames is not None):
            raise ValueError("start takes interval_s or fps, not duration_s or frames")
        return self


class CaptureStatus(Contract):
    """A reply to a capture command. ``frames_captured``: frames that left the camera process (each
    published as a FrameRef and accounted for in ``accounting``). ``frames_gated``: frames the camera's
    motion gate kept back, beside those and not among them (never encoded, never published); absent
    when no gate looked at the capture's frames (the gate off, a snapshot, ``motion_gate: false``) or
    when a restart lost the count."""

    schema_: Literal["smartcam.capture-status/1"] = Field("smartcam.capture-status/1", alias="schema")
    state: Literal["accepted", "rejected", "progress", "finished", "error"]
    request_id: RequestId | None = None
    camera_id: Identifier | None = None
    reason: Detail | None = None
    frames_captured: Count | None = None
    frames_requested: Count | None = None
    frames_gated: Count | None = None
    # On the final status (finished, error): what became of each frame captured.
    accounting: FrameAccounting | None = None
    at: EpochSeconds
