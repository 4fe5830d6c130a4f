"""The receiving side of data captures: a DataCapture in, the frame's JPEG copied and its S3 objects
decided and committed to the spool, a CaptureReceipt out.

A frame is captured once: a capture the spool holds already (EventTracker sent it again) is receipted
``stored`` again and changes nothing (``capturesDuplicate``). A new one has its JPEG copied into the
writer's folder (EventTracker deletes its own once receipted; read only below its captures folder, a
JPEG of the size the message gives: :class:`dynamo_writer.snapshots.SnapshotCopier`), its keys, its
predictions file and its Ground Truth manifest line built (:mod:`dynamo_writer.ground_truth`), and all
of it committed in one transaction before the receipt goes out.

When the spool or the folder cannot write (disk full, I/O error) nothing is receipted: EventTracker
sends it again. It is receipted ``lost`` (with the reason) when it cannot be stored at all: no bucket
configured, a JPEG that cannot be read, the spool full (``maxSpoolCaptures``, ``maxCaptureMB``).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Protocol

from dynamo_writer.capture_spool import CaptureSpool, SpooledCapture
from dynamo_writer.ground_truth import capture_keys, manifest_line, predictions_file
from dynamo_writer.settings import DynamoWriterConfig
from dynamo_writer.snapshots import SnapshotCopier, SnapshotSpoolError, SnapshotUnreadable
from smartcam.contracts import CaptureReceipt, ContractError, DataCapture, parse
from smartcam.telemetry import Counters

log = logging.getLogger(__name__)

MAX_RECEIPT_DETAIL = 1024
CAPTURE_MEMORY_S = 2 * 86_400  # far longer than EventTracker keeps resending a capture
PRUNE_INTERVAL_S = 3600.0
SPOOL_ERRORS = (sqlite3.Error, OSError)  # what the spool and its folder raise

Decision = Literal["stored", "duplicate", "lost", "unavailable"]


class CaptureReceiptSink(Protocol):
    def add_capture(self, receipt: CaptureReceipt) -> None: ...


class CaptureReceiver:
    def __init__(self, spool: CaptureSpool, settings: Callable[[], DynamoWriterConfig], counters: Counters,
                 device: str, wake_sender: Callable[[], None], *, copier: SnapshotCopier,
                 receipts: CaptureReceiptSink | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._spool = spool
        self._settings = settings
        self._counters = counters
        self._device = device
        self._wake_sender = wake_sender
        self._copier = copier
        self._receipts = receipts
        self._clock = clock
        self._lock = threading.Lock()
        self._pruned_at: float | None = None
        self.spool_error: str | None = None
        self.closed = False

    def start(self) -> None:
        """Delete JPEG copies no capture names (a crash between copying and committing), forget old ones."""
        orphans = sorted(self._copier.files() - self._spool.copies())
        if orphans:
            log.info("deleting %d capture copies no spooled capture names", len(orphans))
            self._copier.remove(orphans)
        self.prune_if_due()

    def stop(self) -> None:
        self.closed = True

    def on_message(self, _topic: str, payload: Any) -> Decision | None:
        """Handle one message from smartcam/data-captures; never raises on bad input."""
        if self.closed:
            return None
        self._counters.add("capturesReceived")
        try:
            capture = parse(DataCapture, payload)
        except ContractError as exc:  # its frame id cannot be trusted either: no receipt
            self._counters.add("capturesInvalid")
            log.warning("data capture refused, not spooled: %s", exc)
            return None
        with self._lock:
            decision = self._admit(capture, self._settings())
        if decision == "stored":
            self._wake_sender()
        self.prune_if_due()
        return decision

    def prune_if_due(self) -> int:
        now = self._clock()
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_INTERVAL_S:
            return 0
        self._pruned_at = now
        try:
            return self._spool.prune(CAPTURE_MEMORY_S)
        except SPOOL_ERRORS:  # the next hour tries again
            log.warning("pruning the uploaded captures failed", exc_info=True)
            return 0

    def _admit(self, capture: DataCapture, cfg: DynamoWriterConfig) -> Decision:
        try:
            if self._spool.held(capture.frame_id) is not None:
                self._counters.add("capturesDuplicate")
                return self._receipt(capture, "duplicate")
        except sqlite3.Error as exc:
            return self._unavailable(capture, f"{type(exc).__name__}: {exc}")
        if cfg.snapshot_bucket is None:
            return self._lost(capture, "no snapshotBucket configured")
        return self._spool_capture(capture, cfg, cfg.snapshot_bucket)

    def _spool_capture(self, capture: DataCapture, cfg: DynamoWriterConfig, bucket: str) -> Decision:
        """Copy the JPEG, then commit the capture: the receipt may go out after this."""
        copy = self._copy(capture)
        if not isinstance(copy, Path):
            return copy
        keys = capture_keys(cfg.capture_key_prefix, self._device, capture.camera_id, capture.captured_at,
                            capture.frame_id)
        spooled = SpooledCapture(capture.frame_id, capture.camera_id, bucket, keys, copy, capture.bytes,
                                 predictions_file(capture, self._device, bucket, keys),
                                 manifest_line(capture, bucket, keys, cfg.label_attribute_name))
        try:
            added = self._spool.add(spooled, max_captures=cfg.max_spool_captures, max_bytes=cfg.max_capture_bytes)
        except SPOOL_ERRORS as exc:
            self._copier.remove([copy])
            reason = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, sqlite3.OperationalError | OSError):  # disk full, I/O: EventTracker sends it again
                return self._unavailable(capture, reason)
            return self._lost(capture, f"the spool failed: {reason}")
        if added != "added":
            self._copier.remove([copy])
        if added == "full":
            return self._lost(capture, f"the spool holds maxSpoolCaptures ({cfg.max_spool_captures}) or "
                                       f"maxCaptureMB ({cfg.max_capture_mb:g}) of captures not yet in S3")
        if added == "duplicate":  # cannot happen while this receiver is the table's only writer
            self._counters.add("capturesDuplicate")
            return self._receipt(capture, "duplicate")
        self.spool_error = None
        self._counters.add("capturesSpooled")
        return self._receipt(capture, "stored")

    def _copy(self, capture: DataCapture) -> Path | Decision:
        """The writer's copy of the capture's JPEG, or what became of the capture without one."""
        try:
            return self._copier.copy_picture(capture.frame_id, f"{capture.frame_id}.jpg", capture.path, capture.bytes)
        except SnapshotUnreadable as exc:
            return self._lost(capture, str(exc))
        except SnapshotSpoolError as exc:
            return self._unavailable(capture, f"copy: {exc}")

    def _receipt(self, capture: DataCapture, decision: Decision) -> Decision:
        self._send(CaptureReceipt(frame_id=capture.frame_id, outcome="stored"))
        return decision

    def _lost(self, capture: DataCapture, reason: str) -> Decision:
        detail = reason[:MAX_RECEIPT_DETAIL]
        self._counters.add("capturesLost")
        log.warning("capture %s receipted lost: %s", capture.frame_id, detail)
        self._send(CaptureReceipt(frame_id=capture.frame_id, outcome="lost", detail=detail))
        return "lost"

    def _unavailable(self, capture: DataCapture, reason: str) -> Decision:
        self._counters.add("capturesSpoolUnavailable")
        if reason != self.spool_error:
            log.error("capture %s not spooled, EventTracker sends it again: %s", capture.frame_id, reason)
        self.spool_error = reason
        return "unavailable"

    def _send(self, receipt: CaptureReceipt) -> None:
        if self._receipts is not None:
            self._receipts.add_capture(receipt)
