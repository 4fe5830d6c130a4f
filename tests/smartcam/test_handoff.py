"""smartcam.handoff: the outbox keeps what has no receipt, resends with back-off and all at once after
a consumer restart, survives a restart through its store; receipts are batched and remembered."""

from __future__ import annotations

import threading
from collections.abc import Iterable

import pytest

from smartcam import topics
from smartcam.contracts import MAX_RECEIPTS, CaptureReceipt, Contract, EventReceipt, FrameReceipt, FrameRef, Receipts
from smartcam.handoff import Outbox, ReceiptMemory, ReceiptSender, StageWatch, new_instance


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class DictStore:
    def __init__(self) -> None:
        self.rows: dict[str, bytes] = {}

    def load(self) -> list[tuple[str, bytes]]:
        return list(self.rows.items())

    def put(self, key: str, body: bytes) -> None:
        self.rows[key] = body

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.rows.pop(key, None)


def frame(n: int) -> FrameRef:
    return FrameRef(frame_id=f"cam0-ab-{n}", camera_id="cam0", slot=n % 8,
                    sequence=n, captured_at=1.0 + n, captured_monotonic_ns=n, width=4, height=3, format="bgr8")


def outbox(clock: Clock, store: DictStore | None = None, capacity: int = 10) -> Outbox[FrameRef]:
    return Outbox(FrameRef, capacity=capacity, first_resend_s=2.0, max_resend_s=5.0, store=store, clock=clock)


def test_nothing_is_due_before_its_time_and_resends_back_off_to_the_cap():
    clock = Clock()
    box = outbox(clock)
    box.add("a", frame(1))
    assert box.due() == []
    clock.now += 2.0
    assert box.due() == [frame(1)]  # 1st resend after 2 s
    clock.now += 3.9
    assert box.due() == []  # the next waits 4 s
    clock.now += 0.1
    assert box.due() == [frame(1)]
    clock.now += 4.9
    assert box.due() == []  # then 8 s, capped at 5 s
    clock.now += 0.1
    assert box.due() == [frame(1)]


def test_a_receipt_settles_once_and_an_unknown_key_is_ignored():
    clock = Clock()
    box = outbox(clock)
    box.add("a", frame(1))
    box.add("b", frame(2))
    assert box.settle(["a", "zz"]) == [frame(1)]
    assert box.settle(["a"]) == []
    assert "a" not in box and "b" in box and len(box) == 1
    clock.now += 10
    assert box.due() == [frame(2)]


def test_adding_a_key_again_keeps_the_first_entry():
    box = outbox(Clock())
    box.add("a", frame(1))
    box.add("a", frame(2))
    assert len(box) == 1 and box.settle(["a"]) == [frame(1)]


def test_replacing_keeps_the_newest_message_and_its_resends_start_over():
    clock = Clock()
    store = DictStore()
    box = outbox(clock, store)
    box.add("a", frame(1))
    clock.now += 2.0
    assert box.due() == [frame(1)]
    clock.now += 1.0
    assert box.replace("a", frame(2)) is None
    assert len(box) == 1 and box.get("a") == frame(2) and store.rows == {"a": frame(2).to_bytes()}
    clock.now += 1.9
    assert box.due() == []  # due first_resend_s after the replacement, not after the first send
    clock.now += 0.1
    assert box.due() == [frame(2)]
    assert box.replace("b", frame(3)) is None and box.get("b") == frame(3)


def test_replacing_in_a_full_outbox_pushes_out_the_oldest_other_key():
    store = DictStore()
    box = outbox(Clock(), store, capacity=2)
    box.add("a", frame(1))
    box.add("b", frame(2))
    assert box.replace("b", frame(3)) is None  # a key it holds takes no more room
    assert box.replace("c", frame(4)) == frame(1)
    assert sorted(store.rows) == ["b", "c"] and box.get("a") is None


def test_a_receipt_for_an_older_message_does_not_settle_its_replacement():
    store = DictStore()
    box = outbox(Clock(), store)
    box.replace("e", frame(5))
    box.replace("f", frame(2))

    def covers(key: str, held: FrameRef) -> bool:
        return held.sequence <= 3  # the receipts cover up to sequence 3

    assert box.settle(["e", "f", "zz"], covers=covers) == [frame(2)]
    assert "e" in box and "f" not in box and sorted(store.rows) == ["e"]


