"""The receiving side and the backoff, without DynamoDB."""

import random

import pytest

from dynamo_writer.backoff import Backoff
from dynamo_writer.receiver import Receiver
from dynamo_writer.spool import Spool
from smartcam.telemetry import Counters
from tests.dynamo_writer.helpers import DEVICE, config, detections, frames


def receiver_for(tmp_path, **over):
    spool = Spool(tmp_path / "spool.sqlite3")
    counters = Counters()
    woken = []
    cfg = config(**over)
    return Receiver(spool, lambda: cfg, counters, DEVICE, lambda: woken.append(1)), spool, counters, woken


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


def test_backoff_grows_exponentially_with_full_jitter_up_to_the_cap():
    backoff = Backoff(0.1, 2.0, random.Random(7))
    ceilings = [min(2.0, 0.1 * 2**i) for i in range(10)]
    delays = [backoff.next_delay() for _ in ceilings]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert max(delays[6:]) > 0.4  # grew beyond the first ceilings
    backoff.reset()
    assert backoff.next_delay() <= 0.1
