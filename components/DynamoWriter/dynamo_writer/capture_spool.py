"""The data captures in the durable spool: the ``captures`` table of the writer's SQLite file, one row
per captured frame (its frame id).

A row holds everything its three S3 objects need, decided when it was received: the bucket, the
three keys, the writer's copy of the JPEG and the bytes of the predictions file and of the manifest
line. ``uploaded`` counts how many of the three, in that order, S3 has (the manifest line last, so it
never names an image that is not there); a crash repeats only the uploads after the last one recorded,
with the same bytes to the same keys. ``pending`` is cleared when all three are in S3, and the copy of
the JPEG is deleted then.

Rows stay after they are uploaded, so a capture EventTracker sends again (it did not get the receipt)
is recognised and receipted again, not uploaded twice; written rows untouched for longer than any
producer resends are pruned (:meth:`CaptureSpool.prune`).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from dynamo_writer.ground_truth import CaptureKeys
from dynamo_writer.spool_table import SpoolTable

OBJECTS = 3  # the JPEG, the predictions, the manifest line: uploaded in this order

_SCHEMA = """
CREATE TABLE IF NOT EXISTS captures (
    frame_id TEXT PRIMARY KEY,
    camera_id TEXT NOT NULL,
    bucket TEXT NOT NULL,
    image_key TEXT NOT NULL,
    predictions_key TEXT NOT NULL,
    manifest_key TEXT NOT NULL,
    image_copy TEXT,
    image_bytes INTEGER NOT NULL,
    predictions BLOB,
    manifest BLOB,
    uploaded INTEGER NOT NULL DEFAULT 0,
    pending INTEGER NOT NULL,
    received_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS captures_pending ON captures (pending, received_at);
CREATE INDEX IF NOT EXISTS captures_by_updated_at ON captures (updated_at);
"""
_SELECT = ("SELECT frame_id, camera_id, bucket, image_key, predictions_key, manifest_key, image_copy, image_bytes, "
           "predictions, manifest, uploaded FROM captures ")
_SELECT_HELD = _SELECT + "WHERE frame_id = ?"
_SELECT_NEXT_PENDING = _SELECT + "WHERE pending = 1 ORDER BY received_at LIMIT 1"

Added = Literal["added", "duplicate", "full"]


@dataclass(frozen=True)
class SpooledCapture:
    """One captured frame as the spool holds it."""

    frame_id: str
    camera_id: str
    bucket: str
    keys: CaptureKeys
    image_copy: Path | None  # the writer's copy of the JPEG, until the three objects are in S3
    image_bytes: int
    predictions: bytes
    manifest: bytes
    uploaded: int = 0  # how many of the three objects (in order) S3 has


class CaptureSpool(SpoolTable):
    def __init__(self, path: Path, *, max_page_count: int | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(path, _SCHEMA, "captures", max_page_count=max_page_count, clock=clock)

    def held(self, frame_id: str) -> SpooledCapture | None:
        with self._lock:
            row = self._db.execute(_SELECT_HELD, (frame_id,)).fetchone()
        return None if row is None else _capture(row)

    def add(self, capture: SpooledCapture, *, max_captures: int, max_bytes: int) -> Added:
        """Hold ``capture`` unless the spool has its frame already or is full, in one transaction."""
        now = self._clock()
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                if self._db.execute("SELECT 1 FROM captures WHERE frame_id = ?", (capture.frame_id,)).fetchone():
                    self._db.execute("ROLLBACK")
                    return "duplicate"
                count, size = self._db.execute("SELECT COUNT(*), COALESCE(SUM(image_bytes), 0) FROM captures "
                                               "WHERE pending = 1").fetchone()
                if count >= max_captures or size + capture.image_bytes > max_bytes:
                    self._db.execute("ROLLBACK")
                    return "full"
                self._db.execute(
                    "INSERT INTO captures (frame_id, camera_id, bucket, image_key, predictions_key, manifest_key, "
                    "image_copy, image_bytes, predictions, manifest, uploaded, pending, received_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 1, ?, ?)",
                    (capture.frame_id, capture.camera_id, capture.bucket, capture.keys.image, capture.keys.predictions,
                     capture.keys.manifest, None if capture.image_copy is None else str(capture.image_copy),
                     capture.image_bytes, capture.predictions, capture.manifest, now, now))
                self._db.execute("COMMIT")
            except sqlite3.Error:
                self._rollback()
                raise
        return "added"

    def next_pending(self) -> SpooledCapture | None:
        """The pending capture received first."""
        with self._lock:
            row = self._db.execute(_SELECT_NEXT_PENDING).fetchone()
        return None if row is None else _capture(row)

    def mark_uploaded(self, frame_id: str, uploaded: int) -> None:
        """S3 has the first ``uploaded`` objects of the capture."""
        self._update("UPDATE captures SET uploaded = MAX(uploaded, ?), updated_at = ? WHERE frame_id = ?",
                     (uploaded, self._clock(), frame_id))

    def finish(self, frame_id: str) -> Path | None:
        """All three objects are in S3: no longer pending; returns the copy of the JPEG to delete."""
        held = self.held(frame_id)
        self._update("UPDATE captures SET uploaded = ?, pending = 0, image_copy = NULL, image_bytes = 0, "
                     "predictions = NULL, manifest = NULL, updated_at = ? WHERE frame_id = ?",
                     (OBJECTS, self._clock(), frame_id))
        return None if held is None else held.image_copy

    def prune(self, max_age_s: float, *, now: float | None = None) -> int:
        """Forget uploaded captures untouched for ``max_age_s``; how many."""
        cutoff = (self._clock() if now is None else now) - max_age_s
        return self._update("DELETE FROM captures WHERE pending = 0 AND updated_at < ?", (cutoff,))

    def copies(self) -> set[Path]:
        with self._lock:
            rows = self._db.execute("SELECT image_copy FROM captures WHERE image_copy IS NOT NULL").fetchall()
        return {Path(path) for (path,) in rows}

    def depth(self) -> tuple[int, int]:
        """(pending captures, bytes of their JPEG copies)."""
        with self._lock:
            count, size = self._db.execute("SELECT COUNT(*), COALESCE(SUM(image_bytes), 0) FROM captures "
                                           "WHERE pending = 1").fetchone()
        return int(count), int(size)


def _capture(row: tuple[Any, ...]) -> SpooledCapture:
    (frame_id, camera_id, bucket, image_key, predictions_key, manifest_key, image_copy, image_bytes, predictions,
     manifest, uploaded) = row
    return SpooledCapture(frame_id, camera_id, bucket, CaptureKeys(image_key, predictions_key, manifest_key),
                          None if image_copy is None else Path(image_copy), int(image_bytes),
                          bytes(predictions or b""), bytes(manifest or b""), int(uploaded))