def test_a_restarted_consumer_gets_everything_at_once():
    clock = Clock()
    box = outbox(clock)
    for n in range(3):
        box.add(f"k{n}", frame(n))
    assert box.resend_all_now() == 3
    assert box.due() == [frame(0), frame(1), frame(2)]
    assert box.due() == []  # and then backs off again


def test_a_full_outbox_hands_back_the_oldest_and_forgets_it_in_the_store():
    store = DictStore()
    box = outbox(Clock(), store, capacity=2)
    assert box.add("a", frame(1)) is None
    assert box.add("b", frame(2)) is None
    assert box.add("c", frame(3)) == frame(1)
    assert sorted(store.rows) == ["b", "c"] and len(box) == 2


def test_the_store_keeps_exactly_what_has_no_receipt_and_a_new_run_restores_it():
    store = DictStore()
    clock = Clock()
    first = outbox(clock, store)
    for n in range(4):
        first.add(f"k{n}", frame(n))
    first.settle(["k1"])
    assert sorted(store.rows) == ["k0", "k2", "k3"]

    second = outbox(clock, store)  # the component restarted
    assert second.restore() == [frame(0), frame(2), frame(3)]
    assert second.due() == [frame(0), frame(2), frame(3)]  # due at once
    second.settle(["k0", "k2", "k3"])
    assert store.rows == {}


def test_an_unreadable_stored_entry_is_dropped_not_fatal(caplog):
    store = DictStore()
    store.put("bad", b'{"schema": "smartcam.frame/1", "frame_id": 7}')
    store.put("good", frame(1).to_bytes())
    box = outbox(Clock(), store)
    assert box.restore() == [frame(1)]
    assert "bad" not in store.rows and "unreadable" in caplog.text


@pytest.mark.parametrize("capacity, first, most", [(0, 1.0, 2.0), (1, 0.0, 1.0), (1, 2.0, 1.0)])
def test_nonsense_bounds_are_refused(capacity, first, most):
    with pytest.raises(ValueError, match="outbox"):
        Outbox(FrameRef, capacity=capacity, first_resend_s=first, max_resend_s=most)


def receipts(stage: str, instance: str) -> Receipts:
    return Receipts(stage=stage, instance=instance, at=1.0, receipts=[])


def test_stage_watch_tells_a_new_run_of_each_stage():
    watch = StageWatch()
    one, two = new_instance(), new_instance()
    assert one != two and len(one) == 32
    assert watch.restarted(receipts("smartcam.SsdInference", one))  # first heard of: resend what waits
    assert not watch.restarted(receipts("smartcam.SsdInference", one))
    assert watch.restarted(receipts("smartcam.DynamoWriter", one))  # stages are told apart
    assert watch.restarted(receipts("smartcam.SsdInference", two))


def receipt(n: int, outcome: str = "stored") -> FrameReceipt:
    return FrameReceipt(frame_id=f"f{n}", camera_id="cam0", outcome=outcome)


def test_receipt_memory_answers_the_latest_and_forgets_the_oldest():
    memory = ReceiptMemory(capacity=2)
    memory.remember(receipt(1, "dropped"))
    memory.remember(receipt(2))
    memory.remember(receipt(1, "expired"))  # refreshed: now the newest
    memory.remember(receipt(3))
    assert memory.get("f1") == receipt(1, "expired")
    assert memory.get("f2") is None and memory.get("f3") == receipt(3)


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, Contract]] = []
        self.fail = fail
        self.event = threading.Event()

    def publish(self, topic: str, message: Contract) -> None:
        if self.fail:
            raise ConnectionError("nucleus gone")
        self.sent.append((topic, message))
        self.event.set()


