"""Event snapshots (and data captures' frames): copied from EventTracker's work folder into the writer's
spool folder, then to S3.

EventTracker may delete its pictures once the writer receipted the event, so the writer copies both
JPEG files (full frame and crop) into its own folder before the receipt, durably (written to a
temporary file, fsynced, renamed, the folder fsynced). A message names the files by path, so the
writer reads only regular files below the snapshot source folder (``SMARTCAM_SNAPSHOT_SOURCE``, the
recipe sets EventTracker's snapshot folder), not through a symbolic link, that are JPEG files of the
size the message gives: a peer cannot make it upload anything else.

A picture that cannot be read is :class:`SnapshotUnreadable` (the event is stored without it, the
reason recorded); a copy the writer cannot write is :class:`SnapshotSpoolError` (the disk: the event
is not receipted, and EventTracker sends it again). A data capture's frame is copied the same way, by a
copier of its own (source: EventTracker's captures folder, ``SMARTCAM_CAPTURE_SOURCE``), with
:meth:`SnapshotCopier.copy_picture`.

S3 keys: ``<prefix>/<thing>/<camera>/<yyyy>/<mm>/<dd>/<event id>/full.jpg`` and ``crop.jpg``, the date
of the event's first sighting (UTC). An event's keys never change, so a better snapshot of the same
event replaces its pictures, and PutObject to them is idempotent.

Region, credentials and timeouts as for DynamoDB (:mod:`dynamo_writer.dynamo`); the endpoint only
from ``AWS_ENDPOINT_URL_S3``, read by boto3 (locally the S3 stand-in, addressed path-style).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from dynamo_writer.dynamo import fresh_client
from dynamo_writer.settings import DynamoWriterConfig
from smartcam.contracts import SnapshotRef

log = logging.getLogger(__name__)

SOURCE_ENV = "SMARTCAM_SNAPSHOT_SOURCE"
CAPTURE_SOURCE_ENV = "SMARTCAM_CAPTURE_SOURCE"
JPEG_MAGIC = b"\xff\xd8\xff"
MAX_PICTURE_BYTES = 32 * 1024 * 1024  # far above any camera frame as JPEG; a bound on what is read
CONTENT_TYPE = "image/jpeg"
FULL, CROP = "full.jpg", "crop.jpg"


class SnapshotUnreadable(Exception):
    """The picture a message names cannot be used (missing, unreadable, not a JPEG, elsewhere)."""


class SnapshotSpoolError(Exception):
    """The writer could not write its copy (disk full, I/O error): worth trying again later."""


@dataclass(frozen=True)
class SpooledSnapshot:
    """The writer's copies of one snapshot's two pictures."""

    full: Path
    crop: Path
    bytes: int


def snapshot_keys(prefix: str, device: str, camera_id: str, first_seen: float, event_id: str) -> tuple[str, str]:
    """(full, crop) S3 keys of an event's pictures."""
    day = time.strftime("%Y/%m/%d", time.gmtime(first_seen))
    folder = f"{prefix}/{device}/{camera_id}/{day}/{event_id}"
    return f"{folder}/{FULL}", f"{folder}/{CROP}"


