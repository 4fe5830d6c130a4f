"""The receiving side: a detections message in, its items committed to the spool (or refused)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import Any

from dynamo_writer.items import NumberOutOfRange, items_for
from dynamo_writer.settings import DynamoWriterConfig
from dynamo_writer.spool import Admission, Spool
from smartcam.contracts import ContractError, Detections, parse
from smartcam.telemetry import Counters

log = logging.getLogger(__name__)


class Receiver:
    def __init__(
        self,
        spool: Spool,
        settings: Callable[[], DynamoWriterConfig],
        counters: Counters,
        device: str,
        wake_sender: Callable[[], None],
    ) -> None:
        self._spool = spool
        self._settings = settings
        self._counters = counters
        self._device = device
        self._wake_sender = wake_sender
        self.closed = False

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
        try:
            admission = self._spool.put(
                items, max_items=cfg.max_spool_items, max_bytes=cfg.max_spool_bytes, policy=cfg.overflow_policy
            )
        except sqlite3.Error:
            self._counters.add("spoolErrors")
            log.exception("could not spool frame %s; it is NOT accepted", message.frame.frame_id)
            return None
        self._count(admission, sum(1 for i in items if i.truncated))
        # The sender decides what to send (an idle sender sends at once, a busy one lets the batch fill).
        if admission.accepted:
            self._wake_sender()
        return admission

    def _count(self, admission: Admission, truncated: int) -> None:
        c = self._counters
        c.add("itemsSpooled", admission.accepted)
        c.add("itemsDuplicate", admission.duplicates)
        c.add("itemsDroppedOldest", admission.dropped)
        if admission.accepted:
            c.add("itemsTruncated", truncated)
        if admission.disk_full:
            c.add("itemsRefusedDiskFull", admission.refused)
            log.error("spool disk full: %d items refused", admission.refused)
        elif admission.refused:
            c.add("itemsRefusedSpoolFull", admission.refused)
            if c.get("itemsRefusedSpoolFull") == admission.refused or c.get("itemsRefusedSpoolFull") % 1000 == 0:
                log.warning("spool full (refuseNewest): %d items refused so far", c.get("itemsRefusedSpoolFull"))
        if admission.dropped:
            log.warning("spool full (dropOldest): %d oldest items dropped", admission.dropped)
