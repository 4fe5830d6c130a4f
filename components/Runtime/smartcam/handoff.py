"""Hand-offs that survive restarts: outboxes on the producing side, receipts on the consuming side.

Local pub/sub delivers at most once. Each hand-off in the pipeline (frames to inference, detections
to the writer) is therefore made at-least-once here and exactly-once at the consumer:

- the producer puts every message it sends into an :class:`Outbox`, keyed by frame id, until a
  receipt for that frame arrives (:mod:`smartcam.contracts.receipts`); a producer whose messages
  supersede each other (EventTracker: each message is the whole event as of then) keeps the latest
  per key (:meth:`Outbox.replace`) and settles only on a receipt that covers it;
- it sends what is still in the outbox again when the consumer restarts (its receipts carry a new
  ``instance``; :class:`StageWatch` notices) and, as a fallback, when no receipt came within
  ``first_resend_s`` (then twice as long each time, up to ``max_resend_s``);
- the consumer de-duplicates by frame id and answers a message it has seen with the receipt it
  gave before (:class:`ReceiptMemory`), through one batching :class:`ReceiptSender`.

An outbox can be durable (an :class:`OutboxStore`): CameraIngest keeps its own in its journal so a
frame captured before a crash of the camera component, or of the whole runtime, is still followed.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from smartcam import topics
from smartcam.contracts import MAX_RECEIPTS, CaptureReceipt, Contract, EventReceipt, FrameReceipt, Receipts, parse

log = logging.getLogger(__name__)

M = TypeVar("M", bound=Contract)


def new_instance() -> str:
    """A token for this run of a component: receipts carry it, so peers can tell a restart."""
    return secrets.token_hex(16)


class OutboxStore(Protocol):
    """Where a durable outbox keeps its messages (bytes of the contract's JSON), by key."""

    def load(self) -> list[tuple[str, bytes]]: ...

    def put(self, key: str, body: bytes) -> None: ...

    def delete(self, keys: Iterable[str]) -> None: ...


@dataclass
class _Entry(Generic[M]):
    message: M
    attempts: int  # sends so far
    due: float  # monotonic time of the next resend


class Outbox(Generic[M]):
    """What a producer sent and has no receipt for yet. Thread-safe, bounded by ``capacity``."""

    def __init__(
        self,
        model: type[M],
        *,
        capacity: int,
        first_resend_s: float,
        max_resend_s: float,
        store: OutboxStore | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity < 1 or first_resend_s <= 0 or max_resend_s < first_resend_s:
            raise ValueError("outbox: capacity >= 1 and 0 < first_resend_s <= max_resend_s")
        self._model = model
        self._capacity = capacity
        self._first = first_resend_s
        self._max = max_resend_s
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry[M]] = OrderedDict()

    def restore(self) -> list[M]:
        """Load what the store kept from an earlier run; each is due for a resend now."""
        if self._store is None:
            return []
        restored: list[M] = []
        now = self._clock()
        unreadable: list[str] = []
        for key, body in self._store.load():
            try:
                message = parse(self._model, body)
            except ValueError as exc:
                log.error("outbox: entry %s is unreadable and is dropped: %s", key, exc)
                unreadable.append(key)
                continue
            with self._lock:
                self._entries[key] = _Entry(message, attempts=1, due=now)
            restored.append(message)
        if unreadable:
            self._store.delete(unreadable)
        return restored

    def add(self, key: str, message: M) -> M | None:
        """Remember ``message`` as sent now. Returns the oldest message pushed out when the outbox is
        full (the caller accounts for it), else None. Adding a key again keeps the first entry."""
        evicted: tuple[str, M] | None = None
        with self._lock:
            if key in self._entries:
                return None
            if len(self._entries) >= self._capacity:
                old_key, old = self._entries.popitem(last=False)
                evicted = (old_key, old.message)
            self._entries[key] = _Entry(message, attempts=1, due=self._clock() + self._first)
        if self._store is not None:
            self._store.put(key, message.to_bytes())
            if evicted is not None:
                self._store.delete([evicted[0]])
        return None if evicted is None else evicted[1]

    def replace(self, key: str, message: M) -> M | None:
        """Remember ``message`` as sent now, in place of whatever ``key`` held (a newer whole message of
        the same thing): its resends start over. Returns what a full outbox pushed out, as :meth:`add`.

        The store is written after the outbox's lock is released, as in :meth:`add` and :meth:`settle`:
        a producer replaces and settles one key from one thread, or the store may keep the older one."""
        evicted: tuple[str, M] | None = None
        with self._lock:
            if key not in self._entries and len(self._entries) >= self._capacity:
                old_key, old = self._entries.popitem(last=False)
                evicted = (old_key, old.message)
            self._entries.pop(key, None)
            self._entries[key] = _Entry(message, attempts=1, due=self._clock() + self._first)
        if self._store is not None:
            self._store.put(key, message.to_bytes())
            if evicted is not None:
                self._store.delete([evicted[0]])
        return None if evicted is None else evicted[1]

    def settle(self, keys: Iterable[str], *, covers: Callable[[str, M], bool] | None = None) -> list[M]:
        """Receipts arrived for ``keys``: forget them. Returns the messages that were waiting.

        With ``covers``, a key is settled only if ``covers(key, held message)`` is true: a receipt for an
        older message than the one :meth:`replace` put there since settles nothing."""
        settled: list[tuple[str, M]] = []
        with self._lock:
            for key in keys:
                entry = self._entries.get(key)
                if entry is not None and (covers is None or covers(key, entry.message)):
                    del self._entries[key]
                    settled.append((key, entry.message))
        if settled and self._store is not None:
            self._store.delete([key for key, _ in settled])
        return [message for _, message in settled]

    def due(self) -> list[M]:
        """The messages to send again now; each one's next resend backs off (doubling)."""
        now = self._clock()
        out: list[M] = []
        with self._lock:
            for entry in self._entries.values():
                if entry.due <= now:
                    entry.attempts += 1
                    entry.due = now + min(self._first * 2 ** (entry.attempts - 1), self._max)
                    out.append(entry.message)
        return out

    def resend_all_now(self) -> int:
        """The consumer restarted: everything waiting is due at once. Returns how many."""
        now = self._clock()
        with self._lock:
            for entry in self._entries.values():
                entry.due = now
            return len(self._entries)

    def get(self, key: str) -> M | None:
        """The message ``key`` holds, None when it holds none."""
        with self._lock:
            entry = self._entries.get(key)
            return None if entry is None else entry.message

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._entries

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


class StageWatch:
    """Which run (instance) of each consuming stage a producer last heard from."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._instances: dict[str, str] = {}

    def restarted(self, receipts: Receipts) -> bool:
        """True when ``receipts`` come from a run of their stage not heard from before."""
        with self._lock:
            before = self._instances.get(receipts.stage)
            self._instances[receipts.stage] = receipts.instance
        return before != receipts.instance


class ReceiptMemory:
    """The receipts a consumer gave lately, by frame id, so a message sent again is answered the
    same way without being handled twice. Bounded: the oldest are forgotten first."""

    def __init__(self, capacity: int = 20_000) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._receipts: OrderedDict[str, FrameReceipt] = OrderedDict()

    def remember(self, receipt: FrameReceipt) -> None:
        with self._lock:
            self._receipts[receipt.frame_id] = receipt
            self._receipts.move_to_end(receipt.frame_id)
            while len(self._receipts) > self._capacity:
                self._receipts.popitem(last=False)

    def get(self, frame_id: str) -> FrameReceipt | None:
        with self._lock:
            return self._receipts.get(frame_id)


class Publisher(Protocol):
    def publish(self, topic: str, message: Contract) -> None: ...


class ReceiptSender:
    """Batches one stage's receipts onto ``smartcam/receipts``: at most every ``interval_s``, or at
    once when a batch is full. Frame receipts (:meth:`add`), event receipts (:meth:`add_event`) and
    capture receipts (:meth:`add_capture`) share the messages, up to ``MAX_RECEIPTS`` of each in one.
    A batch that cannot be published is dropped with a log line: the producers send those frames,
    events and captures again and get the same receipts then."""

    def __init__(self, ipc: Publisher, stage: str, *, instance: str | None = None, interval_s: float = 0.1,
                 on_failure: Callable[[BaseException], None] = lambda _: None) -> None:
        self._ipc = ipc
        self.stage = stage
        self.instance = instance or new_instance()
        self._interval_s = interval_s
        self._on_failure = on_failure
        self._lock = threading.Condition()
        self._batch: list[FrameReceipt] = []
        self._events: list[EventReceipt] = []
        self._captures: list[CaptureReceipt] = []
        self._stop = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Announce this run (an empty batch) and start sending."""
        self._send([], [], [])
        self._thread = threading.Thread(target=self._run, name=f"receipts-{self.stage}", daemon=True)
        self._thread.start()

    def add(self, receipt: FrameReceipt) -> None:
        with self._lock:
            self._batch.append(receipt)
            if len(self._batch) >= MAX_RECEIPTS:
                self._lock.notify()

    def add_event(self, receipt: EventReceipt) -> None:
        with self._lock:
            self._events.append(receipt)
            if len(self._events) >= MAX_RECEIPTS:
                self._lock.notify()

    def add_capture(self, receipt: CaptureReceipt) -> None:
        with self._lock:
            self._captures.append(receipt)
            if len(self._captures) >= MAX_RECEIPTS:
                self._lock.notify()

    def stop(self) -> None:
        with self._lock:
            self._stop = True
            self._lock.notify()
        if self._thread is not None:
            self._thread.join(5)
        self._flush()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._stop and max(len(self._batch), len(self._events), len(self._captures)) < MAX_RECEIPTS:
                    self._lock.wait(self._interval_s)
                if self._stop:
                    return
            self._flush()

    def _flush(self) -> None:
        while True:
            with self._lock:
                batch, self._batch = self._batch[:MAX_RECEIPTS], self._batch[MAX_RECEIPTS:]
                events, self._events = self._events[:MAX_RECEIPTS], self._events[MAX_RECEIPTS:]
                captures, self._captures = self._captures[:MAX_RECEIPTS], self._captures[MAX_RECEIPTS:]
            if not batch and not events and not captures:
                return
            self._send(batch, events, captures)

    def _send(self, batch: list[FrameReceipt], events: list[EventReceipt], captures: list[CaptureReceipt]) -> None:
        # ``events`` and ``captures`` absent when there are none: a message of frame receipts keeps its size.
        message = Receipts(stage=self.stage, instance=self.instance, at=time.time(), receipts=batch,
                           events=events or None, captures=captures or None)
        try:
            self._ipc.publish(topics.RECEIPTS, message)
        except Exception as exc:  # noqa: BLE001 - producers resend; the same receipts go out then
            log.warning("%d receipts not published: %s", len(batch) + len(events) + len(captures), exc)
            self._on_failure(exc)
