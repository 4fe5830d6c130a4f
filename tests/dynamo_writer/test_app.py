"""The component's wiring of receipts: announced after the subscription, sent for what the receiver
decided, flushed at stop, publish failures counted."""

import threading

import pytest

from dynamo_writer.app import DynamoWriterApp
from dynamo_writer.reports import COMPONENT
from dynamo_writer.settings import DynamoWriterConfig
from smartcam import topics
from smartcam.config import LiveConfig
from smartcam.contracts import Receipts
from tests.dynamo_writer.helpers import detections, frames, snapshot, track_event
from tests.support.fake_nucleus import FakeNucleus, wait_until

THING = "app-test-thing"


class AcceptingDynamo:
    """DynamoDB (and S3) that takes every write: the receipts do not wait for it."""

    def __init__(self):
        self.events = {}

    def batch_write_item(self, **_):
        return {"UnprocessedItems": {}}

    def put_item(self, *, Item, **_):
        self.events[Item["event_id"]["S"]] = Item
        return {}

    def put_object(self, **_):
        return {}


@pytest.fixture
def nucleus(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_IOT_THING_NAME", THING)
    monkeypatch.setenv("SMARTCAM_SPOOL_PATH", str(tmp_path / "work" / "spool.sqlite3"))
    monkeypatch.setenv("SMARTCAM_SNAPSHOT_SOURCE", str(tmp_path / "tracker"))
    monkeypatch.setenv("SMARTCAM_CAPTURE_SOURCE", str(tmp_path / "tracker-captures"))
    return FakeNucleus({"tableName": "unit-table", "reportIntervalS": 60, "store": "both"}, COMPONENT)


def started(nucleus, cloud=None):
    config = LiveConfig(nucleus.ipc, DynamoWriterConfig)
    assert config.wait_until_valid(threading.Event())
    cloud = cloud or AcceptingDynamo()
    app = DynamoWriterApp(nucleus.ipc, config, client_factory=lambda _: cloud, s3_client_factory=lambda _: cloud)
    app.start()
    return app


def call_index(nucleus, method, topic):
    return next(i for i, call in enumerate(nucleus.client.mock_calls)
                if call[0] == method and call.kwargs.get("topic") == topic)


def test_the_run_is_announced_after_subscribing_and_every_decided_frame_is_receipted(nucleus):
    app = started(nucleus)
    messages = [*frames(3), detections("empty", labels=())]
    try:
        for message in [*messages, messages[0]]:  # the first one sent again
            nucleus.send(topics.DETECTIONS, message)
    finally:
        app.stop()  # sends what is still batched
    # The hello only once the subscription is there: producers resend at once when they hear it.
    assert call_index(nucleus, "subscribe_to_topic", topics.DETECTIONS) < call_index(
        nucleus, "publish_to_topic", topics.RECEIPTS)
    sent = nucleus.parsed(Receipts, topics.RECEIPTS)
    assert sent[0].receipts == [] and {(r.stage, r.instance) for r in sent} == {(COMPONENT, app.receipts.instance)}
    receipts = [r for batch in sent for r in batch.receipts]
    expected = [(m.frame.frame_id, "stored") for m in messages[:3]] + [("empty", "no_detections")]
    assert [(r.frame_id, r.outcome) for r in receipts] == [*expected, expected[0]]
    assert receipts[-1] == receipts[0]
    assert app.counters.get("messagesDuplicate") == 1 and app.counters.get("receiptPublishErrors") == 0


def test_receipts_that_cannot_be_published_are_counted(nucleus):
    deliver = nucleus.client.publish_to_topic.side_effect

    def refuse_receipts(*, topic, publish_message):
        if topic == topics.RECEIPTS:
            raise ConnectionError("IPC connection lost")
        deliver(topic=topic, publish_message=publish_message)

    nucleus.client.publish_to_topic.side_effect = refuse_receipts
    app = started(nucleus)
    assert app.counters.get("receiptPublishErrors") == 1  # the announcement
    try:
        nucleus.send(topics.DETECTIONS, detections("f1"))
    finally:
        app.stop()
    assert app.counters.get("receiptPublishErrors") == 2  # and the one batch with f1's receipt
    assert app.counters.get("itemsSpooled") == 1  # the frame is spooled all the same


def test_events_are_receipted_beside_the_frames_and_the_mode_changes_live(nucleus, tmp_path):
    nucleus.update(store="events", snapshotBucket="bucket-1")
    cloud = AcceptingDynamo()
    app = started(nucleus, cloud)
    try:
        # The hello only once both subscriptions are there.
        assert call_index(nucleus, "subscribe_to_topic", topics.EVENTS) < call_index(
            nucleus, "publish_to_topic", topics.RECEIPTS)
        ref = snapshot(tmp_path / "tracker", "e1")
        nucleus.send(topics.EVENTS, track_event("e1", 0, snapshot=ref))
        nucleus.send(topics.DETECTIONS, detections("f1"))
        nucleus.send(topics.EVENTS, track_event("e1", 1, kind="end", snapshot=ref))
        wait_until(lambda: cloud.events.get("e1", {}).get("state") == {"S": "ended"}, what="the event's item")
        nucleus.update(store="detections")  # live
        nucleus.send(topics.DETECTIONS, detections("f2"))
        nucleus.send(topics.EVENTS, track_event("e2", 0))
    finally:
        app.stop()
    sent = nucleus.parsed(Receipts, topics.RECEIPTS)
    frames_receipted = [(r.frame_id, r.outcome) for batch in sent for r in batch.receipts]
    events = [(r.event_id, r.sequence, r.outcome) for batch in sent for r in batch.events or []]
    assert frames_receipted == [("f1", "summarized"), ("f2", "stored")]
    assert events == [("e1", 0, "stored"), ("e1", 1, "stored"), ("e2", 0, "lost")]
    assert "snapshot" in cloud.events["e1"] and app.counters.get("snapshotsUploaded") == 1
    assert app.counters.get("framesSummarized") == 1 and app.counters.get("eventsNotStored") == 1
