"""A captured frame, as CameraIngest hands it to SsdInference on local pub/sub."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from smartcam.contracts.base import Contract, Count, EpochSeconds, Identifier, RequestId, Unit

MAX_MOTION_REGIONS = 16
# [x1, y1, x2, y2], normalized 0..1 from the top left: a row rather than an object keeps a frame
# reference small. JSON has no tuple: only the container is read laxly, never its items.
MotionRegion = Annotated[tuple[Unit, Unit, Unit, Unit], Field(strict=False)]
# Why CameraIngest's motion gate let a frame through: it moved; nothing moved but a keep-alive was due;
# or the gate had no background yet (its first frame, a new frame size, new settings).
GatePass = Literal["motion", "keep_alive", "start"]


# How a frame's pixels are laid out in its ring slot: 8-bit B, G, R per pixel, rows top to bottom.
PixelFormat = Literal["bgr8"]
MAX_RING_SLOTS = 100_000


class FrameRef(Contract):
    """A captured frame, handed over by reference: its raw pixels are in slot ``slot`` of camera
    ``camera_id``'s ring file for ``width`` x ``height`` ``format`` frames (smartcam.frames), as long as
    the slot still holds frame ``sequence``."""

    schema_: Literal["smartcam.frame/2"] = Field("smartcam.frame/2", alias="schema")
    frame_id: Identifier
    camera_id: Identifier
    slot: Annotated[int, Field(ge=0, lt=MAX_RING_SLOTS)]
    sequence: Count
    captured_at: EpochSeconds  # wall clock
    captured_monotonic_ns: Count
    width: Annotated[int, Field(gt=0, le=16384)]
    height: Annotated[int, Field(gt=0, le=16384)]
    format: PixelFormat
    request_id: RequestId | None = None
    # Sent again by CameraIngest's outbox (the first send got no receipt): inference serves it from a
    # backlog behind live frames instead of dropping it under the newest-frame policy. Absent on a
    # first send, so a first send costs no bytes (nucleus lite decodes few JSON objects).
    resent: Literal[True] | None = None
    # Both absent when no motion gate looked at the frame (the camera's gate is off, a snapshot, a
    # command that turned it off). ``motion``: where it moved, the largest changed regions first, only
    # with ``gate`` "motion".
    gate: GatePass | None = None
    motion: Annotated[list[MotionRegion], Field(min_length=1, max_length=MAX_MOTION_REGIONS)] | None = None

    @field_validator("motion")
    @classmethod
    def _ordered_corners(cls, value: list[tuple[float, float, float, float]] | None
                         ) -> list[tuple[float, float, float, float]] | None:
        for x1, y1, x2, y2 in value or ():
            if x1 > x2 or y1 > y2:
                raise ValueError("motion region corners out of order (x1 <= x2 and y1 <= y2)")
        return value

    @model_validator(mode="after")
    def _motion_only_with_motion(self) -> FrameRef:
        if (self.motion is not None) != (self.gate == "motion"):
            raise ValueError('motion regions come with gate "motion" and only with it')
        return self
