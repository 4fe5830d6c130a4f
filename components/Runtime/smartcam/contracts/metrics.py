"""One metric for AWS's ``aws.greengrass.Cloudwatch`` component, on local pub/sub ``cloudwatch/metric/put``.

This payload has no ``schema`` field, unlike every other contract here: its format is AWS's, defined by
the component's documented input (``{"request": {"namespace", "metricData": {...}}}``, one metric a
message), and the component reads nothing else. :class:`MetricPut` is that format, with the limits the
component and CloudWatch's ``PutMetricData`` enforce checked here, so a bad metric is refused where it
is built and not, later, by AWS:

- ``namespace``: 1-255 characters, not starting with ``:`` nor with the reserved ``AWS/``;
- ``metricName``: 1-255 characters;
- ``dimensions``: at most 10 (the component's limit; PutMetricData alone allows 30), each a ``name``
  (1-255) and a ``value`` (1-1024), both required (the component refuses a dimension without either
  although its page calls them optional), names unique (a metric's dimensions are a map);
- ``value``: a JSON number (never a string or true/false), finite, 0 or of magnitude between
  8.515920e-109 and 1.174271e+108;
- ``timestamp``: optional, Unix epoch **seconds** (a millisecond time is refused: it would be 1000 times
  too far in the future); the component uses the time it received the message when absent;
- ``unit``: optional, one of CloudWatch's :data:`UNITS`.

The component answers on ``cloudwatch/metric/put/status`` (:class:`MetricPutStatus`):
``{"response": {"namespace", "status": "success", "cloudwatch_rid"}}`` or
``{"response": {"namespace", "status": "fail", "error", "error_message"}}``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from smartcam.contracts.base import Contract, EpochSeconds

MAX_DIMENSIONS = 10
MAX_NAME = 255
MAX_DIMENSION_VALUE = 1024
SMALLEST_MAGNITUDE = 8.515920e-109
LARGEST_MAGNITUDE = 1.174271e108

Unit = Literal[
    "Seconds", "Microseconds", "Milliseconds",
    "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
    "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits",
    "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
    "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second",
    "Count/Second", "None",
]  # fmt: skip
UNITS: tuple[str, ...] = Unit.__args__  # type: ignore[attr-defined]

Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]


def _not_reserved(namespace: str) -> str:
    if namespace.startswith("AWS/"):
        raise ValueError("must not start with AWS/ (reserved for AWS services)")
    return namespace


# Also the type of the namespace setting (smartcam.metrics), so a deployment cannot name one the contract refuses.
Namespace = Annotated[str, Field(min_length=1, max_length=MAX_NAME, pattern=r"^[^:]"), AfterValidator(_not_reserved)]


class Dimension(Contract):
    name: Name
    value: Annotated[str, Field(min_length=1, max_length=MAX_DIMENSION_VALUE)]


class MetricDatum(Contract):
    metric_name: Name = Field(alias="metricName")
    dimensions: Annotated[list[Dimension], Field(max_length=MAX_DIMENSIONS)] = Field(default_factory=list)
    timestamp: EpochSeconds | None = None
    value: float
    unit: Unit | None = None

    @field_validator("value")
    @classmethod
    def _storable(cls, value: float) -> float:
        if value != 0 and not SMALLEST_MAGNITUDE <= abs(value) <= LARGEST_MAGNITUDE:
            raise ValueError(f"must be 0 or of magnitude {SMALLEST_MAGNITUDE:g} to {LARGEST_MAGNITUDE:g}")
        return value

    @field_validator("dimensions")
    @classmethod
    def _unique_names(cls, dimensions: list[Dimension]) -> list[Dimension]:
        names = [d.name for d in dimensions]
        if len(set(names)) != len(names):
            raise ValueError(f"dimension names must be unique, got {names}")
        return dimensions


class MetricRequest(Contract):
    namespace: Namespace
    metric_data: MetricDatum = Field(alias="metricData")


class MetricPut(Contract):
    """One metric, as ``aws.greengrass.Cloudwatch`` reads it from ``cloudwatch/metric/put``."""

    request: MetricRequest


class MetricPutResponse(Contract):
    namespace: Annotated[str, Field(max_length=MAX_NAME)]
    status: Literal["success", "fail"]
    cloudwatch_rid: Annotated[str, Field(max_length=128)] | None = None
    error: Annotated[str, Field(max_length=128)] | None = None
    error_message: Annotated[str, Field(max_length=1024)] | None = None

    @model_validator(mode="after")
    def _fields_of_status(self) -> MetricPutResponse:
        if self.status == "fail" and (self.error is None or self.error_message is None):
            raise ValueError("a failure carries error and error_message")
        return self


class MetricPutStatus(Contract):
    """The component's answer on ``cloudwatch/metric/put/status``."""

    response: MetricPutResponse