def test_the_sender_announces_its_run_then_batches_in_order():
    ipc = Recorder()
    sender = ReceiptSender(ipc, "smartcam.DynamoWriter", interval_s=60)
    sender.start()
    assert ipc.sent == [(topics.RECEIPTS, ipc.sent[0][1])] and ipc.sent[0][1].receipts == []
    for n in range(MAX_RECEIPTS + 3):
        sender.add(receipt(n))
    sender.stop()  # flushes what is left
    batches = [message for _, message in ipc.sent[1:]]
    assert all(isinstance(m, Receipts) and m.stage == "smartcam.DynamoWriter" for m in batches)
    assert {m.instance for _, m in ipc.sent} == {sender.instance}
    assert [r.frame_id for m in batches for r in m.receipts] == [f"f{n}" for n in range(MAX_RECEIPTS + 3)]
    assert max(len(m.receipts) for m in batches) == MAX_RECEIPTS


def event_receipt(n: int, sequence: int = 0) -> EventReceipt:
    return EventReceipt(event_id=f"cam0.1764900000000.{n}", sequence=sequence, outcome="stored")


def test_event_receipts_share_the_batches_with_frame_receipts_and_are_absent_when_there_are_none():
    ipc = Recorder()
    sender = ReceiptSender(ipc, "smartcam.DynamoWriter", interval_s=60)
    sender.start()
    sender.add(receipt(1))
    for n in range(MAX_RECEIPTS + 2):
        sender.add_event(event_receipt(n, sequence=n % 3))
    sender.stop()
    announcement, *batches = [message for _, message in ipc.sent]
    assert announcement.events is None and "events" not in announcement.to_message()
    assert all(isinstance(m, Receipts) for m in batches)
    assert [r.frame_id for m in batches for r in m.receipts] == ["f1"]
    events = [r for m in batches for r in (m.events or [])]
    assert events == [event_receipt(n, sequence=n % 3) for n in range(MAX_RECEIPTS + 2)]
    assert max(len(m.events or []) for m in batches) == MAX_RECEIPTS


def test_a_full_batch_of_event_receipts_goes_out_before_the_interval():
    ipc = Recorder()
    sender = ReceiptSender(ipc, "smartcam.DynamoWriter", interval_s=3600)
    sender.start()
    ipc.event.clear()
    for n in range(MAX_RECEIPTS):
        sender.add_event(event_receipt(n))
    assert ipc.event.wait(10)  # woken by the full batch, not after an hour
    sender.stop()
    assert len(ipc.sent[1][1].events) == MAX_RECEIPTS


def test_capture_receipts_share_the_batches_and_a_message_of_them_alone_is_no_announcement():
    ipc = Recorder()
    sender = ReceiptSender(ipc, "smartcam.DynamoWriter", interval_s=3600)
    sender.start()
    ipc.event.clear()
    for n in range(MAX_RECEIPTS + 1):
        sender.add_capture(CaptureReceipt(frame_id=f"cam0-ab-{n}", outcome="stored"))
    assert ipc.event.wait(10)  # a full batch goes out before the interval
    sender.add_event(event_receipt(1))
    sender.stop()
    announcement, *batches = [message for _, message in ipc.sent]
    assert announcement.announcement and "captures" not in announcement.to_message()
    assert not any(m.announcement for m in batches)
    assert [r.frame_id for m in batches for r in m.captures or []] == [f"cam0-ab-{n}" for n in range(MAX_RECEIPTS + 1)]
    assert max(len(m.captures or []) for m in batches) == MAX_RECEIPTS
    assert [r for m in batches for r in m.events or []] == [event_receipt(1)]


def test_the_sender_flushes_on_its_interval():
    ipc = Recorder()
    sender = ReceiptSender(ipc, "smartcam.SsdInference", interval_s=0.01)
    sender.start()
    ipc.event.clear()
    sender.add(receipt(1, "dropped"))
    assert ipc.event.wait(10)
    sender.stop()
    assert ipc.sent[-1][1].receipts == [receipt(1, "dropped")]


def test_a_batch_that_cannot_be_published_is_reported_not_raised():
    failures: list[BaseException] = []
    sender = ReceiptSender(Recorder(fail=True), "smartcam.DynamoWriter", interval_s=60, on_failure=failures.append)
    sender.start()  # the announcement fails too
    sender.add(receipt(1))
    sender.stop()
    assert len(failures) == 2 and all(isinstance(f, ConnectionError) for f in failures)
