"""The events in the durable spool: the ``events`` table of the writer's SQLite file, one row per event.

A row holds the event as of the highest ``sequence`` the writer received (its DynamoDB item) and
what became of its snapshot: the writer's copies of the pictures, the S3 location they go to,
whether they are there yet, or why the event has none. A message of lower or equal sequence
changes nothing (:meth:`EventSpool.upsert` says what is held). ``pending`` marks a row whose
sequence DynamoDB has not accepted yet; :meth:`EventSpool.ack` clears it only if no newer message
arrived meanwhile, and hands back the picture copies the accepted item made unnecessary.

Writes of an open event are spaced (``eventUpdateIntervalS``): ``open`` says the held message is not
an ``end``, ``written_at`` (epoch seconds) when DynamoDB last accepted a message of the event.
:meth:`EventSpool.next_pending` skips a pending event that is open and was written less than the
interval ago; its latest message waits in the spool (durably: a restart keeps it) until the interval
has passed or the end supersedes it. Spools made before these columns gain them when opened.

Rows stay after they are written: the held sequence answers resends, and the snapshot state spares
uploading the same pictures again for every later message of the event. Written rows untouched for
longer than any producer resends are pruned (:meth:`EventSpool.prune`).

Same file and durability as :class:`dynamo_writer.spool.Spool` (WAL, synchronous=FULL), on a
connection of its own (:class:`dynamo_writer.spool_table.SpoolTable`): SQLite serializes the writers.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dynamo_writer.spool_table import SpoolTable

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY,
    camera_id TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    item TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    snapshot_frame TEXT,
    snapshot TEXT,
    snapshot_full TEXT,
    snapshot_crop TEXT,
    snapshot_bytes INTEGER NOT NULL DEFAULT 0,
    snapshot_uploaded INTEGER NOT NULL DEFAULT 0,
    snapshot_missing TEXT,
    written_sequence INTEGER,
    rejected TEXT,
    pending INTEGER NOT NULL,
    open INTEGER NOT NULL DEFAULT 1,
    written_at REAL,
    received_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_pending ON events (pending, received_at);
CREATE INDEX IF NOT EXISTS events_by_updated_at ON events (updated_at);
"""

_SELECT = ("SELECT event_id, camera_id, sequence, item, bytes, snapshot_frame, snapshot, snapshot_full, snapshot_crop, "
           "snapshot_bytes, snapshot_uploaded, snapshot_missing, written_sequence, rejected, received_at FROM events ")
_SELECT_HELD = _SELECT + "WHERE event_id = ?"
# Due: never written, ended, or written at least the interval ago (or "later" than now: the clock
# went back, so the interval cannot be told; writing then is the safe side).
_SELECT_NEXT_PENDING = _SELECT + (
    "WHERE pending = 1 AND (written_at IS NULL OR open = 0 OR written_at <= ? OR written_at > ?) "
    "ORDER BY received_at LIMIT 1")
# Columns added after the first release, for spools made before them (ALTER TABLE when missing).
_ADDED_COLUMNS = (
    ("open", "INTEGER NOT NULL DEFAULT 1",
     "UPDATE events SET open = (COALESCE(json_extract(item, '$.state.S'), 'open') != 'ended')"),
    ("written_at", "REAL", None),
)


@dataclass(frozen=True)
class SnapshotState:
    """An event's snapshot as the spool holds it."""

    frame_id: str
    value: dict[str, Any] | None  # the item's ``snapshot`` attribute (with its S3 location); None if missing
    full: Path | None = None  # the writer's copies, until the item naming them is in DynamoDB
    crop: Path | None = None
    bytes: int = 0
    uploaded: bool = False  # both pictures are in S3 at the location ``value`` names
    missing: str | None = None  # why the event has no snapshot though its message named one

    @property
    def copies(self) -> list[Path]:
        return [p for p in (self.full, self.crop) if p is not None]


@dataclass(frozen=True)
class HeldEvent:
    """One row of the ``events`` table."""

    event_id: str
    camera_id: str
    sequence: int
    item: dict[str, Any]
    bytes: int
    snapshot: SnapshotState | None
    written_sequence: int | None
    rejected: str | None
    received_at: float

    @property
    def pending(self) -> bool:
        return self.rejected is None and (self.written_sequence is None or self.written_sequence < self.sequence)


@dataclass(frozen=True)
class NewEvent:
    """A message's event, to hold unless the spool holds its sequence or a later one."""

    event_id: str
    camera_id: str
    sequence: int
    item: dict[str, Any]
    bytes: int
    snapshot: SnapshotState | None

    @property
    def open(self) -> bool:
        """Not the event's end: its later writes may be spaced."""
        return bool(self.item["state"]["S"] != "ended")


