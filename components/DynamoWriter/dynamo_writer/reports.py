"""Write confirmations and spool depth (detections and events) to IoT Core, health to local pub/sub,
every reportIntervalS."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from dynamo_writer.event_spool import EventSpool
from dynamo_writer.settings import DynamoWriterConfig
from dynamo_writer.spool import Spool, SpooledItem
from smartcam import topics
from smartcam.contracts import MAX_CONFIRMATIONS, Confirmation, EventSpoolDepth, Health, SpoolDepth, WriterReport
from smartcam.ipc import Ipc
from smartcam.telemetry import Telemetry

log = logging.getLogger(__name__)

COMPONENT = "smartcam.DynamoWriter"
MAX_DETAIL = 1024


class Reporter:
    def __init__(
        self,
        ipc: Ipc,
        thing: str,
        spool: Spool,
        telemetry: Telemetry,
        *,
        settings: Callable[[], DynamoWriterConfig],
        sender_state: Callable[[], tuple[int, str | None]],  # (consecutive failures, last error)
        held_state: Callable[[], tuple[int, str | None]] = lambda: (0, None),  # (items held, spool error)
        events: EventSpool | None = None,
        event_state: Callable[[], tuple[int, str | None, str | None]] = lambda: (0, None, None),
        # (consecutive failures of the event sender, its last error, why the last event was not spooled)
        capture_state: Callable[[], tuple[int, int, int, str | None]] = lambda: (0, 0, 0, None),
        # (data captures awaiting S3, bytes of their JPEGs, consecutive failures of their sender, its last error)
    ) -> None:
        self._ipc = ipc
        self._thing = thing
        self._spool = spool
        self._telemetry = telemetry
        self._counters = telemetry.counters
        self._settings = settings
        self._sender_state = sender_state
        self._held_state = held_state
        self._events = events
        self._event_state = event_state
        self._capture_state = capture_state
        self._lock = threading.Lock()
        self._confirmed: deque[Confirmation] = deque(maxlen=MAX_CONFIRMATIONS)
        self._confirmed_since_report = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def record(self, written: list[SpooledItem]) -> None:
        """Called as DynamoDB accepted ``written``: that moment is when they were stored."""
        stored_at = round(time.time(), 3)
        with self._lock:
            self._confirmed.extend(Confirmation(sk=row.item["sk"]["S"], at=stored_at) for row in written)
            self._confirmed_since_report += len(written)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="writer-reports", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while True:
            self.report_now()
            if self._stop.wait(self._settings().report_interval_s):
                return

    def report_now(self) -> None:
        try:
            report, health = self.build()
        except Exception:
            log.exception("building the writer report failed")
            return
        try:
            self._ipc.publish_iot(topics.iot_writer_reports(self._thing), report)
        except Exception:  # offline or IPC trouble: the next report carries the counters
            self._counters.add("reportErrors")
            log.warning("publishing the IoT Core report failed", exc_info=True)
        if not self._telemetry.publish_health(health):
            self._counters.add("reportErrors")

    def build(self) -> tuple[WriterReport, Health]:
        cfg = self._settings()
        items, size = self._spool.depth()
        oldest = self._spool.oldest_age_s()
        failures, last_error = self._sender_state()
        held, spool_error = self._held_state()
        if spool_error is not None:  # what keeps detections out of the spool matters most
            last_error = f"spool: {spool_error}"
        counters = self._counters.snapshot()
        with self._lock:
            confirmed = list(self._confirmed)
            since = self._confirmed_since_report
            self._confirmed.clear()
            self._confirmed_since_report = 0
        pending, snapshot_bytes = self._events.depth() if self._events is not None else (0, 0)
        event_failures, event_error, event_spool_error = self._event_state()
        events = EventSpoolDepth(table=cfg.events_table_name, pending=pending, snapshot_bytes=snapshot_bytes,
                                 oldest_age_s=self._events.oldest_age_s() if self._events is not None else None,
                                 max_events=cfg.max_spool_events, max_snapshot_bytes=cfg.max_snapshot_bytes)
        if last_error is None:
            last_error = (f"events spool: {event_spool_error}" if event_spool_error is not None
                          else None if event_error is None else f"events: {event_error}")
        report = WriterReport(
            thing=self._thing,
            table=cfg.table_name,
            # rounded like the confirmations' times, so none of them is later than the report
            at=round(time.time(), 3),
            written=since,
            confirmed=confirmed,
            confirmed_omitted=since - len(confirmed),
            spool=SpoolDepth(items=items, bytes=size, oldest_age_s=oldest,
                             max_items=cfg.max_spool_items, max_bytes=cfg.max_spool_bytes),
            events=events,
            counters=counters,
            last_error=None if last_error is None else last_error[:MAX_DETAIL],
        )
        full = max(items / cfg.max_spool_items, size / cfg.max_spool_bytes)
        events_full = max(pending / cfg.max_spool_events, snapshot_bytes / cfg.max_snapshot_bytes)
        degraded = (failures > 0 or full >= 0.9 or counters.get("itemsRejected", 0) > 0 or held > 0
                    or spool_error is not None or event_failures > 0 or events_full >= 0.9
                    or counters.get("eventsRejected", 0) > 0 or event_spool_error is not None)
        detail = (f"spool {items} items, {size} bytes ({full:.0%} full); {pending} events, {snapshot_bytes} "
                  f"snapshot bytes ({events_full:.0%} full)")
        captures, capture_bytes, capture_failures, capture_error = self._capture_state()
        if captures or capture_failures:
            detail += f"; {captures} data captures ({capture_bytes} bytes) await S3"
            degraded = degraded or capture_failures > 0
            if capture_error and not last_error:
                last_error = f"captures: {capture_error}"
        if held:
            detail += f"; {held} items held in memory: the spool cannot write"
        if last_error:
            detail += f"; last error: {last_error}"
        return report, self._telemetry.health("degraded" if degraded else "ok", detail)
