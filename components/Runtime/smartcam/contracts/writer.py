"""DynamoWriter's report on IoT Core (``smartcam/<thing>/writer``): which items DynamoDB accepted and
when, and how full the spool is, for detections and for events. Its keys are camelCase on the wire.
Version 3 added ``events``."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from smartcam.contracts.base import Contract, Count, Detail, EpochSeconds

MAX_CONFIRMATIONS = 200  # keeps a report far below IoT Core's 128 KB


class Confirmation(Contract):
    """One item DynamoDB accepted: its sort key and the moment BatchWriteItem returned."""

    sk: Annotated[str, Field(min_length=1, max_length=1024)]
    at: EpochSeconds


class SpoolDepth(Contract):
    items: Count
    bytes: Count
    oldest_age_s: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = Field(alias="oldestAgeS")
    max_items: Count = Field(alias="maxItems")
    max_bytes: Count = Field(alias="maxBytes")


class EventSpoolDepth(Contract):
    """The events in the spool not yet in DynamoDB, and their snapshots' pictures not yet in S3."""

    table: Annotated[str, Field(min_length=1, max_length=255)]
    pending: Count
    snapshot_bytes: Count = Field(alias="snapshotBytes")
    oldest_age_s: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = Field(alias="oldestAgeS")
    max_events: Count = Field(alias="maxEvents")
    max_snapshot_bytes: Count = Field(alias="maxSnapshotBytes")


class WriterReport(Contract):
    wire_nulls: ClassVar[bool] = True  # "lastError": null says "no error" explicitly

    schema_: Literal["smartcam.writer-report/3"] = Field("smartcam.writer-report/3", alias="schema")
    thing: Annotated[str, Field(min_length=1, max_length=128)]
    table: Annotated[str, Field(min_length=1, max_length=255)]
    at: EpochSeconds
    written: Count  # items accepted since the last report
    confirmed: Annotated[list[Confirmation], Field(max_length=MAX_CONFIRMATIONS)]
    confirmed_omitted: Count = Field(alias="confirmedOmitted")  # written but left out of ``confirmed``
    spool: SpoolDepth
    events: EventSpoolDepth
    counters: dict[Annotated[str, Field(max_length=64)], Count]
    last_error: Detail | None = Field(alias="lastError")
