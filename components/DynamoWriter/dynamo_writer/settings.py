"""Configuration of smartcam.DynamoWriter (recipe DefaultConfiguration, camelCase keys)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, model_validator

from smartcam.cpu_affinity import ProcessConfig
from smartcam.metrics import MetricsSettings

# DynamoDB's table-name rule; the region must look like one (us-east-1, cn-north-1, us-gov-west-1).
TableName = Annotated[str, Field(min_length=3, max_length=255, pattern=r"^[A-Za-z0-9_.-]+$")]
Region = Annotated[str, Field(pattern=r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")]
# S3's rules for a general purpose bucket: 3-63 lower-case letters, digits, dots and hyphens, a letter or
# digit at each end (no IP address form, no ".." or ".-": checked below).
BucketName = Annotated[str, Field(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")]
# Folders of S3 keys: characters S3 calls safe, no empty folder, no slash at either end.
KeyPrefix = Annotated[
    str, Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$")]
StoreMode = Literal["events", "detections", "both"]
# SageMaker Ground Truth's LabelAttributeName rule (CreateLabelingJob); it may not contain "-metadata" nor
# end with "-ref" (checked below).
LabelAttributeName = Annotated[str, Field(min_length=1, max_length=127, pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")]


class DynamoWriterConfig(ProcessConfig):
    store: StoreMode = Field(
        "events", description="What is stored: events (one item per tracked object from smartcam.EventTracker, "
        "with its snapshot in S3; frames with detections are receipted summarized), detections (one item per "
        "frame and label, as before events; events are receipted lost, except those already being stored) or "
        "both.",
    )
    table_name: TableName = Field(
        "SmartcamDetections",
        description="DynamoDB table the detections go to (stack output TableName of `infrastructure/dynamodb.yaml`).",
    )
    events_table_name: TableName = Field(
        "SmartcamEvents",
        description="DynamoDB table the events go to (stack output EventsTableName of "
        "`infrastructure/dynamodb.yaml`).",
    )
    snapshot_bucket: BucketName | None = Field(
        None, description="S3 bucket of the events' snapshots and of the data captures (stack output "
        "SnapshotBucketName of `infrastructure/dynamodb.yaml`); null: events are stored without snapshots "
        "(counted snapshotsMissing) and data captures are receipted lost.",
    )
    snapshot_key_prefix: KeyPrefix = Field(
        "snapshots", description="First folder of every snapshot's S3 key: "
        "<prefix>/<thing>/<camera>/<yyyy>/<mm>/<dd>/<event id>/full.jpg and crop.jpg (the IAM policy allows "
        "this prefix only).",
    )
    capture_key_prefix: KeyPrefix = Field(
        "captures", description="First folder of every data capture's S3 key (frames EventTracker picked for "
        "labeling, in snapshotBucket): <prefix>/<thing>/<camera>/<yyyy-mm-dd>/<frame id>.jpg, .predictions.json "
        "and .manifest.jsonl (the IAM policy allows this prefix only)."
    )
    label_attribute_name: LabelAttributeName = Field(
        "smartcam-predictions", description="Label attribute of the model's pre-annotations in each capture's "
        "Ground Truth manifest line (and `<name>-metadata`); a labeling job's own LabelAttributeName must differ."
    )
    max_spool_captures: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        10_000, description="Most data captures in the spool awaiting S3; a new one beyond it is receipted lost."
    )
    max_capture_mb: Annotated[float, Field(gt=0, le=1_000_000, alias="maxCaptureMB")] = Field(
        256.0, description="Most MB (MiB) of captured frames in the spool folder awaiting S3; a capture beyond it "
        "is receipted lost."
    )
    region: Region | None = Field(None, description="AWS region of the table; null: AWS_REGION from the nucleus.")
    batch_size: Annotated[int, Field(ge=1, le=25)] = Field(
        25, description="Items per BatchWriteItem request (DynamoDB takes at most 25)."
    )
    flush_interval_s: Annotated[float, Field(gt=0, le=300)] = Field(
        1.0,
        description="Longest wait in s of a partial batch while another batch is in flight (an idle sender "
        "sends at once, minRequestIntervalS permitting).",
    )
    min_request_interval_s: Annotated[float, Field(ge=0, le=60)] = Field(
        0.05, description="Least seconds between the starts of two BatchWriteItem requests when the second "
        "carries a partial batch: it waits for the rest of this interval, filling meanwhile (a full batch, a "
        "retry after a failure or an item sent alone after a refused batch goes at once), so a fast stream of "
        "detections goes several items per request; items further apart than this are sent without waiting. "
        "0: a partial batch goes as soon as nothing is in flight.",
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
    max_spool_events: Annotated[int, Field(ge=1, le=10_000_000)] = Field(
        100_000, description="Most events in the spool awaiting DynamoDB; a new event beyond it is receipted lost "
        "(an event already spooled is always updated)."
    )
    max_snapshot_mb: Annotated[float, Field(gt=0, le=1_000_000, alias="maxSnapshotMB")] = Field(
        512.0, description="Most MB (MiB) of snapshot pictures in the spool folder awaiting S3; an event whose "
        "snapshot does not fit is stored without it (counted snapshotsMissing)."
    )
    event_update_interval_s: Annotated[float, Field(ge=0, le=86_400)] = Field(
        300.0, description="Least seconds between two DynamoDB writes of an open event: its start is written at "
        "once, its end at once (whatever the interval), and an update in between only once this long has passed "
        "since the event was last written (the latest message held then goes); receipts are not delayed: a "
        "message is receipted once it is in the spool. 0: every message is written."
    )
    overflow_policy: Literal["refuseNewest", "dropOldest"] = Field(
        "refuseNewest", description="When the spool is full: refuseNewest refuses new detections, so nothing "
        "accepted is ever lost; dropOldest deletes the oldest spooled items to make room (both counted)."
    )
    retention_days: Annotated[int, Field(ge=1, le=36_500)] = Field(
        90, description="Days an item lives after its capture time, an event's after it was last seen (DynamoDB "
        "TTL attribute expiresAt); the snapshot bucket's lifecycle rule should keep pictures as long."
    )
    backoff_base_s: Annotated[float, Field(gt=0, le=60)] = Field(
        0.2, description="First retry delay ceiling in s after a failed write; doubles per failure, full jitter."
    )
    backoff_max_s: Annotated[float, Field(gt=0, le=3600)] = Field(
        60.0, description="Largest retry delay in s after failed writes; at least backoffBaseS."
    )
    request_timeout_s: Annotated[float, Field(gt=0, le=300)] = Field(
        10.0, description="Connect and read timeout in s of each DynamoDB and S3 request."
    )
    metrics: MetricsSettings = Field(default_factory=MetricsSettings, description=MetricsSettings.__doc__)
    report_interval_s: Annotated[float, Field(gt=0, le=3600)] = Field(
        30.0, description="Seconds between writer reports on IoT Core (`smartcam/<thing>/writer`) and health "
        "messages on `smartcam/health/smartcam.DynamoWriter`."
    )
    create_table_if_missing: bool = Field(
        False, description="Create the tables (detections and events, with TTL) if they are missing; local/dev "
        "runtime only: in the cloud they come from `infrastructure/dynamodb.yaml` and the token exchange role may "
        "not create tables."
    )
    create_bucket_if_missing: bool = Field(
        False, description="Create the snapshot bucket if it is missing; local/dev runtime only (the S3 stand-in): "
        "in the cloud it comes from `infrastructure/dynamodb.yaml` and the token exchange role may not create "
        "buckets."
    )

    @model_validator(mode="after")
    def _backoff_ordered(self) -> DynamoWriterConfig:
        if self.backoff_base_s > self.backoff_max_s:
            raise ValueError("backoffBaseS must not exceed backoffMaxS")
        return self

    @model_validator(mode="after")
    def _bucket_name_is_one(self) -> DynamoWriterConfig:
        bucket = self.snapshot_bucket
        if bucket is not None and (".." in bucket or ".-" in bucket or "-." in bucket
                                   or re.fullmatch(r"\d+\.\d+\.\d+\.\d+", bucket)):
            raise ValueError("snapshotBucket is not a valid S3 bucket name (no '..', '.-', '-.' or IP address)")
        return self

    @model_validator(mode="after")
    def _label_attribute_allowed(self) -> DynamoWriterConfig:
        if "-metadata" in self.label_attribute_name or self.label_attribute_name.endswith("-ref"):
            raise ValueError("labelAttributeName must not contain '-metadata' nor end with '-ref' (Ground Truth)")
        return self

    @property
    def max_capture_bytes(self) -> int:
        return int(self.max_capture_mb * 1024 * 1024)

    @property
    def max_spool_bytes(self) -> int:
        return int(self.max_spool_mb * 1024 * 1024)

    @property
    def max_snapshot_bytes(self) -> int:
        return int(self.max_snapshot_mb * 1024 * 1024)

    @property
    def stores_events(self) -> bool:
        return self.store != "detections"

    @property
    def stores_detections(self) -> bool:
        return self.store != "events"
