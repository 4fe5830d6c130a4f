"""Configuration of smartcam.DynamoWriter (recipe DefaultConfiguration, camelCase keys)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from smartcam.config import ComponentConfig

# DynamoDB's table-name rule; the region must look like one (us-east-1, cn-north-1, us-gov-west-1).
TableName = Annotated[str, Field(min_length=3, max_length=255, pattern=r"^[A-Za-z0-9_.-]+$")]
Region = Annotated[str, Field(pattern=r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")]


class DynamoWriterConfig(ComponentConfig):
    table_name: TableName = Field(
        "SmartcamDetections",
        description="DynamoDB table the detections go to (stack output TableName of `infrastructure/dynamodb.yaml`).",
    )
    region: Region | None = Field(None, description="AWS region of the table; null: AWS_REGION from the nucleus.")
    batch_size: Annotated[int, Field(ge=1, le=25)] = Field(
        25, description="Items per BatchWriteItem request (DynamoDB takes at most 25)."
    )
    flush_interval_s: Annotated[float, Field(gt=0, le=300)] = Field(
        1.0,
        description="Longest wait in s of a partial batch while another batch is in flight (an idle sender "
        "sends at once).",
    )
    sender_threads: Annotated[int, Field(ge=1, le=8)] = Field(
        2, description="Batches in flight to DynamoDB at once (read at start): a round trip takes tens of ms "
        "from a device, so one sequential sender would cap the drain rate of a backlog."
    )
    max_spool_items: Annotated[int, Field(ge=1, le=100_000_000)] = Field(
        1_000_000, description="Most items (one per frame and label) in the on-device spool awaiting DynamoDB."
    )
    max_spool_mb: Annotated[float, Field(gt=0, le=1_000_000, alias="maxSpoolMB")] = Field(
        1024.0, description="Most MB (MiB, 1,048,576 bytes) of items in the spool, by DynamoDB item size."
    )
    overflow_policy: Literal["refuseNewest", "dropOldest"] = Field(
        "refuseNewest", description="When the spool is full: refuseNewest refuses new detections, so nothing "
        "accepted is ever lost; dropOldest deletes the oldest spooled items to make room (both counted)."
    )
    retention_days: Annotated[int, Field(ge=1, le=36_500)] = Field(
        90, description="Days an item lives after its capture time (DynamoDB TTL attribute expiresAt)."
    )
    backoff_base_s: Annotated[float, Field(gt=0, le=60)] = Field(
        0.2, description="First retry delay ceiling in s after a failed write; doubles per failure, full jitter."
    )
    backoff_max_s: Annotated[float, Field(gt=0, le=3600)] = Field(
        60.0, description="Largest retry delay in s after failed writes; at least backoffBaseS."
    )
    request_timeout_s: Annotated[float, Field(gt=0, le=300)] = Field(
        10.0, description="Connect and read timeout in s of each DynamoDB request."
    )
    report_interval_s: Annotated[float, Field(gt=0, le=3600)] = Field(
        30.0, description="Seconds between writer reports on IoT Core (`smartcam/<thing>/writer`) and health "
        "messages on `smartcam/health/smartcam.DynamoWriter`."
    )
    create_table_if_missing: bool = Field(
        False, description="Create the table (with TTL) if it is missing; local/dev runtime only: in the cloud the "
        "table comes from `infrastructure/dynamodb.yaml` and the token exchange role may not create tables."
    )

    @model_validator(mode="after")
    def _backoff_ordered(self) -> DynamoWriterConfig:
        if self.backoff_base_s > self.backoff_max_s:
            raise ValueError("backoffBaseS must not exceed backoffMaxS")
        return self

    @property
    def max_spool_bytes(self) -> int:
        return int(self.max_spool_mb * 1024 * 1024)
