"""Configuration of smartcam.DynamoWriter (recipe DefaultConfiguration, camelCase keys)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from smartcam.config import ComponentConfig

# DynamoDB's table-name rule; the region must look like one (us-east-1, cn-north-1, us-gov-west-1).
TableName = Annotated[str, Field(min_length=3, max_length=255, pattern=r"^[A-Za-z0-9_.-]+$")]
Region = Annotated[str, Field(pattern=r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")]


class DynamoWriterConfig(ComponentConfig):
    table_name: TableName = "SmartcamDetections"
    region: Region | None = None  # None: AWS_REGION from the nucleus
    batch_size: Annotated[int, Field(ge=1, le=25)] = 25  # BatchWriteItem takes at most 25
    flush_interval_s: Annotated[float, Field(gt=0, le=300)] = 1.0
    # Batches in flight at once (read at start): a round trip to DynamoDB is tens of ms from a
    # device, so one sequential sender would cap the drain rate of a backlog.
    sender_threads: Annotated[int, Field(ge=1, le=8)] = 2
    max_spool_items: Annotated[int, Field(ge=1, le=100_000_000)] = 1_000_000
    max_spool_mb: Annotated[float, Field(gt=0, le=1_000_000, alias="maxSpoolMB")] = 1024.0
    # refuseNewest: a new detection is refused (counted) when the spool is full, so nothing that
    # was accepted is ever lost. dropOldest: the oldest spooled items make room (counted).
    overflow_policy: Literal["refuseNewest", "dropOldest"] = "refuseNewest"
    retention_days: Annotated[int, Field(ge=1, le=36_500)] = 90
    backoff_base_s: Annotated[float, Field(gt=0, le=60)] = 0.2
    backoff_max_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    request_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    report_interval_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
    # Local/dev runtime only: in the cloud the table comes from infrastructure/dynamodb.yaml and
    # the token exchange role may not create tables.
    create_table_if_missing: bool = False

    @model_validator(mode="after")
    def _backoff_ordered(self) -> DynamoWriterConfig:
        if self.backoff_base_s > self.backoff_max_s:
            raise ValueError("backoffBaseS must not exceed backoffMaxS")
        return self

    @property
    def max_spool_bytes(self) -> int:
        return int(self.max_spool_mb * 1024 * 1024)