@dataclass(frozen=True)
class Upserted:
    """What :meth:`EventSpool.upsert` did: ``held`` is the sequence the spool holds now."""

    held: int
    changed: bool  # False: the spool held this sequence or a later one already
    refused: bool = False  # a new event, and the spool holds maxSpoolEvents pending ones
    superseded: tuple[Path, ...] = ()  # copies of an earlier snapshot of the event, to delete now
    coalesced: bool = False  # the message it replaced was still pending: DynamoDB never got that one


class EventSpool(SpoolTable):
    def __init__(self, path: Path, *, max_page_count: int | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(path, _SCHEMA, "events", max_page_count=max_page_count, clock=clock)
        _add_missing_columns(self._db)

    # receiving side -------------------------------------------------------------------------
    def held(self, event_id: str) -> HeldEvent | None:
        with self._lock:
            return self._held(event_id)

    def upsert(self, event: NewEvent, *, max_events: int) -> Upserted:
        """Hold ``event`` unless its sequence is not above the held one, in one transaction."""
        with self._lock:
            try:
                return self._upsert(event, max_events)
            except sqlite3.Error:
                self._rollback()
                raise

    def _upsert(self, event: NewEvent, max_events: int) -> Upserted:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        held = self._held(event.event_id)
        if held is not None and held.sequence >= event.sequence:
            db.execute("ROLLBACK")
            return Upserted(held=held.sequence, changed=False)
        if held is None and self._pending_count() >= max_events:
            db.execute("ROLLBACK")
            return Upserted(held=-1, changed=False, refused=True)
        snap = event.snapshot
        value = None if snap is None or snap.value is None else _dumps(snap.value)
        now = self._clock()
        db.execute(
            "INSERT INTO events (event_id, camera_id, sequence, item, bytes, snapshot_frame, snapshot, snapshot_full, "
            "snapshot_crop, snapshot_bytes, snapshot_uploaded, snapshot_missing, pending, open, received_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?) "
            "ON CONFLICT (event_id) DO UPDATE SET camera_id = excluded.camera_id, sequence = excluded.sequence, "
            "item = excluded.item, bytes = excluded.bytes, snapshot_frame = excluded.snapshot_frame, "
            "snapshot = excluded.snapshot, snapshot_full = excluded.snapshot_full, "
            "snapshot_crop = excluded.snapshot_crop, snapshot_bytes = excluded.snapshot_bytes, "
            "snapshot_uploaded = excluded.snapshot_uploaded, snapshot_missing = excluded.snapshot_missing, "
            "rejected = NULL, pending = 1, open = excluded.open, received_at = excluded.received_at, "
            "updated_at = excluded.updated_at",
            (event.event_id, event.camera_id, event.sequence, _dumps(event.item), event.bytes,
             None if snap is None else snap.frame_id, value,
             None if snap is None or snap.full is None else str(snap.full),
             None if snap is None or snap.crop is None else str(snap.crop),
             0 if snap is None else snap.bytes, int(snap is not None and snap.uploaded),
             None if snap is None else snap.missing, int(event.open), now, now),
        )
        db.execute("COMMIT")
        kept = set() if snap is None else set(snap.copies)
        earlier = [] if held is None or held.snapshot is None else held.snapshot.copies
        return Upserted(held=event.sequence, changed=True, superseded=tuple(p for p in earlier if p not in kept),
                        coalesced=held is not None and held.pending)

    # sending side ---------------------------------------------------------------------------
    def next_pending(self, min_interval_s: float = 0.0) -> HeldEvent | None:
        """The pending event received first among those due: never written, ended, or written at
        least ``min_interval_s`` ago."""
        now = self._clock()
        with self._lock:
            row = self._db.execute(_SELECT_NEXT_PENDING, (now - min_interval_s, now)).fetchone()
        return None if row is None else _held(row)

    def mark_uploaded(self, event_id: str, frame_id: str) -> bool:
        """Both pictures of snapshot ``frame_id`` are in S3; False if the event has another snapshot now."""
        return self._update("UPDATE events SET snapshot_uploaded = 1 WHERE event_id = ? AND snapshot_frame = ?",
                            (event_id, frame_id)) > 0

    def mark_missing(self, event_id: str, frame_id: str, reason: str) -> list[Path]:
        """Snapshot ``frame_id`` cannot reach S3 (its copies vanished): the event goes without it.
        Returns the copies to delete."""
        with self._lock:
            held = self._held(event_id)
            if held is None or held.snapshot is None or held.snapshot.frame_id != frame_id:
                return []
            self._write("UPDATE events SET snapshot = NULL, snapshot_full = NULL, snapshot_crop = NULL, "
                        "snapshot_bytes = 0, snapshot_uploaded = 0, snapshot_missing = ? "
                        "WHERE event_id = ? AND snapshot_frame = ?", (reason[:1024], event_id, frame_id))
            return held.snapshot.copies

    def ack(self, event_id: str, sequence: int, snapshot_frame: str | None) -> list[Path]:
        """DynamoDB holds the event as of ``sequence``, naming snapshot ``snapshot_frame`` (if any). The
        row stays pending if a later message arrived meanwhile. Returns the copies now unnecessary:
        those of the named snapshot, which is in S3 and named by an item there."""
        now = self._clock()
        with self._lock:
            held = self._held(event_id)
            if held is None:
                return []
            snap = held.snapshot
            done = snap is not None and snap.frame_id == snapshot_frame and snap.uploaded and bool(snap.copies)
            self._write(
                "UPDATE events SET written_sequence = MAX(COALESCE(written_sequence, -1), ?), "
                "pending = (sequence > ?), written_at = ?, updated_at = ? WHERE event_id = ?",
                (sequence, sequence, now, now, event_id),
                *([("UPDATE events SET snapshot_full = NULL, snapshot_crop = NULL, snapshot_bytes = 0 "
                    "WHERE event_id = ? AND snapshot_frame = ?", (event_id, snapshot_frame))] if done else []),
            )
            return snap.copies if done and snap is not None else []

    def reject(self, event_id: str, sequence: int, reason: str) -> None:
        """DynamoDB refuses the event as of ``sequence`` for good: kept, no longer sent (a later
        message of the event is tried again)."""
        self._update("UPDATE events SET rejected = ?, pending = 0, updated_at = ? WHERE event_id = ? AND sequence = ?",
                     (reason[:1024], self._clock(), event_id, sequence))

    # upkeep and inspection ------------------------------------------------------------------
    def prune(self, max_age_s: float, *, now: float | None = None) -> int:
        """Forget written (or rejected) events untouched for ``max_age_s``; how many. Their copies are
        gone already: an event's copies are deleted when the item naming them is written."""
        cutoff = (self._clock() if now is None else now) - max_age_s
        return self._update("DELETE FROM events WHERE pending = 0 AND updated_at < ? AND snapshot_full IS NULL "
                            "AND snapshot_crop IS NULL", (cutoff,))

    def copies(self) -> set[Path]:
        """Every picture copy a row names."""
        with self._lock:
            rows = self._db.execute("SELECT snapshot_full, snapshot_crop FROM events "
                                    "WHERE snapshot_full IS NOT NULL OR snapshot_crop IS NOT NULL").fetchall()
        return {Path(p) for row in rows for p in row if p is not None}

    def depth(self) -> tuple[int, int]:
        """(pending events, bytes of picture copies held)."""
        with self._lock:
            pending = self._pending_count()
            size = self._db.execute("SELECT COALESCE(SUM(snapshot_bytes), 0) FROM events").fetchone()[0]
        return pending, int(size)

    def oldest_age_s(self) -> float | None:
        with self._lock:
            row = self._db.execute("SELECT MIN(received_at) FROM events WHERE pending = 1").fetchone()
        return None if row[0] is None else max(0.0, self._clock() - row[0])

    # internals ------------------------------------------------------------------------------
    def _held(self, event_id: str) -> HeldEvent | None:
        row = self._db.execute(_SELECT_HELD, (event_id,)).fetchone()
        return None if row is None else _held(row)

    def _pending_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM events WHERE pending = 1").fetchone()[0])


def _held(row: tuple[Any, ...]) -> HeldEvent:
    (event_id, camera_id, sequence, item, size, frame, value, full, crop, snap_bytes, uploaded, missing,
     written, rejected, received_at) = row
    snapshot = None
    if frame is not None:
        snapshot = SnapshotState(frame, None if value is None else json.loads(value),
                                 None if full is None else Path(full), None if crop is None else Path(crop),
                                 int(snap_bytes), bool(uploaded), missing)
    return HeldEvent(event_id, camera_id, int(sequence), json.loads(item), int(size), snapshot,
                     None if written is None else int(written), rejected, float(received_at))


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """Bring a spool made by an earlier version up to this schema; nothing to do on later opens."""
    db.execute("BEGIN IMMEDIATE")
    try:
        present = {row[1] for row in db.execute("PRAGMA table_info(events)")}
        for name, definition, fill in _ADDED_COLUMNS:
            if name not in present:
                db.execute(f"ALTER TABLE events ADD COLUMN {name} {definition}")
                if fill is not None:
                    db.execute(fill)
                log.info("events spool: added column %s", name)
        db.execute("COMMIT")
    except sqlite3.Error:
        db.execute("ROLLBACK")
        raise


def _dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"))
