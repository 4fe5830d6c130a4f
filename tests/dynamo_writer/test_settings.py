"""The configuration rules of smartcam.DynamoWriter beyond single values: each refusal names its reason,
and the boundary value is accepted."""

from __future__ import annotations

import re
from typing import Any

import pytest

from dynamo_writer.settings import DynamoWriterConfig
from smartcam.config import ConfigError, validate_config


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
