"""The events' sender thread: pictures to S3, then the event's item to DynamoDB, then the spool.

For the pending event received first among those due (an open event written less than
``eventUpdateIntervalS`` ago waits, its latest message held in the spool; IDLE_S bounds how late
it goes once the interval has passed; its end is due at once):
1. its snapshot's two pictures go to S3 (PutObject, idempotent: the same bytes to the same keys),
   unless they are there already; the spool records that they are;
2. the item goes to DynamoDB with PutItem on condition ``attribute_not_exists(event_id) OR
   #seq < :seq``: an item held as of a later sequence is never overwritten by an older one, and a
   ConditionalCheckFailed means DynamoDB has this sequence or a later one: done all the same;
3. the spool marks the sequence written (the event stays pending if a later message arrived
   meanwhile) and the writer's copies of pictures now in S3 and named by an item are deleted.
So an item names a snapshot only once both objects are in S3. A crash between any two steps repeats
the steps after the last one recorded, to the same keys: each event is one item, its pictures one
object each. Retries, backoff and fresh clients as in :mod:`dynamo_writer.sender`
(:class:`dynamo_writer.cloud_sender.CloudSender`). An event refused
with ValidationException is set aside in the spool (``rejected``, counted ``eventsRejected``); copies
that vanished from the spool folder leave the event without its snapshot (``snapshot_missing``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from dynamo_writer.cloud_sender import CloudSender, Retry
from dynamo_writer.dynamo import EVENTS_TABLE_DEFINITION, create_table_if_missing, make_client
from dynamo_writer.event_items import with_snapshot
from dynamo_writer.event_spool import EventSpool, HeldEvent
from dynamo_writer.sender import ClientFactory
from dynamo_writer.settings import DynamoWriterConfig
from dynamo_writer.snapshots import SnapshotCopier, create_bucket_if_missing, make_s3_client, upload
from smartcam.telemetry import Counters

log = logging.getLogger(__name__)

CONDITION = "attribute_not_exists(event_id) OR #seq < :seq"


class EventSender(CloudSender):
    def __init__(
        self,
        spool: EventSpool,
        copier: SnapshotCopier,
        settings: Callable[[], DynamoWriterConfig],
        counters: Counters,
        *,
        client_factory: ClientFactory = make_client,
        s3_client_factory: ClientFactory = make_s3_client,
        on_written: Callable[[HeldEvent], None] | None = None,
    ) -> None:
        super().__init__(settings, counters, what="event",
                         factories={"dynamodb": client_factory, "s3": s3_client_factory})
        self._spool = spool
        self._copier = copier
        self._on_written = on_written or (lambda _event: None)

    # one step -------------------------------------------------------------------------------
    def step(self) -> float | None:
        """Send the oldest pending event; how long to wait before the next step (None: nothing to send)."""
        cfg = self._begin_step()
        event = self._spool.next_pending(cfg.event_update_interval_s)
        if event is None:
            return None
        try:
            event = self._snapshot_in_s3(event, cfg)
            if event is not None:
                self._write(event, cfg)
        except Retry:
            return self._backoff.next_delay()
        return self._succeeded()

    def _snapshot_in_s3(self, event: HeldEvent, cfg: DynamoWriterConfig) -> HeldEvent | None:
        """``event`` with its pictures in S3, or None when the row changed meanwhile (step again)."""
        snap = event.snapshot
        if snap is None or snap.value is None or snap.uploaded:
            return event
        location = snap.value["M"]
        bucket = location["bucket"]["S"]
        try:
            client = self._client("s3", cfg, bucket)
            for key, copy in ((location["key"]["S"], snap.full), (location["crop_key"]["S"], snap.crop)):
                if copy is None:
                    raise FileNotFoundError(f"no copy of {key} is spooled")
                upload(client, bucket, key, copy)
        except FileNotFoundError as exc:
            now = self._spool.held(event.event_id)
            if now is not None and now.snapshot is not None and now.snapshot.frame_id == snap.frame_id:
                # Not a newer snapshot replacing it: the copies are gone for good. Never block the event.
                self._counters.add("snapshotsMissing")
                log.error("event %s: the spooled snapshot vanished (%s); stored without it", event.event_id, exc)
                self._copier.remove(self._spool.mark_missing(event.event_id, snap.frame_id,
                                                             f"the writer's copy vanished: {exc}"))
            return None
        except (ClientError, BotoCoreError) as exc:
            self._failed("s3", exc)
        self._counters.add("snapshotsUploaded")
        if not self._spool.mark_uploaded(event.event_id, snap.frame_id):
            return None
        return self._unchanged(event, self._spool.held(event.event_id))

    def _write(self, event: HeldEvent, cfg: DynamoWriterConfig) -> None:
        snap = event.snapshot
        named = snap is not None and snap.uploaded and snap.value is not None
        item = with_snapshot(event.item, snapshot=snap.value if named and snap is not None else None,
                             missing=snap.missing if snap is not None else None, sent_at=time.time())
        table = cfg.events_table_name
        try:
            self._client("dynamodb", cfg, table).put_item(
                TableName=table, Item=item, ConditionExpression=CONDITION,
                ExpressionAttributeNames={"#seq": "sequence"}, ExpressionAttributeValues={":seq": item["sequence"]})
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                self._counters.add("eventsAlreadyNewer")  # DynamoDB holds this sequence or a later one
            elif code == "ValidationException":
                message = exc.response.get("Error", {}).get("Message", "")
                log.error("event %s refused by DynamoDB, set aside in the spool: %s", event.event_id, message)
                self._spool.reject(event.event_id, event.sequence, f"{code}: {message}")
                self._counters.add("eventsRejected")
                return
            else:
                self._failed("dynamodb", exc)
        except BotoCoreError as exc:
            self._failed("dynamodb", exc)
        self._counters.add("eventsWritten")
        self._copier.remove(self._spool.ack(event.event_id, event.sequence, snap.frame_id if named and snap else None))
        self._on_written(event)

    def _prepare(self, service: str, client: Any, resource: str, cfg: DynamoWriterConfig) -> bool:
        if service == "dynamodb" and cfg.create_table_if_missing:
            create_table_if_missing(client, resource, EVENTS_TABLE_DEFINITION)
            return True
        if service == "s3" and cfg.create_bucket_if_missing:
            create_bucket_if_missing(client, resource, cfg.region or os.environ.get("AWS_REGION"))
            return True
        return False

    @staticmethod
    def _unchanged(event: HeldEvent, now: HeldEvent | None) -> HeldEvent | None:
        """``now``, the row read again once the upload is recorded, unless a newer message arrived
        meanwhile: its snapshot may be another one, not in S3 yet (None: step again)."""
        return now if now is not None and now.sequence == event.sequence else None
