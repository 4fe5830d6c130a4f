"""A component's health (local pub/sub ``smartcam/health/<component>``) and its problem status (IoT
Core ``smartcam/<thing>/status/<component>``): one model for both."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from smartcam.contracts.base import Contract, Count, Detail, EpochSeconds, Identifier

HealthState = Literal["ok", "degraded", "errored"]


class Health(Contract):
    """Periodic health of a component; ``counters`` are monotonically increasing."""

    schema_: Literal["smartcam.health/1"] = Field("smartcam.health/1", alias="schema")
    component: Identifier
    state: HealthState
    detail: Detail | None = None
    counters: dict[Annotated[str, Field(max_length=64)], Count] = Field(default_factory=dict, max_length=64)
    at: EpochSeconds
