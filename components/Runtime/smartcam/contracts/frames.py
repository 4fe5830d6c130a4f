"""A captured frame, as CameraIngest hands it to SsdInference on local pub/sub."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from smartcam.contracts.base import Contract, Count, EpochSeconds, Identifier, RequestId


class FrameRef(Contract):
    """A captured frame, handed over by reference: the JPEG lives in the ring at ``path``."""

    schema_: Literal["smartcam.frame/1"] = Field("smartcam.frame/1", alias="schema")
    frame_id: Identifier
    camera_id: Identifier
    path: Annotated[str, Field(min_length=1, max_length=4096)]
    sequence: Count
    captured_at: EpochSeconds  # wall clock
    captured_monotonic_ns: Count
    width: Annotated[int, Field(gt=0, le=16384)]
    height: Annotated[int, Field(gt=0, le=16384)]
    request_id: RequestId | None = None
    # Sent again by CameraIngest's outbox (the first send got no receipt): inference serves it from a
    # backlog behind live frames instead of dropping it under the newest-frame policy. Absent on a
    # first send, so a first send costs no bytes (nucleus lite decodes few JSON objects).
    resent: Literal[True] | None = None

    @field_validator("path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        if not value.startswith("/") or "\x00" in value or "/../" in value + "/":
            raise ValueError("must be an absolute path without '..' or NUL")
        return value
