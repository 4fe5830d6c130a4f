"""The receiving side and the backoff, without DynamoDB."""

import random
import sqlite3
from contextlib import closing

import pytest

from dynamo_writer import receiver as receiver_module
from dynamo_writer.backoff import Backoff
from dynamo_writer.items import NumberOutOfRange
from dynamo_writer.receiver import FRAME_MEMORY_S, PRUNE_INTERVAL_S, Receiver
from dynamo_writer.spool import Spool
from smartcam.contracts import FrameReceipt
from smartcam.telemetry import Counters
from tests.dynamo_writer.helpers import DEVICE, RecordingReceipts, config, detections, frames


def receiver_for(tmp_path, **over):
    spool = Spool(tmp_path / "spool.sqlite3")
    counters = Counters()
    woken = []
    cfg = config(**over)
    return Receiver(spool, lambda: cfg, counters, DEVICE, lambda: woken.append(1)), spool, counters, woken


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Rig:
    """A receiver handing its receipts to a recorder, over a spool file that outlives it."""

    def __init__(self, path, clock=None, **over):
        self.spool = Spool(path)
        self.counters = Counters()
        self.receipts = RecordingReceipts()
        cfg = config(**over)
        self.receiver = Receiver(self.spool, lambda: cfg, self.counters, DEVICE, lambda: None,
                                 receipts=self.receipts, clock=clock or Clock())

    def send(self, message):
        return self.receiver.on_message("smartcam/detections", message.to_message())

    def close(self):
        self.receiver.stop()
        self.spool.close()


@pytest.fixture
def rig(tmp_path):
    r = Rig(tmp_path / "spool.sqlite3")
    yield r
    r.close()


@pytest.mark.parametrize("bad", [
    b"not json", {"schema": "smartcam.detections/1"}, {"schema": "smartcam.frame/1"}, [1, 2], b"\xff",
    {**detections().to_message(), "extra": 1},
])
def test_invalid_message_is_counted_and_not_spooled(tmp_path, bad):
    receiver, spool, counters, _ = receiver_for(tmp_path)
    assert receiver.on_message("smartcam/detections", bad) is None
    assert counters.get("messagesInvalid") == 1
    assert spool.depth() == (0, 0)


def test_valid_message_is_spooled_and_wakes_the_sender(tmp_path):
    receiver, spool, counters, woken = receiver_for(tmp_path, batchSize=3)
    admission = receiver.on_message("smartcam/detections", detections("f1", labels=("a", "b")).to_message())
    assert admission.accepted == 2
    assert spool.depth()[0] == 2 and woken == [1]
    receiver.on_message("smartcam/detections", detections("f2").to_message())
    assert woken == [1, 1]
    assert counters.get("itemsSpooled") == 3


def test_json_bytes_are_accepted_too(tmp_path):
    receiver, spool, _, _ = receiver_for(tmp_path)
    receiver.on_message("smartcam/detections", detections("f1").to_bytes())
    assert spool.depth()[0] == 1


def test_empty_frame_is_counted_not_stored(tmp_path):
    receiver, spool, counters, _ = receiver_for(tmp_path)
    receiver.on_message("smartcam/detections", detections("f1", labels=()).to_message())
    assert counters.get("framesWithoutDetections") == 1 and spool.depth()[0] == 0


def test_overflow_refuse_newest_is_counted(tmp_path):
    receiver, spool, counters, _ = receiver_for(tmp_path, maxSpoolItems=3)
    for message in frames(5):
        receiver.on_message("smartcam/detections", message.to_message())
    assert spool.depth()[0] == 3
    assert counters.get("itemsRefusedSpoolFull") == 2 and counters.get("itemsDroppedOldest") == 0


def test_overflow_drop_oldest_is_counted(tmp_path):
    receiver, spool, counters, _ = receiver_for(tmp_path, maxSpoolItems=3, overflowPolicy="dropOldest")
    messages = frames(5)
    for message in messages:
        receiver.on_message("smartcam/detections", message.to_message())
    assert [r.item["frameId"]["S"] for r in spool.peek(10)] == [m.frame.frame_id for m in messages[2:]]
    assert counters.get("itemsDroppedOldest") == 2 and counters.get("itemsRefusedSpoolFull") == 0


def test_closed_receiver_ignores_late_messages(tmp_path):
    receiver, spool, counters, _ = receiver_for(tmp_path)
    receiver.closed = True
    assert receiver.on_message("smartcam/detections", detections().to_message()) is None
    assert spool.depth()[0] == 0 and counters.get("messagesReceived") == 0


# --- receipts ----------------------------------------------------------------------------------------

