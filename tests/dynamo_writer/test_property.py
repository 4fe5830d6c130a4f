"""Random configuration updates, well-formed and hostile, delivered through the fake nucleus while
detections and events arrive: every update is applied or refused with the last good configuration kept, no
exception escapes a handler or a thread, the component stays RUNNING, and afterwards it writes under
the last configuration. DynamoDB (and S3) is an in-memory stand-in (the writer's DynamoDB behaviour has its own
tests). One run sends at least MIN_UPDATES updates; the test fails if fewer went out."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dynamo_writer.app import SPOOL_ENV, DynamoWriterApp
from dynamo_writer.settings import DynamoWriterConfig
from dynamo_writer.snapshots import CAPTURE_SOURCE_ENV, SOURCE_ENV
from smartcam import topics
from smartcam.config import LiveConfig
from tests.dynamo_writer.helpers import DEVICE, InMemoryDynamoDB, detections, snapshot, track_event
from tests.support.config_fuzz import (
    ConfigFuzz,
    HandlerErrors,
    Update,
    recipe_defaults,
    updates,
    well_formed_settings,
)
from tests.support.fake_nucleus import FakeNucleus, wait_until

EXAMPLES = 25
UPDATES_PER_EXAMPLE = 42
MESSAGES_PER_EXAMPLE = 6
MIN_UPDATES = 1000
LAST = {"tableName": "the-last-table", "eventsTableName": "the-last-events", "store": "both",
        "snapshotBucket": "the-last-bucket", "maxSpoolItems": 1_000_000, "maxSpoolEvents": 100_000,
        "maxSnapshotMB": 512, "overflowPolicy": "refuseNewest", "flushIntervalS": 0.05}
BACKOFFS = [{}, {"backoffBaseS": 0.001, "backoffMaxS": 0.001}, {"backoffBaseS": 60, "backoffMaxS": 3600},
            {"backoffMaxS": 0.2}]


def writer_configuration(**settings: Any) -> dict[str, Any]:
    """What every example starts from: the recipe's defaults, reports often enough to be read."""
    return {**recipe_defaults("DynamoWriter"), "reportIntervalS": 0.2, **settings}


def well_formed_updates() -> st.SearchStrategy[Update]:
    """Valid configurations: each setting left out or at a value near its bounds."""
    catalog: dict[str, list[Any]] = {
        "tableName": ["abc", "T" * 255, "Smartcam.Detections-2_x"],
        "store": ["events", "detections", "both"],
        "eventsTableName": ["abc", "E" * 255, "Smartcam.Events-2_x"],
        "snapshotBucket": [None, "abc", "b" * 63, "smartcam.snapshots-eu-west-1-123456789012"],
        "snapshotKeyPrefix": ["s", "snapshots/site-7", "a!_.*'()-" * 28],
        "maxSpoolEvents": [1, 10_000_000],
        "maxSnapshotMB": [1e-6, 1_000_000],
        "createBucketIfMissing": [True, False],
        "region": [None, "us-east-1", "us-gov-west-1", "cn-north-1"],
        "batchSize": [1, 25],
        "flushIntervalS": [1e-6, 0.05, 300],
        "minRequestIntervalS": [0, 0.05, 60],
        "senderThreads": [1, 8],
        "maxSpoolItems": [1, 100_000_000],
        "maxSpoolMB": [1e-6, 1_000_000],
        "overflowPolicy": ["refuseNewest", "dropOldest"],
        "retentionDays": [1, 36_500],
        "requestTimeoutS": [1e-3, 300],
        "reportIntervalS": [0.05, 3600],
        "createTableIfMissing": [True, False],
        "accessControl": [recipe_defaults("DynamoWriter")["accessControl"]],
    }
    return st.tuples(well_formed_settings(catalog), st.sampled_from(BACKOFFS)).map(
        lambda parts: Update({**parts[0], **parts[1]}, True, "well-formed"))


