"""The receiving side: a detections message in, its items committed to the spool (or refused).

When the spool cannot write (disk full, I/O error) the message is held in memory
(:class:`~dynamo_writer.holdback.HeldBack`) and retried every :data:`RETRY_INTERVAL_S` until the
spool takes it, in arrival order; health is degraded with the reason meanwhile. Only a message
beyond the memory bound is lost: counted (``itemsLostSpoolUnavailable``) and reported as an error.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, Protocol

from dynamo_writer.holdback import HeldBack, HeldMessage
from dynamo_writer.items import NumberOutOfRange, SpoolItem, items_for
from dynamo_writer.settings import DynamoWriterConfig
from dynamo_writer.spool import Admission, Spool
from smartcam.contracts import ContractError, Detections, parse
from smartcam.telemetry import Counters, HealthState

log = logging.getLogger(__name__)

RETRY_INTERVAL_S = 0.5
# Memory for detections while the spool cannot write: about a minute of a busy device.
MAX_HELD_ITEMS = 20_000
MAX_HELD_BYTES = 64 * 1024 * 1024


class StatusSink(Protocol):
    def report(self, kind: str, detail: str, state: HealthState = "degraded") -> bool: ...


class SpoolUnavailable(Exception):
    """The spool could not commit (disk full, I/O error): worth trying again later."""


class SpoolFailed(Exception):
    """The spool refused this message for a reason retrying will not change (e.g. a corrupt database)."""


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
    ) -> None:
        self._spool = spool
        self._settings = settings
        self._counters = counters
        self._device = device
        self._wake_sender = wake_sender
        self._status = status
        self.held = held if held is not None else HeldBack(max_items=MAX_HELD_ITEMS, max_bytes=MAX_HELD_BYTES)
        self._lock = threading.Lock()  # one admission at a time: held messages stay in order
        self.spool_error: str | None = None  # why the spool refused, while anything is held
        self._stop = threading.Event()
        self._retrier: threading.Thread | None = None
        self.closed = False

    def start(self) -> None:
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
        cfg = self._settings()
        try:
            items = items_for(message, self._device, cfg.retention_days)
        except NumberOutOfRange as exc:  # the contracts bound numbers; this guards what they miss
            self._counters.add("messagesInvalid")
            log.warning("detections message refused, not spooled: %s", exc)
            return None
        if not items:
            self._counters.add("framesWithoutDetections")
            return Admission()
        with self._lock:
            admission = self._admit(HeldMessage(message.frame.frame_id, items), cfg)
        if admission.accepted:
            self._wake_sender()
        return admission

    def retry_held(self) -> int:
        """Offer the held messages to the spool again, oldest first; the number now spooled."""
        cfg = self._settings()
        spooled = 0
        with self._lock:
            while (held := self.held.oldest()) is not None:
                try:
                    admission = self._put(held.items, cfg)
                except SpoolUnavailable as exc:
                    self.spool_error = str(exc)
                    break
                except SpoolFailed as exc:
                    self._lose(self.held.pop_oldest(), "itemsLostSpoolError", str(exc))
                    continue
                self.held.pop_oldest()
                spooled += admission.accepted
                self._count(admission, held.items)
            if not len(self.held) and self.spool_error is not None:
                log.warning("spool writable again; every held message is spooled")
                self.spool_error = None
        if spooled:
            self._wake_sender()
        return spooled

    def _retry_loop(self) -> None:
        while not self._stop.wait(RETRY_INTERVAL_S):
            if len(self.held):
                try:
                    self.retry_held()
                except Exception:  # the loop must outlive any one failure
                    log.exception("retrying the held detections failed")

    def _admit(self, message: HeldMessage, cfg: DynamoWriterConfig) -> Admission:
        if not len(self.held):  # behind held messages a new one waits its turn
            try:
                admission = self._put(message.items, cfg)
            except SpoolUnavailable as exc:
                self.spool_error = str(exc)
            except SpoolFailed as exc:
                return self._lose(message, "itemsLostSpoolError", str(exc))
            else:
                self._count(admission, message.items)
                return admission
        if self.held.offer(message):
            self._counters.add("itemsHeldBack", len(message.items))
            log.error("spool unavailable (%s): frame %s held in memory (%d items held)",
                      self.spool_error, message.frame_id, self.held.items)
            return Admission(held=len(message.items))
        return self._lose(message, "itemsLostSpoolUnavailable",
                          f"the spool cannot write ({self.spool_error}) and {self.held.items} items already "
                          "wait in memory")

    def _lose(self, message: HeldMessage, counter: str, reason: str) -> Admission:
        self._counters.add(counter, len(message.items))
        detail = f"{len(message.items)} items of frame {message.frame_id} lost: {reason}"
        if self._status is not None:
            self._status.report("spoolItemsLost", detail, "errored")
        else:
            log.error("spoolItemsLost: %s", detail)
        return Admission(lost=len(message.items))

    def _put(self, items: list[SpoolItem], cfg: DynamoWriterConfig) -> Admission:
        try:
            admission = self._spool.put(
                items, max_items=cfg.max_spool_items, max_bytes=cfg.max_spool_bytes, policy=cfg.overflow_policy
            )
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
