"""The writer's report and health: the events' spool beside the detections' spool."""

import pytest

from dynamo_writer.event_items import event_item
from dynamo_writer.event_spool import EventSpool, NewEvent, SnapshotState
from dynamo_writer.reports import Reporter
from dynamo_writer.spool import Spool
from smartcam.contracts import WriterReport, parse
from smartcam.telemetry import Telemetry
from tests.dynamo_writer.helpers import DEVICE, config, track_event


@pytest.fixture
def spools(tmp_path):
    detections, events = Spool(tmp_path / "spool.sqlite3"), EventSpool(tmp_path / "spool.sqlite3")
    yield detections, events
    events.close()
    detections.close()


def reporter(spools, event_state=lambda: (0, None, None), capture_state=lambda: (0, 0, 0, None), **over):
    detections, events = spools
    cfg = config(**{"eventsTableName": "events-table", "maxSpoolEvents": 4, **over})
    return Reporter(None, DEVICE, detections, Telemetry(None, "smartcam.DynamoWriter", DEVICE), settings=lambda: cfg,
                    sender_state=lambda: (0, None), events=events, event_state=event_state,
                    capture_state=capture_state)


def hold(events, event_id, snapshot_bytes=0):
    item = event_item(track_event(event_id), DEVICE, 30)
    snapshot = SnapshotState("f1", {"M": {}}, bytes=snapshot_bytes) if snapshot_bytes else None
    events.upsert(NewEvent(event_id, "cam1", 0, item.item, item.size, snapshot), max_events=100)


def test_the_report_carries_the_events_spool(spools):
    _, events = spools
    hold(events, "e1", snapshot_bytes=1000)
    hold(events, "e2")
    report, health = reporter(spools).build()
    message = parse(WriterReport, report.to_bytes()).to_message()
    assert message["schema"] == "smartcam.writer-report/3"
    assert {k: v for k, v in message["events"].items() if k != "oldestAgeS"} == {
        "table": "events-table", "pending": 2, "snapshotBytes": 1000, "maxEvents": 4,
        "maxSnapshotBytes": 512 * 1024 * 1024}
    assert message["events"]["oldestAgeS"] >= 0
    assert health.state == "ok" and "2 events, 1000 snapshot bytes (50% full)" in health.detail


def test_health_is_degraded_while_events_fail_or_fill_the_spool(spools):
    _, events = spools
    report, health = reporter(spools, event_state=lambda: (3, "s3 SlowDown: slow down", None)).build()
    assert health.state == "degraded" and report.last_error == "events: s3 SlowDown: slow down"
    report, health = reporter(spools, event_state=lambda: (0, None, "OperationalError: disk full")).build()
    assert health.state == "degraded" and report.last_error == "events spool: OperationalError: disk full"
    for n in range(4):
        hold(events, f"e{n}")
    assert reporter(spools).build()[1].state == "degraded"  # 4 of maxSpoolEvents 4: full


def test_health_says_how_many_data_captures_await_s3_and_is_degraded_while_their_uploads_fail(spools):
    _, health = reporter(spools, capture_state=lambda: (2, 180_000, 0, None)).build()
    assert health.state == "ok" and "2 data captures (180000 bytes) await S3" in health.detail
    _, health = reporter(spools, capture_state=lambda: (2, 180_000, 3, "s3 AccessDenied: no")).build()
    assert health.state == "degraded" and "last error: captures: s3 AccessDenied: no" in health.detail
    _, health = reporter(spools).build()
    assert "data captures" not in health.detail
