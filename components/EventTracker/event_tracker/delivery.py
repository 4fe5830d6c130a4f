"""Events to DynamoWriter at least once, and their start and end to IoT Core.

Every ``TrackEvent`` goes into a durable outbox (the :class:`~event_tracker.store.EventStore`) keyed
by event id, which holds the event's latest message (the highest sequence: each message is the whole
event), and out on ``smartcam/events``. It stays until DynamoWriter's ``Receipts`` carry an
``EventReceipt`` for the event with at least that sequence (``stored``, or ``lost``: the writer could
not keep it), and is sent again:

- at once, when the writer's receipts show a run not heard from before that announces its start (or
  follows another run): that run holds nothing of what was sent before;
- after ``FIRST_RESEND_S`` without a receipt, backing off to ``MAX_RESEND_S``, once the writer has sent
  receipts in this run (a writer that never did is not running, and its announcement brings
  everything at once when it starts);
- at start, for whatever the store kept.

IoT Core gets ``start`` and ``end`` once each, when first sent (QoS 1: the nucleus spools them while
the device is offline); ``update`` messages stay on the device.

Not thread-safe on its own: the app calls it under its lock (:meth:`Outbox.replace` and
:meth:`Outbox.settle` of one key must not race).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection

from event_tracker.store import EventStore
from smartcam import topics
from smartcam.contracts import Receipts, TrackEvent
from smartcam.handoff import Outbox, StageWatch
from smartcam.ipc import Ipc
from smartcam.telemetry import Counters

log = logging.getLogger(__name__)

WRITER = "smartcam.DynamoWriter"
# Far more events than a device sees while its writer is down for a day; beyond, the oldest event is no
# longer followed (counted) and its latest message is all the writer may have of it.
OUTBOX_CAPACITY = 20_000
FIRST_RESEND_S = 10.0  # well above an event's normal time to its receipt
MAX_RESEND_S = 300.0
IOT_KINDS = frozenset({"start", "end"})
COUNTERS = {"start": "eventsStarted", "update": "updatesSent", "end": "eventsEnded"}


class EventDelivery:
    def __init__(self, ipc: Ipc, store: EventStore, counters: Counters, thing: str, *,
                 iot_enabled: Callable[[], bool], clock: Callable[[], float] = time.monotonic) -> None:
        self._ipc = ipc
        self._counters = counters
        self._iot_topic = topics.iot_events(thing)
        self._iot_enabled = iot_enabled
        self.outbox: Outbox[TrackEvent] = Outbox(TrackEvent, capacity=OUTBOX_CAPACITY, first_resend_s=FIRST_RESEND_S,
                                                 max_resend_s=MAX_RESEND_S, store=store, clock=clock)
        self._stages = StageWatch()
        self._writer_heard = False

    def restore(self, superseded: Collection[str] = ()) -> int:
        """Send again what the store kept from the previous run, but the events in ``superseded`` (a newer
        message follows at once); how many were kept."""
        restored = self.outbox.restore()
        for message in restored:
            if message.event_id not in superseded:
                self._resend(message)
        return len(restored)

    def send(self, message: TrackEvent) -> None:
        """Keep ``message`` as its event's latest, publish it, and its start or end to IoT Core."""
        evicted = self.outbox.replace(message.event_id, message)
        if evicted is not None:
            self._counters.add("eventsUnfollowed")
            log.warning("event outbox full (%d events without receipt): event %s is no longer followed",
                        OUTBOX_CAPACITY, evicted.event_id)
        self._counters.add(COUNTERS[message.kind])
        self._publish(message)
        if message.kind in IOT_KINDS and self._iot_enabled():
            try:
                self._ipc.publish_iot(self._iot_topic, message, qos=1)
            except Exception as exc:  # noqa: BLE001 - IoT Core is for automations: counted, not retried
                self._counters.add("iotPublishErrors")
                log.warning("event %s (%s) not sent to IoT Core: %s", message.event_id, message.kind, exc)

    def waiting(self, event_id: str) -> bool:
        """The event has a message without the writer's receipt."""
        return event_id in self.outbox

    def awaiting(self) -> int:
        return len(self.outbox)

    def on_receipts(self, receipts: Receipts) -> list[TrackEvent]:
        """The writer's receipts: settle what they cover; returns the messages settled."""
        if receipts.stage != WRITER:
            return []
        heard_before, self._writer_heard = self._writer_heard, True
        if self._stages.restarted(receipts) and (heard_before or receipts.announcement):
            waiting = self.outbox.resend_all_now()
            log.info("DynamoWriter run %s: %d events without receipt sent again", receipts.instance, waiting)
            self.tick()
        covered: dict[str, int] = {}
        lost: set[str] = set()
        for receipt in receipts.events or ():
            if receipt.sequence >= covered.get(receipt.event_id, -1):
                covered[receipt.event_id] = receipt.sequence
                if receipt.outcome == "lost":
                    lost.add(receipt.event_id)
                else:
                    lost.discard(receipt.event_id)
        settled = self.outbox.settle(covered, covers=lambda key, held: held.sequence <= covered[key])
        for message in settled:
            if message.event_id in lost:
                self._counters.add("eventsLost")
                log.error("DynamoWriter lost event %s as of sequence %d", message.event_id, message.sequence)
            else:
                self._counters.add("eventsReceipted")
        return settled

    def tick(self) -> None:
        """Send again what is due (once the writer has been heard in this run)."""
        if self._writer_heard:
            for message in self.outbox.due():
                self._resend(message)

    def _resend(self, message: TrackEvent) -> None:
        self._counters.add("eventsResent")
        self._publish(message)

    def _publish(self, message: TrackEvent) -> None:
        try:
            self._ipc.publish(topics.EVENTS, message)
        except Exception as exc:  # noqa: BLE001 - it stays in the outbox and is due again later
            self._counters.add("publishErrors")
            log.warning("event %s (sequence %d) not published: %s", message.event_id, message.sequence, exc)