def against_the_rules(configuration: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        "backoffBaseS over backoffMaxS": {**configuration, "backoffBaseS": 2, "backoffMaxS": 1},
        "a two-character table": {**configuration, "tableName": "ab"},
        "a table name with a space": {**configuration, "tableName": "my table"},
        "a 256-character table": {**configuration, "tableName": "T" * 256},
        "a region in capitals": {**configuration, "region": "US-EAST-1"},
        "a region that is not one": {**configuration, "region": "mars"},
        "26 items per batch": {**configuration, "batchSize": 26},
        "maxSpoolMb spelled wrong": {**configuration, "maxSpoolMb": 5},
        "a store mode that is not one": {**configuration, "store": "frames"},
        "a bucket in capitals": {**configuration, "snapshotBucket": "Snapshots"},
        "a bucket with two dots in a row": {**configuration, "snapshotBucket": "a..b"},
        "a bucket that looks like an IP address": {**configuration, "snapshotBucket": "192.168.1.1"},
        "a 64-character bucket": {**configuration, "snapshotBucket": "b" * 64},
        "a key prefix with a leading slash": {**configuration, "snapshotKeyPrefix": "/snapshots"},
        "a key prefix with an empty folder": {**configuration, "snapshotKeyPrefix": "a//b"},
        "no events in the spool": {**configuration, "maxSpoolEvents": 0},
        "maxSnapshotMb spelled wrong": {**configuration, "maxSnapshotMb": 5},
    }


# A failure is shrunk to a small example, which takes Hypothesis up to 5 minutes on its own.
@pytest.mark.timeout(900)
def test_random_configuration_updates_while_detections_arrive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_IOT_THING_NAME", DEVICE)
    spools = iter(range(10**6))
    sent: Counter[str] = Counter()

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        changes=st.lists(updates(DynamoWriterConfig, well_formed_updates(), against_the_rules),
                         min_size=UPDATES_PER_EXAMPLE, max_size=UPDATES_PER_EXAMPLE),
        messages_after=st.lists(st.integers(0, UPDATES_PER_EXAMPLE - 1), min_size=MESSAGES_PER_EXAMPLE,
                                max_size=MESSAGES_PER_EXAMPLE),
    )
    def run(changes: list[Update], messages_after: list[int]) -> None:
        monkeypatch.setenv(SPOOL_ENV, str(tmp_path / f"spool-{next(spools)}.sqlite3"))
        monkeypatch.setenv(SOURCE_ENV, str(tmp_path / "tracker"))
        monkeypatch.setenv(CAPTURE_SOURCE_ENV, str(tmp_path / "tracker-captures"))
        picture = snapshot(tmp_path / "tracker", "the-tracker")
        dynamodb = InMemoryDynamoDB()
        with HandlerErrors() as errors:
            nucleus = FakeNucleus(writer_configuration(), "smartcam.DynamoWriter")
            live = LiveConfig(nucleus.ipc, DynamoWriterConfig)
            fuzz = ConfigFuzz(nucleus, live)
            app = DynamoWriterApp(nucleus.ipc, live, client_factory=lambda _config: dynamodb,
                                  s3_client_factory=lambda _config: dynamodb)
            app.start()
            try:
                for index, update in enumerate(changes):
                    fuzz.send(update)
                    for n in range(messages_after.count(index)):
                        nucleus.send(topics.DETECTIONS, detections(f"f{index}-{n}").to_message())
                        nucleus.send(topics.EVENTS, track_event(f"e{index}-{n}", 0, snapshot=picture).to_message())
                fuzz.send(Update(writer_configuration(**LAST), True, "the last configuration"))
                nucleus.send(topics.DETECTIONS, detections("last").to_message())
                nucleus.send(topics.EVENTS, track_event("last", 0, snapshot=picture).to_message())
                wait_until(lambda: "last" in dynamodb.tables and "last" in dynamodb.event_tables,
                           what="the last frame and event in DynamoDB")
            finally:
                app.stop()
        errors.check(refused_updates=fuzz.refused)
        assert "ERRORED" not in nucleus.states()
        assert dynamodb.tables["last"] == LAST["tableName"]
        assert dynamodb.event_tables["last"] == LAST["eventsTableName"]
        assert any(bucket == LAST["snapshotBucket"] and "/last/" in key for bucket, key in dynamodb.objects)
        sent["updates"] += len(changes)
        sent["applied"] += fuzz.applied
        sent["refused"] += fuzz.refused

    run()
    assert sent["updates"] >= MIN_UPDATES, sent
    assert min(sent["applied"], sent["refused"]) >= sent["updates"] // 10, sent
