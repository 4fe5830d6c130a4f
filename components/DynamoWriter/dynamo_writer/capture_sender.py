"""The data captures' sender thread: each captured frame's three objects to S3, then the spool.

For the pending capture received first, the objects S3 does not have yet, in order: the JPEG (the
writer's copy), the predictions file, the manifest line (last: a manifest line never names an image
that is not in S3). Each is one PutObject, idempotent (the same bytes, decided when the capture was
received, to the same key), and the spool records it once S3 took it (``uploaded``). When all three
are there the capture is no longer pending and the copy of the JPEG is deleted. A crash between an
upload and its record repeats that upload only: each capture is one object of each kind.

Retries, backoff, fresh clients and the bucket created on first use (``createBucketIfMissing``, local
runtime only) as for the events (:class:`dynamo_writer.cloud_sender.CloudSender`). A JPEG copy that
vanished from the spool folder cannot be uploaded: the capture is finished without its objects and
counted (``capturesMissing``), never retried for ever.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from dynamo_writer.capture_spool import CaptureSpool, SpooledCapture
from dynamo_writer.cloud_sender import CloudSender, Retry
from dynamo_writer.ground_truth import JPEG_TYPE, JSON_TYPE, MANIFEST_TYPE
from dynamo_writer.sender import ClientFactory
from dynamo_writer.settings import DynamoWriterConfig
from dynamo_writer.snapshots import SnapshotCopier, create_bucket_if_missing, make_s3_client, put
from smartcam.telemetry import Counters

log = logging.getLogger(__name__)


class CaptureSender(CloudSender):
    def __init__(self, spool: CaptureSpool, copier: SnapshotCopier, settings: Callable[[], DynamoWriterConfig],
                 counters: Counters, *, s3_client_factory: ClientFactory = make_s3_client) -> None:
        super().__init__(settings, counters, what="capture", factories={"s3": s3_client_factory})
        self._spool = spool
        self._copier = copier

    def step(self) -> float | None:
        """Upload the oldest pending capture; how long to wait before the next step (None: nothing to send)."""
        cfg = self._begin_step()
        capture = self._spool.next_pending()
        if capture is None:
            return None
        try:
            self._upload(capture, cfg)
        except Retry:
            return self._backoff.next_delay()
        return self._succeeded()

    def _upload(self, capture: SpooledCapture, cfg: DynamoWriterConfig) -> None:
        try:
            image = b"" if capture.uploaded else self._image(capture)
        except FileNotFoundError as exc:
            self._counters.add("capturesMissing")
            log.error("capture %s: the spooled JPEG vanished (%s); its objects are not uploaded", capture.frame_id, exc)
            self._spool.finish(capture.frame_id)
            return
        objects = ((capture.keys.image, image, JPEG_TYPE), (capture.keys.predictions, capture.predictions, JSON_TYPE),
                   (capture.keys.manifest, capture.manifest, MANIFEST_TYPE))
        for done, (key, body, content_type) in enumerate(objects, start=1):
            if done <= capture.uploaded:
                continue
            try:
                put(self._client("s3", cfg, capture.bucket), capture.bucket, key, body, content_type)
            except (ClientError, BotoCoreError) as exc:
                self._failed("s3", exc)
            self._spool.mark_uploaded(capture.frame_id, done)
        copy = self._spool.finish(capture.frame_id)
        self._copier.remove([copy] if copy is not None else [])
        self._counters.add("capturesUploaded")

    @staticmethod
    def _image(capture: SpooledCapture) -> bytes:
        if capture.image_copy is None:
            raise FileNotFoundError("no copy of the JPEG is spooled")
        return capture.image_copy.read_bytes()

    def _prepare(self, service: str, client: Any, resource: str, cfg: DynamoWriterConfig) -> bool:
        if cfg.create_bucket_if_missing:
            create_bucket_if_missing(client, resource, cfg.region or os.environ.get("AWS_REGION"))
            return True
        return False