def test_a_spooled_frame_is_receipted_stored_with_its_item_count(rig):
    rig.send(detections("f1", labels=("person", "dog"), camera_id="cam7", request_id="req-3"))
    assert rig.receipts.receipts == [FrameReceipt(frame_id="f1", camera_id="cam7", request_id="req-3",
                                                  outcome="stored", items=2)]
    assert rig.spool.depth()[0] == 2


@pytest.mark.parametrize("bad", [b"not json", {**detections().to_message(), "extra": 1}])
def test_an_invalid_message_gets_no_receipt(rig, bad):
    assert rig.receiver.on_message("smartcam/detections", bad) is None
    assert rig.receipts.receipts == [] and rig.counters.get("messagesInvalid") == 1


def test_a_frame_sent_again_gets_the_same_receipt_and_is_not_spooled_twice(rig):
    message = detections("f1", labels=("a", "b"), request_id="req-1")
    first = rig.send(message)
    again = rig.send(message)
    assert (first.accepted, again.accepted, again.already_decided) == (2, 0, True)
    assert rig.receipts.receipts[0] == rig.receipts.receipts[1]
    assert rig.receipts.receipts[0].outcome == "stored" and rig.receipts.receipts[0].items == 2
    assert rig.spool.depth()[0] == 2
    assert rig.counters.get("messagesDuplicate") == 1 and rig.counters.get("itemsSpooled") == 2
    assert rig.counters.get("itemsDuplicate") == 0


def test_a_frame_decided_before_a_restart_is_answered_from_the_spool(tmp_path):
    before = Rig(tmp_path / "spool.sqlite3")
    message = detections("f1", labels=("a",))
    before.send(message)
    before.close()
    after = Rig(tmp_path / "spool.sqlite3")  # the component restarted: only the spool remembers
    assert after.send(message).already_decided
    assert after.receipts.receipts == before.receipts.receipts
    assert after.spool.depth()[0] == 1 and after.counters.get("messagesDuplicate") == 1
    after.close()


def test_a_frame_without_detections_is_receipted_and_remembered(rig):
    empty = detections("empty", labels=(), request_id="req-2")
    rig.send(empty)
    rig.send(empty)
    assert rig.receipts.receipts == [FrameReceipt(frame_id="empty", camera_id="cam1", request_id="req-2",
                                                  outcome="no_detections", items=0)] * 2
    assert rig.spool.decided("empty") is not None and rig.spool.depth()[0] == 0
    assert rig.counters.get("framesWithoutDetections") == 1 and rig.counters.get("messagesDuplicate") == 1


def with_candidates(message, count=3):
    """``message`` with SsdInference's weak candidates below its results (hints for the tracker only)."""
    weak = [{"label": "person", "class_id": 0, "score": 0.3 - 0.05 * i,
             "box": {"x1": 0.5, "y1": 0.1 * i, "x2": 0.6, "y2": 0.1 * i + 0.3}} for i in range(count)]
    return type(message).model_validate({**message.to_message(), "candidates": weak})


@pytest.mark.parametrize("store", ["detections", "both", "events"])
def test_candidates_are_neither_stored_nor_counted(tmp_path, store):
    """The writer's items, receipts and counters are those of the same frames without candidates; a frame
    with candidates only has no detections."""
    plain, hinted = Rig(tmp_path / "plain.sqlite3", store=store), Rig(tmp_path / "hinted.sqlite3", store=store)
    for message in (detections("f1", labels=("person", "dog")), detections("f2", labels=())):
        plain.send(message)
        hinted.send(with_candidates(message))
    assert hinted.receipts.receipts == plain.receipts.receipts
    assert hinted.receipts.outcomes()[1] == ("f2", "no_detections")
    assert [r.item for r in hinted.spool.peek(10)] == [r.item for r in plain.spool.peek(10)]
    assert hinted.counters.snapshot() == plain.counters.snapshot()
    plain.close()
    hinted.close()


def test_in_events_mode_a_frame_with_detections_is_summarized_and_nothing_spooled(tmp_path):
    rig = Rig(tmp_path / "spool.sqlite3", store="events")
    message = detections("f1", labels=("person", "dog"), request_id="req-4")
    rig.send(message)
    rig.send(detections("empty", labels=()))
    rig.send(message)  # sent again: the same receipt
    assert rig.receipts.receipts == [
        FrameReceipt(frame_id="f1", camera_id="cam1", request_id="req-4", outcome="summarized", items=0),
        FrameReceipt(frame_id="empty", camera_id="cam1", outcome="no_detections", items=0),
        FrameReceipt(frame_id="f1", camera_id="cam1", request_id="req-4", outcome="summarized", items=0)]
    assert rig.spool.depth() == (0, 0) and rig.spool.decided("f1").outcome == "summarized"
    assert (rig.counters.get("framesSummarized"), rig.counters.get("framesWithoutDetections")) == (1, 1)
    assert rig.counters.get("itemsSpooled") == 0
    rig.close()


