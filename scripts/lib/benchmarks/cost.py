"""What one camera costs per day in DynamoDB and S3, from the rates the events benchmark measured.

The way the thesis's cost study did it: requests and storage at AWS list prices, here us-east-1
on-demand (PAY_PER_REQUEST, as infrastructure/dynamodb.yaml deploys the tables), with the retention
the writer sets (``retentionDays``, 90 by default; the TTL deletes cost nothing):

- DynamoDB writes: each write request costs one write request unit per started KB of the item, and
  the same again for the table's one global secondary index (projection ALL, so every write of an
  item writes its index copy too);
- DynamoDB storage: the items a day brings, times the retention, each item's size plus DynamoDB's
  100 bytes of overhead, twice (table and index);
- S3: one PUT per picture, and the pictures a day brings, times the retention, in S3 Standard.

Reads are left out: what a camera costs to keep, not what its readers spend. A measured phase of the
benchmark stands for a whole day of that scene (vtest.avi's crowd all day is the busy end; the still
frame with sensor noise, two people standing in it, the quiet end).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from benchmarks.results import PhaseResult

DAY_S = 86_400
DAYS_PER_MONTH = 365 / 12
DYNAMODB_ITEM_OVERHEAD_BYTES = 100
INDEXES = 1  # each table has one global secondary index, projection ALL
RETENTION_DAYS = 90  # DynamoWriter's retentionDays default


@dataclass(frozen=True)
class Prices:
    """US East (N. Virginia) list prices in USD, as published on aws.amazon.com/dynamodb/pricing/on-demand
    and aws.amazon.com/s3/pricing in 2026."""

    dynamodb_per_million_write_units: float = 0.625
    dynamodb_per_gb_month: float = 0.25
    s3_per_thousand_puts: float = 0.005
    s3_per_gb_month: float = 0.023  # S3 Standard, first 50 TB


PRICES = Prices()


@dataclass(frozen=True)
class CameraDay:
    """One camera's day in one store mode: what it writes and keeps, and what that costs (USD per day)."""

    dynamodb_writes: float
    dynamodb_write_units: float
    dynamodb_stored_gb: float  # held at any time once the retention is reached
    s3_puts: float
    s3_stored_gb: float
    dynamodb_writes_usd: float
    dynamodb_storage_usd: float
    s3_puts_usd: float
    s3_storage_usd: float

    @property
    def dynamodb_usd(self) -> float:
        return self.dynamodb_writes_usd + self.dynamodb_storage_usd

    @property
    def s3_usd(self) -> float:
        return self.s3_puts_usd + self.s3_storage_usd

    @property
    def total_usd(self) -> float:
        return self.dynamodb_usd + self.s3_usd


def camera_day(phase: PhaseResult, retention_days: int = RETENTION_DAYS, prices: Prices = PRICES) -> CameraDay:
    """A day of the scene ``phase`` measured; ValueError for a phase of no length."""
    if phase.video_s <= 0:
        raise ValueError("a phase of no length stands for no day")
    days = DAY_S / phase.video_s
    item_bytes = phase.dynamodb_bytes / phase.dynamodb_items if phase.dynamodb_items else 0.0
    units_per_write = max(1, math.ceil(item_bytes / 1024)) * (1 + INDEXES)
    writes = phase.dynamodb_writes * days
    write_units = writes * units_per_write
    dynamodb_gb = (phase.dynamodb_items * days * (item_bytes + DYNAMODB_ITEM_OVERHEAD_BYTES) * (1 + INDEXES)
                   * retention_days / 1e9)
    puts = phase.s3_objects * days
    s3_gb = phase.s3_bytes * days * retention_days / 1e9
    return CameraDay(
        dynamodb_writes=writes, dynamodb_write_units=write_units, dynamodb_stored_gb=dynamodb_gb,
        s3_puts=puts, s3_stored_gb=s3_gb,
        dynamodb_writes_usd=write_units / 1e6 * prices.dynamodb_per_million_write_units,
        dynamodb_storage_usd=dynamodb_gb * prices.dynamodb_per_gb_month / DAYS_PER_MONTH,
        s3_puts_usd=puts / 1000 * prices.s3_per_thousand_puts,
        s3_storage_usd=s3_gb * prices.s3_per_gb_month / DAYS_PER_MONTH,
    )
