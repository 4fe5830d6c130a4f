"""smartcam.DynamoWriter: detections and events -> durable SQLite spool -> DynamoDB (and snapshots ->
S3), data captures for labeling -> the spool -> S3, exactly once per key."""

from __future__ import annotations

import logging

from dynamo_writer.capture_receiver import CaptureReceiver
from dynamo_writer.capture_sender import CaptureSender
from dynamo_writer.capture_spool import CaptureSpool
from dynamo_writer.dynamo import make_client
from dynamo_writer.event_receiver import EventReceiver
from dynamo_writer.event_sender import EventSender
from dynamo_writer.event_spool import EventSpool
from dynamo_writer.receiver import Receiver
from dynamo_writer.reports import COMPONENT, Reporter
from dynamo_writer.sender import ClientFactory, Sender
from dynamo_writer.settings import DynamoWriterConfig
from dynamo_writer.snapshots import CAPTURE_SOURCE_ENV, SOURCE_ENV, SnapshotCopier, make_s3_client
from dynamo_writer.spool import Spool
from smartcam import topics
from smartcam.config import LiveConfig
from smartcam.device import thing_name, work_file
from smartcam.handoff import ReceiptSender
from smartcam.ipc import Ipc
from smartcam.metrics import Metrics
from smartcam.telemetry import Telemetry

log = logging.getLogger(__name__)

SPOOL_ENV = "SMARTCAM_SPOOL_PATH"
SNAPSHOT_FOLDER = "snapshots"  # beside the spool file: the writer's copies of snapshot pictures
CAPTURE_FOLDER = "captures"  # ... and of the data captures' JPEGs

class DynamoWriterApp:
    def __init__(
        self,
        ipc: Ipc,
        config: LiveConfig[DynamoWriterConfig],
        *,
        client_factory: ClientFactory = make_client,
        s3_client_factory: ClientFactory = make_s3_client,
    ) -> None:
        self._ipc = ipc
        self._config = config
        self.thing = thing_name()
        self.telemetry = Telemetry(ipc, COMPONENT, self.thing)
        self.telemetry.add_note(lambda: config.refused)
        self.counters = self.telemetry.counters
        self.spool = Spool(work_file(SPOOL_ENV, "{work:path}/spool.sqlite3"))
        self.events = EventSpool(self.spool.path)
        source = work_file(SOURCE_ENV, "{kernel:rootPath}/work/smartcam.EventTracker/snapshots")
        copier = SnapshotCopier(source, self.spool.path.parent / SNAPSHOT_FOLDER)
        settings = lambda: config.current  # noqa: E731 - always the live configuration
        self.reporter = Reporter(ipc, self.thing, self.spool, self.telemetry,
                                 settings=settings, sender_state=self._sender_state,
                                 held_state=self._held_state, events=self.events, event_state=self._event_state,
                                 capture_state=self._capture_state)
        self.sender = Sender(self.spool, settings, self.counters, client_factory=client_factory,
                             on_written=self.reporter.record)
        self.event_sender = EventSender(self.events, copier, settings, self.counters, client_factory=client_factory,
                                        s3_client_factory=s3_client_factory)
        self.receipts = ReceiptSender(ipc, COMPONENT, on_failure=lambda _: self.counters.add("receiptPublishErrors"))
        self.event_receiver = EventReceiver(self.events, settings, self.counters, self.thing, self.event_sender.wake,
                                            copier=copier, receipts=self.receipts)
        self.captures = CaptureSpool(self.spool.path)
        capture_source = work_file(CAPTURE_SOURCE_ENV, "{kernel:rootPath}/work/smartcam.EventTracker/captures")
        capture_copier = SnapshotCopier(capture_source, self.spool.path.parent / CAPTURE_FOLDER)
        self.capture_sender = CaptureSender(self.captures, capture_copier, settings, self.counters,
                                            s3_client_factory=s3_client_factory)
        self.capture_receiver = CaptureReceiver(self.captures, settings, self.counters, self.thing,
                                                self.capture_sender.wake, copier=capture_copier, receipts=self.receipts)
        self.receiver = Receiver(self.spool, settings, self.counters, self.thing, self.sender.wake,
                                 status=self.telemetry.status, receipts=self.receipts,
                                 upkeep=self.event_receiver.prune_if_due)
        self.metrics = Metrics(ipc, self.telemetry, self.thing, lambda: config.current.metrics)
        self.metrics.counter("ItemsWritten", "itemsWritten")
        self.metrics.counter("EventsWritten", "eventsWritten")
        # Depth and age of what waits for DynamoDB (age 0 when nothing waits, so the series has no gaps).
        self.metrics.level("SpoolDepth", "Count", lambda: self.spool.depth()[0])
        self.metrics.level("SpoolAge", "Seconds", lambda: self.spool.oldest_age_s() or 0.0)
        self.metrics.level("EventSpoolDepth", "Count", lambda: self.events.depth()[0])
        self.metrics.level("EventSpoolAge", "Seconds", lambda: self.events.oldest_age_s() or 0.0)

    def start(self) -> None:
        depth, size = self.spool.depth()
        log.info("spool %s holds %d items (%d bytes) from before", self.spool.path, depth, size)
        self.sender.start()
        self.receiver.start()
        self.event_receiver.start()
        self.event_sender.start()
        self.capture_receiver.start()
        self.capture_sender.start()
        self._ipc.subscribe(topics.DETECTIONS, self.receiver.on_message)
        self._ipc.subscribe(topics.EVENTS, self.event_receiver.on_message)
        self._ipc.subscribe(topics.DATA_CAPTURES, self.capture_receiver.on_message)
        # Announces this run: producers resend at once what this writer has not receipted, so only
        # once the subscription is there to hear it.
        self.receipts.start()
        self.reporter.start()
        self.metrics.start()

    def stop(self) -> None:
        self.metrics.stop()
        self.receiver.stop()
        self.event_receiver.stop()
        self.capture_receiver.stop()
        self.receipts.stop()  # sends the receipts still batched
        self.reporter.stop()
        self.sender.stop()
        self.event_sender.stop()
        self.capture_sender.stop()
        self.events.close()
        self.captures.close()
        self.spool.close()

    def _sender_state(self) -> tuple[int, str | None]:
        return self.sender.consecutive_failures, self.sender.last_error

    def _held_state(self) -> tuple[int, str | None]:
        return self.receiver.held.items, self.receiver.spool_error

    def _capture_state(self) -> tuple[int, int, int, str | None]:
        pending, size = self.captures.depth()
        return pending, size, self.capture_sender.consecutive_failures, self.capture_sender.last_error

    def _event_state(self) -> tuple[int, str | None, str | None]:
        return self.event_sender.consecutive_failures, self.event_sender.last_error, self.event_receiver.spool_error
