"""The memory for detections the spool cannot take yet: bounded by items, bytes and messages, and
knows which frames it holds (the receiver ignores a resend of one)."""

from dynamo_writer.holdback import HeldBack, HeldMessage
from dynamo_writer.items import items_for
from dynamo_writer.spool import FrameKey
from tests.dynamo_writer.helpers import DEVICE, detections


def held(frame_id, labels=("person",)):
    return HeldMessage(FrameKey(frame_id, "cam1"), items_for(detections(frame_id, labels=labels), DEVICE, 30))


def test_holds_in_order_and_knows_its_frames():
    back = HeldBack(max_items=10, max_bytes=10**9)
    assert back.offer(held("a", ("x", "y"))) and back.offer(held("b"))
    assert "a" in back and "b" in back and "c" not in back
    assert (len(back), back.items) == (2, 3)
    assert back.pop_oldest().frame_id == "a"
    assert "a" not in back and back.oldest().frame_id == "b"
    assert back.items == 1 and back.bytes == held("b").size


def test_refuses_what_exceeds_items_or_bytes():
    first = held("a", ("x", "y"))
    assert not HeldBack(max_items=1, max_bytes=10**9).offer(first)
    assert not HeldBack(max_items=10, max_bytes=first.size - 1).offer(first)
    back = HeldBack(max_items=2, max_bytes=10**9)
    assert back.offer(first) and not back.offer(held("b"))
    assert "b" not in back and back.items == 2


def test_frames_without_items_are_bounded_by_their_number():
    back = HeldBack(max_items=10, max_bytes=10**9, max_messages=2)
    empty = [held(f"e{i}", labels=()) for i in range(3)]
    assert [back.offer(m) for m in empty] == [True, True, False]
    assert (len(back), back.items, back.bytes) == (2, 0, 0)
    assert HeldBack(max_items=3, max_bytes=10**9).max_messages == 3  # by default as many as items
