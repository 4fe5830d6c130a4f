"""The configuration rules of smartcam.DynamoWriter: each refusal names its reason, the boundary value is
accepted, and every number and name is refused just beyond its bounds."""

from __future__ import annotations

import re
from typing import Any

import pytest

from dynamo_writer.settings import DynamoWriterConfig
from smartcam.config import ConfigError, validate_config
from tests.support.config_bounds import check_number_bounds, check_size_bounds
from tests.support.config_fuzz import recipe_defaults


def refused(raw: dict[str, Any], reason: str) -> None:
    with pytest.raises(ConfigError, match=f"^invalid DynamoWriterConfig: \\(root\\): {re.escape(reason)}$"):
        validate_config(DynamoWriterConfig, raw)


def test_the_first_backoff_is_at_most_the_longest():
    refused({"backoffBaseS": 2.5, "backoffMaxS": 2.0}, "backoffBaseS must not exceed backoffMaxS")
    config = validate_config(DynamoWriterConfig, {"backoffBaseS": 2.0, "backoffMaxS": 2.0})
    assert (config.backoff_base_s, config.backoff_max_s) == (2.0, 2.0)


@pytest.mark.parametrize("bucket", ["snap..shots", "snap.-shots", "snap-.shots", "192.168.0.1"])
def test_a_bucket_name_s3_refuses_is_refused(bucket: str):
    refused({"snapshotBucket": bucket},
            "snapshotBucket is not a valid S3 bucket name (no '..', '.-', '-.' or IP address)")


@pytest.mark.parametrize("bucket", ["snap.shots", "snap-shots", "192.168.0.1a", "1.2.3"])
def test_a_bucket_name_near_those_is_accepted(bucket: str):
    assert validate_config(DynamoWriterConfig, {"snapshotBucket": bucket}).snapshot_bucket == bucket


def test_the_recipe_defaults_are_the_settings_defaults():
    assert validate_config(DynamoWriterConfig, recipe_defaults("DynamoWriter")) == DynamoWriterConfig()


@pytest.mark.parametrize(("path", "bounds"), [
    (("batchSize",), {"ge": 1, "le": 25, "integer": True}),
    (("flushIntervalS",), {"gt": 0, "le": 300}),
    (("minRequestIntervalS",), {"ge": 0, "le": 60}),
    (("senderThreads",), {"ge": 1, "le": 8, "integer": True}),
    (("maxSpoolItems",), {"ge": 1, "le": 100_000_000, "integer": True}),
    (("maxSpoolMB",), {"gt": 0, "le": 1_000_000}),
    (("maxSpoolEvents",), {"ge": 1, "le": 10_000_000, "integer": True}),
    (("maxSnapshotMB",), {"gt": 0, "le": 1_000_000}),
    (("eventUpdateIntervalS",), {"ge": 0, "le": 86_400}),
    (("retentionDays",), {"ge": 1, "le": 36_500, "integer": True}),
    (("requestTimeoutS",), {"gt": 0, "le": 300}),
    (("reportIntervalS",), {"gt": 0, "le": 3600}),
])
def test_each_number_is_refused_just_beyond_its_bounds(path: tuple, bounds: dict[str, Any]):
    check_number_bounds(DynamoWriterConfig, {}, path, **bounds)


def test_each_backoff_is_refused_just_beyond_its_bounds():
    check_number_bounds(DynamoWriterConfig, {"backoffMaxS": 3600}, ("backoffBaseS",), gt=0, le=60)
    check_number_bounds(DynamoWriterConfig, {"backoffBaseS": 0.001}, ("backoffMaxS",), gt=0, le=3600)


@pytest.mark.parametrize("key", ["tableName", "eventsTableName"])
def test_a_table_name_has_3_to_255_characters(key: str):
    check_size_bounds(DynamoWriterConfig, {}, (key,), lambda n: "t" * n, min_size=3, max_size=255)


def test_a_bucket_name_has_3_to_63_characters():
    check_size_bounds(DynamoWriterConfig, {}, ("snapshotBucket",), lambda n: "b" * n, min_size=3, max_size=63)


def test_a_snapshot_key_prefix_has_1_to_256_characters():
    check_size_bounds(DynamoWriterConfig, {}, ("snapshotKeyPrefix",), lambda n: "p" * n, min_size=1, max_size=256)


@pytest.mark.parametrize(("megabytes", "size"), [(1.5, 1_572_864), (1024, 1024 * 1_048_576)])
def test_the_spool_limits_are_in_mebibytes(megabytes: float, size: int):
    config = validate_config(DynamoWriterConfig, {"maxSpoolMB": megabytes, "maxSnapshotMB": megabytes})
    assert (config.max_spool_bytes, config.max_snapshot_bytes) == (size, size)


@pytest.mark.parametrize(("store", "events", "detections"), [
    ("events", True, False), ("detections", False, True), ("both", True, True),
])
def test_what_is_stored(store: str, events: bool, detections: bool):
    config = validate_config(DynamoWriterConfig, {"store": store})
    assert (config.stores_events, config.stores_detections) == (events, detections)
