"""The receiving side: a detections message in, its frame decided in the spool, a receipt out.

A frame is decided once: its items and its row in the spool's ``frames`` table commit in one
transaction, and only then does its receipt go out (``stored`` with the item count, or
``no_detections``). In store mode ``events`` a frame's detections are not stored per frame (they
live on in EventTracker's events): the frame is recorded all the same and receipted ``summarized``.
A message for a frame decided before inserts nothing and is answered with the same receipt
(``messagesDuplicate``): producers resend until a receipt reaches them.

When the spool cannot write (disk full, I/O error) the message is held in memory
(:class:`~dynamo_writer.holdback.HeldBack`), without a receipt, and retried every
:data:`RETRY_INTERVAL_S` until the spool takes it, in arrival order; health is degraded with the
reason meanwhile. A resend of a frame held is ignored (``messagesResentWhileHeld``): the held one is
receipted once spooled. Only a message beyond the memory bound, one the spool fails for good, or one
a full spool refuses is lost: counted, receipted ``lost`` with the reason (a resend gets the same
receipt while this process remembers it), and the first two are reported as an error. An invalid
message gets no receipt: nothing in it can be trusted, its frame id included.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from dynamo_writer.holdback import HeldBack, HeldMessage
from dynamo_writer.items import NumberOutOfRange, SpoolItem, items_for
from dynamo_writer.settings import DynamoWriterConfig
from dynamo_writer.spool import Admission, DecidedFrame, FrameKey, Spool
from smartcam.contracts import ContractError, Detections, FrameReceipt, parse
from smartcam.handoff import ReceiptMemory
from smartcam.telemetry import Counters, HealthState

log = logging.getLogger(__name__)

RETRY_INTERVAL_S = 0.5
# Memory for detections while the spool cannot write: about a minute of a busy device.
MAX_HELD_ITEMS = 20_000
MAX_HELD_BYTES = 64 * 1024 * 1024
# How long the spool remembers a decided frame: far longer than any producer keeps resending it.
FRAME_MEMORY_S = 2 * 86_400
PRUNE_INTERVAL_S = 3600.0
MAX_RECEIPT_DETAIL = 1024


class StatusSink(Protocol):
    def report(self, kind: str, detail: str, state: HealthState = "degraded") -> bool: ...


class ReceiptSink(Protocol):
    def add(self, receipt: FrameReceipt) -> None: ...


class SpoolUnavailable(Exception):
    """The spool could not commit (disk full, I/O error): worth trying again later."""


class SpoolFailed(Exception):
    """The spool refused this message for a reason retrying will not change (e.g. a corrupt database)."""


def receipt_for(decided: DecidedFrame) -> FrameReceipt:
    return FrameReceipt(frame_id=decided.frame_id, camera_id=decided.camera_id, request_id=decided.request_id,
                        outcome=decided.outcome, items=decided.items)


def lost_receipt(frame: FrameKey, reason: str) -> FrameReceipt:
    return FrameReceipt(frame_id=frame.frame_id, camera_id=frame.camera_id, request_id=frame.request_id,
                        outcome="lost", detail=reason[:MAX_RECEIPT_DETAIL])


class Receiver:
    def __init__(
        self,
        spool: Spool,
        settings: Callable[[], DynamoWriterConfig],
        counters: Counters,
        device: str,
        wake_sender: Callable[[], None],
        *,
        status: StatusSink | None = None,
        held: HeldBack | None = None,
        receipts: ReceiptSink | None = None,
        clock: Callable[[], float] = time.monotonic,
        upkeep: Callable[[], object] | None = None,  # also run in the retry loop (the events' pruning)
    ) -> None:
        self._spool = spool
        self._settings = settings
        self._counters = counters
        self._device = device
        self._wake_sender = wake_sender
        self._status = status
        self._receipts = receipts
        self._clock = clock
        self._upkeep = upkeep
        self.held = held if held is not None else HeldBack(max_items=MAX_HELD_ITEMS, max_bytes=MAX_HELD_BYTES)
        self._lost = ReceiptMemory()  # lost frames have no row in the spool: remembered here instead
        self._lock = threading.Lock()  # one admission at a time: held messages stay in order
        self.spool_error: str | None = None  # why the spool refused, while anything is held
        self._pruned_at: float | None = None
        self._stop = threading.Event()
        self._retrier: threading.Thread | None = None
        self.closed = False

    def start(self) -> None:
        self.prune_if_due()
        self._retrier = threading.Thread(target=self._retry_loop, name="writer-spool-retry", daemon=True)
        self._retrier.start()

    def stop(self) -> None:
        self.closed = True
        self._stop.set()
        if self._retrier is not None:
            self._retrier.join(10)

    def on_message(self, _topic: str, payload: Any) -> Admission | None:
        """Handle one message from smartcam/detections; never raises on bad input."""
        if self.closed:
            return None
        self._counters.add("messagesReceived")
        try:
            message = parse(Detections, payload)
        except ContractError as exc:
            self._counters.add("messagesInvalid")
            log.warning("detections message refused, not spooled: %s", exc)
            return None
        frame = FrameKey(message.frame.frame_id, message.frame.camera_id, message.frame.request_id)
        cfg = self._settings()
        try:
            items = items_for(message, self._device, cfg.retention_days) if cfg.stores_detections else []
        except NumberOutOfRange as exc:  # the contracts bound numbers; this guards what they miss
            self._counters.add("messagesInvalid")
            log.warning("detections message refused, not spooled: %s", exc)
            # The frame id is sound: say so, or the producer resends the same message until it gives up.
            self._decide_lost(frame, f"refused: a number DynamoDB cannot store: {exc}")
            return None
        with self._lock:
            if frame.frame_id in self.held:
                self._counters.add("messagesResentWhileHeld")
                return Admission(ignored=True)
            if (lost := self._lost.get(frame.frame_id)) is not None:
                self._counters.add("messagesDuplicate")
                self._send(lost)
                return Admission(already_decided=True)
            summarized = not cfg.stores_detections and bool(message.detections)
            admission = self._admit(HeldMessage(frame, items, summarized), cfg)
        if admission.accepted:
            self._wake_sender()
        return admission

    def retry_held(self) -> int:
        """Offer the held messages to the spool again, oldest first; the number of items now spooled."""
        cfg = self._settings()
        spooled = 0
        with self._lock:
            while (held := self.held.oldest()) is not None:
                try:
                    admission = self._put(held, cfg)
                except SpoolUnavailable as exc:
                    self.spool_error = str(exc)
                    break
                except SpoolFailed as exc:
                    self._lose(self.held.pop_oldest(), "itemsLostSpoolError", str(exc))
                    continue
                self.held.pop_oldest()
                spooled += admission.accepted
                self._decided(held, admission, cfg)
            if not len(self.held) and self.spool_error is not None:
                log.warning("spool writable again; every held message is spooled")
                self.spool_error = None
        if spooled:
            self._wake_sender()
        return spooled

    def prune_if_due(self) -> int:
        """Forget frames decided more than :data:`FRAME_MEMORY_S` ago, at most every
        :data:`PRUNE_INTERVAL_S`; the number forgotten."""
        now = self._clock()
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_INTERVAL_S:
            return 0
        self._pruned_at = now
        try:
            removed = self._spool.prune_frames(FRAME_MEMORY_S)
        except (sqlite3.Error, OSError):  # the next hour tries again; nothing depends on it meanwhile
            log.warning("pruning the decided frames failed", exc_info=True)
            return 0
        if removed:
            log.info("forgot %d frames decided more than %d s ago", removed, FRAME_MEMORY_S)
        return removed

    def _retry_loop(self) -> None:
        while not self._stop.wait(RETRY_INTERVAL_S):
            try:
                if len(self.held):
                    self.retry_held()
                self.prune_if_due()
                if self._upkeep is not None:
                    self._upkeep()
            except Exception:  # the loop must outlive any one failure
                log.exception("retrying the held detections failed")

    def _admit(self, message: HeldMessage, cfg: DynamoWriterConfig) -> Admission:
        if not len(self.held):  # behind held messages a new one waits its turn
            try:
                admission = self._put(message, cfg)
            except SpoolUnavailable as exc:
                self.spool_error = str(exc)
            except SpoolFailed as exc:
                return self._lose(message, "itemsLostSpoolError", str(exc))
            else:
                return self._decided(message, admission, cfg)
        if self.held.offer(message):
            self._counters.add("itemsHeldBack", len(message.items))
            log.error("spool unavailable (%s): frame %s held in memory (%d items held)",
                      self.spool_error, message.frame_id, self.held.items)
            return Admission(held=len(message.items))
        return self._lose(message, "itemsLostSpoolUnavailable",
                          f"the spool cannot write ({self.spool_error}) and {len(self.held)} messages "
                          f"({self.held.items} items) already wait in memory")

    def _decided(self, message: HeldMessage, admission: Admission, cfg: DynamoWriterConfig) -> Admission:
        """The spool took ``message``'s transaction: count it and send the frame's receipt."""
        if admission.already_decided and admission.decided is not None:
            self._counters.add("messagesDuplicate")
            self._send(receipt_for(admission.decided))
            return admission
        self._count(admission, message.items)
        if admission.decided is None:  # a full spool refused the items (refuseNewest, or larger than the spool)
            self._decide_lost(message.frame, f"the spool has no room for its {admission.refused} items "
                                             f"(maxSpoolItems/maxSpoolMB, overflowPolicy {cfg.overflow_policy})")
            return admission
        if admission.decided.outcome == "no_detections":
            self._counters.add("framesWithoutDetections")
        elif admission.decided.outcome == "summarized":
            self._counters.add("framesSummarized")
        self._send(receipt_for(admission.decided))
        return admission

    def _lose(self, message: HeldMessage, counter: str, reason: str) -> Admission:
        self._counters.add(counter, len(message.items))
        detail = f"{len(message.items)} items of frame {message.frame_id} lost: {reason}"
        if self._status is not None:
            self._status.report("spoolItemsLost", detail, "errored")
        else:
            log.error("spoolItemsLost: %s", detail)
        self._decide_lost(message.frame, reason)
        return Admission(lost=len(message.items))

    def _decide_lost(self, frame: FrameKey, reason: str) -> None:
        self._counters.add("framesLost")
        receipt = lost_receipt(frame, reason)
        self._lost.remember(receipt)
        self._send(receipt)

    def _send(self, receipt: FrameReceipt) -> None:
        if self._receipts is not None:
            self._receipts.add(receipt)

    def _put(self, message: HeldMessage, cfg: DynamoWriterConfig) -> Admission:
        try:
            admission = self._spool.put(message.items, max_items=cfg.max_spool_items, max_bytes=cfg.max_spool_bytes,
                                        policy=cfg.overflow_policy, frame=message.frame, summarized=message.summarized)
        except (sqlite3.OperationalError, OSError) as exc:  # disk I/O error, read-only, locked too long
            raise SpoolUnavailable(f"{type(exc).__name__}: {exc}") from exc
        except sqlite3.Error as exc:
            raise SpoolFailed(f"{type(exc).__name__}: {exc}") from exc
        if admission.disk_full:
            raise SpoolUnavailable(admission.reason or "disk full")
        return admission

    def _count(self, admission: Admission, items: list[SpoolItem]) -> None:
        c = self._counters
        c.add("itemsSpooled", admission.accepted)
        c.add("itemsDuplicate", admission.duplicates)
        c.add("itemsDroppedOldest", admission.dropped)
        if admission.accepted:
            c.add("itemsTruncated", sum(1 for i in items if i.truncated))
        if admission.refused:
            c.add("itemsRefusedSpoolFull", admission.refused)
            if c.get("itemsRefusedSpoolFull") == admission.refused or c.get("itemsRefusedSpoolFull") % 1000 == 0:
                log.warning("spool full (refuseNewest): %d items refused so far", c.get("itemsRefusedSpoolFull"))
        if admission.dropped:
            log.warning("spool full (dropOldest): %d oldest items dropped", admission.dropped)