class SnapshotCopier:
    """Copies snapshots named by messages from ``source`` into ``folder`` (the writer's own)."""

    def __init__(self, source: Path, folder: Path) -> None:
        self.source = Path(os.path.realpath(source))
        self.folder = Path(folder)

    def copy(self, event_id: str, snapshot: SnapshotRef) -> SpooledSnapshot:
        full = self._read(snapshot.path)
        crop = self._read(snapshot.crop_path)
        if len(full) + len(crop) != snapshot.bytes:
            raise SnapshotUnreadable(f"the pictures have {len(full) + len(crop)} bytes, the event says "
                                     f"{snapshot.bytes}: they are not the ones it describes")
        target = self.folder / event_id
        try:
            target.mkdir(parents=True, exist_ok=True)
            full_copy = _write_durably(target / f"{snapshot.frame_id}.{FULL}", full)
            crop_copy = _write_durably(target / f"{snapshot.frame_id}.{CROP}", crop)
            _fsync_folder(target)
            _fsync_folder(self.folder)
        except OSError as exc:
            raise SnapshotSpoolError(f"{type(exc).__name__}: {exc}") from exc
        return SpooledSnapshot(full_copy, crop_copy, len(full) + len(crop))

    def copy_picture(self, key: str, name: str, path: str, size: int) -> Path:
        """Copy one JPEG of ``size`` bytes named by a message to ``<folder>/<key>/<name>``, durably.
        Raises SnapshotUnreadable or SnapshotSpoolError as :meth:`copy` does."""
        data = self._read(path)
        if len(data) != size:
            raise SnapshotUnreadable(f"{path} has {len(data)} bytes, the message says {size}")
        target = self.folder / key
        try:
            target.mkdir(parents=True, exist_ok=True)
            copy = _write_durably(target / name, data)
            _fsync_folder(target)
            _fsync_folder(self.folder)
        except OSError as exc:
            raise SnapshotSpoolError(f"{type(exc).__name__}: {exc}") from exc
        return copy

    def files(self) -> set[Path]:
        """Every picture in the folder (to find those no spooled event names after a crash)."""
        if not self.folder.is_dir():
            return set()
        return {path for path in self.folder.glob("*/*") if path.is_file()}

    def remove(self, paths: list[Path]) -> None:
        """Delete copies no event needs any more, and their event's folder once empty."""
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            with contextlib.suppress(OSError):  # not empty yet, or gone
                path.parent.rmdir()

    def _read(self, path: str) -> bytes:
        real = os.path.realpath(path)
        if os.path.commonpath([real, self.source]) != str(self.source):
            raise SnapshotUnreadable(f"{path} is not in the snapshot folder {self.source}")
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError as exc:
            reason = "missing" if exc.errno == errno.ENOENT else "unreadable"
            raise SnapshotUnreadable(f"{path} is {reason}: {exc.strerror}") from exc
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise SnapshotUnreadable(f"{path} is not a regular file")
            if info.st_size > MAX_PICTURE_BYTES:
                raise SnapshotUnreadable(f"{path} has {info.st_size} bytes, over {MAX_PICTURE_BYTES}")
            with os.fdopen(fd, "rb", closefd=False) as file:
                data = file.read(MAX_PICTURE_BYTES + 1)
        except OSError as exc:
            raise SnapshotUnreadable(f"{path} is unreadable: {exc}") from exc
        finally:
            os.close(fd)
        if not data.startswith(JPEG_MAGIC):
            raise SnapshotUnreadable(f"{path} is not a JPEG file")
        return data


def _write_durably(path: Path, data: bytes) -> Path:
    partial = path.with_name(f".{path.name}.partial")
    with open(partial, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    partial.replace(path)
    return path


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# S3 -------------------------------------------------------------------------------------------------
def make_s3_client(config: DynamoWriterConfig) -> Any:
    """A fresh S3 client (fresh credential chain), as :func:`dynamo_writer.dynamo.make_client`."""
    return fresh_client("s3", config)


def upload(client: Any, bucket: str, key: str, picture: Path) -> None:
    """PutObject of one picture: the same bytes to the same key again change nothing."""
    put(client, bucket, key, picture.read_bytes(), CONTENT_TYPE)


def put(client: Any, bucket: str, key: str, body: bytes, content_type: str) -> None:
    """PutObject: the same bytes to the same key again change nothing."""
    client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)


def create_bucket_if_missing(client: Any, bucket: str, region: str | None) -> bool:
    """Local/dev runtime only (createBucketIfMissing): create the bucket."""
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region and region != "us-east-1":  # S3's one region that takes no location constraint
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        client.create_bucket(**kwargs)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            return False
        raise
    log.info("created bucket %s", bucket)
    return True
