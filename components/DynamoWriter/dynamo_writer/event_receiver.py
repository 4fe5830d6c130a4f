"""The receiving side of events: a TrackEvent in, the event held in the spool, an EventReceipt out.

Each message is the whole event as of its ``sequence``; the spool keeps the highest. A message of
lower or equal sequence changes nothing and is receipted again with the sequence held
(``eventsDuplicate``): EventTracker resends until a receipt reaches it. A message of higher
sequence is committed to the spool, its snapshot's pictures copied into the writer's folder in the
same step (EventTracker may delete its own once receipted), and only then receipted ``stored``.

A snapshot that cannot be read (missing, unreadable, not the pictures the event describes) never
holds the event back: the event is stored without it, the reason recorded in the item
(``snapshot_missing``) and counted (``snapshotsMissing``). A later message with the same snapshot
reuses the copies the writer has, so EventTracker's deleting its own does not matter.

When the spool or the snapshot folder cannot write (disk full, I/O error) the event is not receipted:
EventTracker keeps it and sends it again. It is receipted ``lost`` (with the reason) when it cannot
be stored at all: a number DynamoDB cannot store, a spool error retrying will not fix, a new event
beyond ``maxSpoolEvents``, or store mode ``detections``, which stores no new events (an event the
spool holds already is completed, so no item stays ``open`` because the mode changed).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from dynamo_writer.event_items import event_item, snapshot_value
from dynamo_writer.event_spool import EventSpool, HeldEvent, NewEvent, SnapshotState
from dynamo_writer.items import NumberOutOfRange, SpoolItem
from dynamo_writer.settings import DynamoWriterConfig
from dynamo_writer.snapshots import SnapshotCopier, SnapshotSpoolError, SnapshotUnreadable, snapshot_keys
from smartcam.contracts import ContractError, EventReceipt, TrackEvent, parse
from smartcam.telemetry import Counters

log = logging.getLogger(__name__)

MAX_RECEIPT_DETAIL = 1024
# How long the spool remembers a written event: far longer than EventTracker keeps resending it.
EVENT_MEMORY_S = 2 * 86_400
PRUNE_INTERVAL_S = 3600.0
NOT_STORED_IN_DETECTIONS_MODE = "not stored: the writer's store mode is detections (no new events)"

Decision = Literal["stored", "duplicate", "lost", "unavailable"]


class EventReceiptSink(Protocol):
    def add_event(self, receipt: EventReceipt) -> None: ...


@dataclass(frozen=True)
class EventAdmission:
    """What became of one message: ``sequence`` is the one held (and receipted) when stored or duplicate."""

    decision: Decision
    sequence: int | None = None
    detail: str | None = None


class EventReceiver:
    def __init__(
        self,
        spool: EventSpool,
        settings: Callable[[], DynamoWriterConfig],
        counters: Counters,
        device: str,
        wake_sender: Callable[[], None],
        *,
        copier: SnapshotCopier,
        receipts: EventReceiptSink | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._spool = spool
        self._copier = copier
        self._settings = settings
        self._counters = counters
        self._device = device
        self._wake_sender = wake_sender
        self._receipts = receipts
        self._clock = clock
        self._lock = threading.Lock()  # one message at a time: a held row is read and replaced in turn
        self._pruned_at: float | None = None
        self.spool_error: str | None = None  # why the last event could not be spooled, until one is
        self.closed = False

    def start(self) -> None:
        """Delete copies no event names (a crash between copying and committing), forget old events."""
        orphans = sorted(self._copier.files() - self._spool.copies())
        if orphans:
            log.info("deleting %d snapshot copies no spooled event names", len(orphans))
            self._copier.remove(orphans)
        self.prune_if_due()

    def stop(self) -> None:
        self.closed = True

    def on_message(self, _topic: str, payload: Any) -> EventAdmission | None:
        """Handle one message from smartcam/events; never raises on bad input."""
        if self.closed:
            return None
        self._counters.add("eventsReceived")
        try:
            event = parse(TrackEvent, payload)
        except ContractError as exc:  # nothing in it can be trusted, its event id included: no receipt
            self._counters.add("eventsInvalid")
            log.warning("event message refused, not spooled: %s", exc)
            return None
        cfg = self._settings()
        with self._lock:
            admission = self._admit(event, cfg)
        if admission.decision == "stored":
            self._wake_sender()
        return admission

    def prune_if_due(self) -> int:
        """Forget events written more than :data:`EVENT_MEMORY_S` ago, at most every
        :data:`PRUNE_INTERVAL_S`; the number forgotten."""
        now = self._clock()
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_INTERVAL_S:
            return 0
        self._pruned_at = now
        try:
            removed = self._spool.prune(EVENT_MEMORY_S)
        except (sqlite3.Error, OSError):  # the next hour tries again; nothing depends on it meanwhile
            log.warning("pruning the written events failed", exc_info=True)
            return 0
        if removed:
            log.info("forgot %d events written more than %d s ago", removed, EVENT_MEMORY_S)
        return removed

    # internals ------------------------------------------------------------------------------
    def _admit(self, event: TrackEvent, cfg: DynamoWriterConfig) -> EventAdmission:
        try:
            held = self._spool.held(event.event_id)
        except sqlite3.Error as exc:
            return self._unavailable(event, f"{type(exc).__name__}: {exc}")
        if held is not None and held.sequence >= event.sequence:
            self._counters.add("eventsDuplicate")
            return self._stored(event.event_id, held.sequence, "duplicate")
        if held is None and not cfg.stores_events:
            self._counters.add("eventsNotStored")
            return self._lost(event, NOT_STORED_IN_DETECTIONS_MODE)
        try:
            spool_item = event_item(event, self._device, cfg.retention_days)
        except NumberOutOfRange as exc:  # the contract bounds numbers; this guards what it misses
            self._counters.add("eventsInvalid")
            return self._lost(event, f"refused: a number DynamoDB cannot store: {exc}")
        return self._spool_event(event, held, spool_item, cfg)

    def _spool_event(self, event: TrackEvent, held: HeldEvent | None, spool_item: SpoolItem,
                     cfg: DynamoWriterConfig) -> EventAdmission:
        """Copy the snapshot's pictures, then commit the event: the receipt may go out after this."""
        try:
            snapshot = self._snapshot_for(event, held, cfg)
        except SnapshotSpoolError as exc:
            return self._unavailable(event, f"snapshot copy: {exc}")
        new = NewEvent(event.event_id, event.camera_id, event.sequence, spool_item.item, spool_item.size, snapshot)
        fresh = [] if snapshot is None or (held is not None and held.snapshot == snapshot) else snapshot.copies
        try:
            upserted = self._spool.upsert(new, max_events=cfg.max_spool_events)
        except (sqlite3.OperationalError, OSError) as exc:  # disk full, I/O error: EventTracker sends it again
            self._copier.remove(fresh)
            return self._unavailable(event, f"{type(exc).__name__}: {exc}")
        except sqlite3.Error as exc:
            self._copier.remove(fresh)
            self._counters.add("eventsLost")
            return self._lost(event, f"the spool failed: {type(exc).__name__}: {exc}")
        if upserted.refused:
            self._copier.remove(fresh)
            self._counters.add("eventsLost")
            return self._lost(event, f"the spool holds maxSpoolEvents ({cfg.max_spool_events}) events not yet "
                                     "in DynamoDB")
        if not upserted.changed:  # cannot happen while this receiver is the spool's only writer of events
            self._copier.remove(fresh)
            self._counters.add("eventsDuplicate")
            return self._stored(event.event_id, upserted.held, "duplicate")
        self._copier.remove(list(upserted.superseded))
        if self.spool_error is not None:
            log.warning("events spool writable again")
            self.spool_error = None
        self._counters.add("eventsSpooled")
        if upserted.coalesced:
            self._counters.add("eventsCoalesced")
        if event.kind == "end":
            self._counters.add("eventsEnded")
        return self._stored(event.event_id, upserted.held, "stored")

    def _snapshot_for(self, event: TrackEvent, held: HeldEvent | None,
                      cfg: DynamoWriterConfig) -> SnapshotState | None:
        ref = event.snapshot
        if ref is None:
            return None
        before = held.snapshot if held is not None else None
        if before is not None and before.frame_id == ref.frame_id and before.missing is None:
            return before  # the same pictures: the writer's copies (or the objects in S3) serve
        if cfg.snapshot_bucket is None:
            return self._missing(ref.frame_id, "no snapshotBucket configured")
        _, held_bytes = self._spool.depth()
        if held_bytes + ref.bytes > cfg.max_snapshot_bytes:
            return self._missing(ref.frame_id, f"the spool folder holds {held_bytes} bytes of snapshots "
                                               f"(maxSnapshotMB {cfg.max_snapshot_mb:g})")
        try:
            copied = self._copier.copy(event.event_id, ref)
        except SnapshotUnreadable as exc:
            return self._missing(ref.frame_id, str(exc))
        self._counters.add("snapshotsCopied")
        key, crop_key = snapshot_keys(cfg.snapshot_key_prefix, self._device, event.camera_id, event.first_seen,
                                      event.event_id)
        return SnapshotState(ref.frame_id, snapshot_value(ref, cfg.snapshot_bucket, key, crop_key),
                             full=copied.full, crop=copied.crop, bytes=copied.bytes)

    def _missing(self, frame_id: str, reason: str) -> SnapshotState:
        self._counters.add("snapshotsMissing")
        log.warning("snapshot %s not stored: %s", frame_id, reason)
        return SnapshotState(frame_id, None, missing=reason[:MAX_RECEIPT_DETAIL])

    def _unavailable(self, event: TrackEvent, reason: str) -> EventAdmission:
        self._counters.add("eventsSpoolUnavailable")
        if reason != self.spool_error:
            log.error("event %s not spooled, EventTracker sends it again: %s", event.event_id, reason)
        self.spool_error = reason
        return EventAdmission("unavailable", detail=reason)

    def _stored(self, event_id: str, sequence: int, decision: Decision) -> EventAdmission:
        self._send(EventReceipt(event_id=event_id, sequence=sequence, outcome="stored"))
        return EventAdmission(decision, sequence)

    def _lost(self, event: TrackEvent, reason: str) -> EventAdmission:
        detail = reason[:MAX_RECEIPT_DETAIL]
        log.warning("event %s (sequence %d) receipted lost: %s", event.event_id, event.sequence, detail)
        self._send(EventReceipt(event_id=event.event_id, sequence=event.sequence, outcome="lost", detail=detail))
        return EventAdmission("lost", event.sequence, detail)

    def _send(self, receipt: EventReceipt) -> None:
        if self._receipts is not None:
            self._receipts.add_event(receipt)