def test_in_both_mode_frames_are_stored_as_in_detections_mode(tmp_path):
    rig = Rig(tmp_path / "spool.sqlite3", store="both")
    rig.send(detections("f1", labels=("person", "dog")))
    assert rig.receipts.outcomes() == [("f1", "stored")] and rig.spool.depth()[0] == 2
    rig.close()


def test_the_store_mode_applies_from_the_next_frame(tmp_path):
    rig = Rig(tmp_path / "spool.sqlite3", store="detections")
    settings = {"store": "detections"}
    rig.receiver._settings = lambda: config(**settings)
    rig.send(detections("f1"))
    settings["store"] = "events"
    rig.send(detections("f2"))
    rig.send(detections("f1"))  # decided before the change: the same answer
    settings["store"] = "both"
    rig.send(detections("f3"))
    assert rig.receipts.outcomes() == [("f1", "stored"), ("f2", "summarized"), ("f1", "stored"), ("f3", "stored")]
    assert {r.item["frameId"]["S"] for r in rig.spool.peek(10)} == {"f1", "f3"}
    rig.close()


def test_a_frame_the_full_spool_refuses_is_receipted_lost_and_a_resend_gets_the_same(tmp_path):
    rig = Rig(tmp_path / "spool.sqlite3", maxSpoolItems=1)
    kept, refused = frames(2)
    rig.send(kept)
    rig.send(refused)
    rig.send(refused)
    (lost, again) = rig.receipts.for_frame(refused.frame.frame_id)
    assert lost == again and lost.outcome == "lost" and lost.items == 0
    assert "no room" in lost.detail and "refuseNewest" in lost.detail
    assert rig.counters.get("itemsRefusedSpoolFull") == 1 and rig.counters.get("framesLost") == 1
    assert rig.counters.get("messagesDuplicate") == 1
    assert [r.item["frameId"]["S"] for r in rig.spool.peek(10)] == [kept.frame.frame_id]
    rig.close()


def test_a_number_dynamodb_cannot_store_loses_the_frame_with_a_receipt(rig, monkeypatch):
    def refuse(*_):
        raise NumberOutOfRange("nan: DynamoDB has no NaN or infinity")

    monkeypatch.setattr(receiver_module, "items_for", refuse)
    assert rig.send(detections("f1")) is None
    (receipt,) = rig.receipts.receipts
    assert receipt.outcome == "lost" and "NaN" in receipt.detail
    assert rig.counters.get("messagesInvalid") == 1 and rig.spool.depth()[0] == 0


def backdate(path, frame_id, seconds):
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE frames SET decided_at = decided_at - ? WHERE frame_id = ?", (seconds, frame_id))


def test_decided_frames_are_pruned_at_start_and_then_at_most_hourly(tmp_path):
    clock = Clock()
    rig = Rig(tmp_path / "spool.sqlite3", clock=clock)
    old, young, later = frames(3)
    for message in (old, young):
        rig.send(message)
    backdate(rig.spool.path, old.frame.frame_id, FRAME_MEMORY_S + 60)
    backdate(rig.spool.path, young.frame.frame_id, FRAME_MEMORY_S - 3600)
    rig.receiver.start()  # prunes first
    assert rig.spool.decided(old.frame.frame_id) is None
    assert rig.spool.decided(young.frame.frame_id) is not None
    rig.send(later)
    backdate(rig.spool.path, young.frame.frame_id, 7200)  # now past the limit too
    clock.now += PRUNE_INTERVAL_S - 1
    assert rig.receiver.prune_if_due() == 0  # not an hour yet
    assert rig.spool.decided(young.frame.frame_id) is not None
    clock.now += 1
    assert rig.receiver.prune_if_due() == 1
    assert rig.spool.decided(young.frame.frame_id) is None and rig.spool.decided(later.frame.frame_id) is not None
    assert rig.spool.depth()[0] == 3  # items waiting for DynamoDB are never pruned
    rig.close()


def test_a_failed_pruning_waits_for_the_next_hour_and_breaks_nothing(rig, monkeypatch):
    def broken(*_):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(rig.spool, "prune_frames", broken)
    assert rig.receiver.prune_if_due() == 0
    rig.send(detections("f1"))
    assert rig.receipts.outcomes() == [("f1", "stored")]


def test_backoff_grows_exponentially_with_full_jitter_up_to_the_cap():
    backoff = Backoff(0.1, 2.0, random.Random(7))
    ceilings = [min(2.0, 0.1 * 2**i) for i in range(10)]
    delays = [backoff.next_delay() for _ in ceilings]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert max(delays[6:]) > 0.4  # grew beyond the first ceilings
    backoff.reset()
    assert backoff.next_delay() <= 0.1
