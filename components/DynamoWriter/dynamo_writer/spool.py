"""The durable spool: an SQLite database in WAL mode, the writer's only source of truth.

A detection counts as received once its transaction is committed here (synchronous=FULL, so a
commit survives a power cut too). Items leave the spool only when DynamoDB has accepted them
(:meth:`Spool.ack`). The ``key`` column is the DynamoDB primary key, UNIQUE: a frame spooled twice
is one row, and a batch read from the spool never holds the same key twice. Depth counters live
in the database (kept by triggers) so every process that opens the file sees the same numbers.

The ``frames`` table remembers every frame the writer decided (its items spooled, or it had none),
written in the same transaction as the items: a frame sent again (producers resend until they see
a receipt) inserts nothing and gets the same receipt. Rows older than the producers could still
resend are pruned (:meth:`Spool.prune_frames`). Every schema statement is idempotent, so a spool
file from an earlier version gains the tables it lacks when it is opened.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from dynamo_writer.items import SpoolItem
from smartcam.durable import rollback

log = logging.getLogger(__name__)

OverflowPolicy = Literal["refuseNewest", "dropOldest"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    item TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    enqueued_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS depth (
    id INTEGER PRIMARY KEY CHECK (id = 1), items INTEGER NOT NULL, bytes INTEGER NOT NULL
);
INSERT OR IGNORE INTO depth (id, items, bytes) SELECT 1, COUNT(*), COALESCE(SUM(bytes), 0) FROM spool;
CREATE TRIGGER IF NOT EXISTS spool_in AFTER INSERT ON spool BEGIN
    UPDATE depth SET items = items + 1, bytes = bytes + NEW.bytes WHERE id = 1;
END;
CREATE TRIGGER IF NOT EXISTS spool_out AFTER DELETE ON spool BEGIN
    UPDATE depth SET items = items - 1, bytes = bytes - OLD.bytes WHERE id = 1;
END;
CREATE TABLE IF NOT EXISTS rejected (
    key TEXT PRIMARY KEY, item TEXT NOT NULL, reason TEXT NOT NULL, rejected_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS frames (
    frame_id TEXT PRIMARY KEY,
    camera_id TEXT NOT NULL,
    request_id TEXT,
    outcome TEXT NOT NULL,
    items INTEGER NOT NULL,
    decided_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS frames_by_decided_at ON frames (decided_at);
"""

FrameOutcome = Literal["stored", "summarized", "no_detections"]


@dataclass(frozen=True)
class SpooledItem:
    seq: int
    key: str
    item: dict[str, Any]
    enqueued_at: float


@dataclass(frozen=True)
class FrameKey:
    """The frame a message's items belong to, as the ``frames`` table remembers it."""

    frame_id: str
    camera_id: str
    request_id: str | None = None


@dataclass(frozen=True)
class DecidedFrame:
    """A row of the ``frames`` table: a frame whose items (``items`` of them) are in the spool, or
    that had none (``no_detections``), or whose detections went into events only (``summarized``)."""

    frame_id: str
    camera_id: str
    request_id: str | None
    outcome: FrameOutcome
    items: int
    decided_at: float


@dataclass(frozen=True)
class Admission:
    """What :meth:`Spool.put` did with one message's items."""

    accepted: int = 0  # newly committed
    duplicates: int = 0  # already spooled (same key)
    refused: int = 0  # spool full under refuseNewest, or disk full
    dropped: int = 0  # oldest items removed under dropOldest
    disk_full: bool = False
    reason: str = ""  # why, when the disk was full
    held: int = 0  # set by the receiver: waiting in memory for the spool
    lost: int = 0  # set by the receiver: neither spooled nor held (memory bound exceeded)
    decided: DecidedFrame | None = None  # the frame's row, when put with a frame and not refused
    already_decided: bool = False  # an earlier message decided the frame: nothing was inserted
    ignored: bool = False  # set by the receiver: a resend of a frame held in memory


def open_spool_db(path: Path, schema: str, max_page_count: int | None = None) -> sqlite3.Connection:
    """A spool's connection: WAL, a commit durable on disk before it returns (synchronous FULL), and
    ``schema`` created. ``max_page_count`` is for tests: a spool that cannot grow is a full disk."""
    db = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if mode.lower() != "wal":
        db.close()
        raise RuntimeError(f"spool {path} cannot use WAL mode (got {mode})")
    db.execute("PRAGMA synchronous=FULL")
    # The WAL shrinks back to nothing after each checkpoint: a burst leaves no large file behind,
    # and a full disk shows at the next commit (a WAL that kept its old size would be written
    # over in place and hide it until the backlog outgrew it).
    db.execute("PRAGMA journal_size_limit=0")
    if max_page_count is not None:
        db.execute(f"PRAGMA max_page_count={int(max_page_count)}")
    db.executescript(f"BEGIN IMMEDIATE; {schema} COMMIT;")
    return db


class Spool:
    def __init__(self, path: Path, *, max_page_count: int | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection per Spool, shared by the receiving and the sending thread under a lock:
        # SQLite serializes writers anyway, and one connection keeps the WAL checkpoints simple.
        self._db = open_spool_db(self.path, _SCHEMA, max_page_count)
        self._lock = threading.Lock()

    # receiving side -----------------------------------------------------------------------
    def put(self, items: Sequence[SpoolItem], *, max_items: int, max_bytes: int,
            policy: OverflowPolicy, frame: FrameKey | None = None, summarized: bool = False) -> Admission:
        """Commit one message's items in one transaction; all or nothing under refuseNewest.

        With ``frame``, the frame is remembered as decided in the same transaction (also when it has
        no items: ``summarized`` when it had detections that are not stored per frame, else
        ``no_detections``), and a frame decided before inserts nothing: its earlier row is returned."""
        if not items and frame is None:
            return Admission()
        with self._lock:
            try:
                return self._put(items, max_items, max_bytes, policy, frame, summarized)
            except sqlite3.Error as exc:
                self._rollback()  # whatever failed, the connection must not stay inside the transaction
                if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc).lower():
                    return Admission(refused=len(items), disk_full=True, reason=f"{type(exc).__name__}: {exc}")
                raise

    def _rollback(self) -> None:
        rollback(self._db, "spool")

    def _put(self, items: Sequence[SpoolItem], max_items: int, max_bytes: int,  # noqa: PLR0917
             policy: OverflowPolicy, frame: FrameKey | None, summarized: bool) -> Admission:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        if frame is not None and (earlier := self._decided(frame.frame_id)) is not None:
            db.execute("ROLLBACK")
            return Admission(decided=earlier, already_decided=True)
        known = {i.key for i in items if db.execute("SELECT 1 FROM spool WHERE key = ?", (i.key,)).fetchone()}
        fresh: dict[str, SpoolItem] = {}
        for item in items:
            if item.key not in known:
                fresh.setdefault(item.key, item)
        duplicates = len(items) - len(fresh)
        need_items = len(fresh)
        need_bytes = sum(i.size for i in fresh.values())
        depth_items, depth_bytes = db.execute("SELECT items, bytes FROM depth WHERE id = 1").fetchone()
        # Nothing new to store takes no room: a spool over a lowered limit still records the frame.
        over = need_items > 0 and (depth_items + need_items > max_items or depth_bytes + need_bytes > max_bytes)
        dropped = 0
        if (over and policy == "refuseNewest") or need_items > max_items or need_bytes > max_bytes:
            db.execute("ROLLBACK")
            return Admission(duplicates=duplicates, refused=need_items)
        if over:
            dropped = self._drop_oldest(depth_items + need_items - max_items, depth_bytes + need_bytes - max_bytes)
        now = time.time()
        db.executemany(
            "INSERT INTO spool (key, item, bytes, enqueued_at) VALUES (?, ?, ?, ?)",
            [(i.key, json.dumps(i.item, separators=(",", ":")), i.size, now) for i in fresh.values()],
        )
        decided = None
        if frame is not None:
            count = len({i.key for i in items})  # the frame's items now in the spool, new or not
            outcome: FrameOutcome = "stored" if count else "summarized" if summarized else "no_detections"
            decided = DecidedFrame(frame.frame_id, frame.camera_id, frame.request_id, outcome, count, now)
            db.execute(
                "INSERT INTO frames (frame_id, camera_id, request_id, outcome, items, decided_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (decided.frame_id, decided.camera_id, decided.request_id, decided.outcome, decided.items, now),
            )
        db.execute("COMMIT")
        return Admission(accepted=need_items, duplicates=duplicates, dropped=dropped, decided=decided)

    def _decided(self, frame_id: str) -> DecidedFrame | None:
        row = self._db.execute(
            "SELECT frame_id, camera_id, request_id, outcome, items, decided_at FROM frames WHERE frame_id = ?",
            (frame_id,),
        ).fetchone()
        return None if row is None else DecidedFrame(*row)

    def _drop_oldest(self, excess_items: int, excess_bytes: int) -> int:
        dropped, freed = 0, 0
        while dropped < excess_items or freed < excess_bytes:
            rows = self._db.execute("SELECT seq, bytes FROM spool ORDER BY seq LIMIT 64").fetchall()
            if not rows:
                break
            for seq, size in rows:
                if dropped >= excess_items and freed >= excess_bytes:
                    break
                self._db.execute("DELETE FROM spool WHERE seq = ?", (seq,))
                dropped += 1
                freed += size
        return dropped

    # sending side -------------------------------------------------------------------------
    def peek(self, limit: int) -> list[SpooledItem]:
        """The oldest ``limit`` items, distinct keys by construction."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, key, item, enqueued_at FROM spool ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        return [SpooledItem(seq, key, json.loads(item), at) for seq, key, item, at in rows]

    def ack(self, seqs: Iterable[int]) -> int:
        """Remove items DynamoDB accepted."""
        seqs = list(seqs)
        if not seqs:
            return 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            cur = self._db.executemany("DELETE FROM spool WHERE seq = ?", [(s,) for s in seqs])
            self._db.execute("COMMIT")
            return cur.rowcount

    def reject(self, entry: SpooledItem, reason: str) -> None:
        """Move an item DynamoDB refuses for good (ValidationException) aside, never silently lost."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT OR REPLACE INTO rejected (key, item, reason, rejected_at) VALUES (?, ?, ?, ?)",
                (entry.key, json.dumps(entry.item), reason[:1024], time.time()),
            )
            self._db.execute("DELETE FROM spool WHERE seq = ?", (entry.seq,))
            self._db.execute("COMMIT")

    # remembered frames --------------------------------------------------------------------
    def decided(self, frame_id: str) -> DecidedFrame | None:
        """The ``frames`` row of ``frame_id``, if the writer decided it (and did not prune it yet)."""
        with self._lock:
            return self._decided(frame_id)

    def prune_frames(self, max_age_s: float, *, now: float | None = None) -> int:
        """Forget the frames decided more than ``max_age_s`` ago; how many."""
        cutoff = (time.time() if now is None else now) - max_age_s
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                removed = self._db.execute("DELETE FROM frames WHERE decided_at < ?", (cutoff,)).rowcount
                self._db.execute("COMMIT")
            except sqlite3.Error:
                self._rollback()
                raise
        return int(removed)

    # inspection ---------------------------------------------------------------------------
    def depth(self) -> tuple[int, int]:
        """(items, bytes) waiting to be written."""
        with self._lock:
            items, size = self._db.execute("SELECT items, bytes FROM depth WHERE id = 1").fetchone()
        return int(items), int(size)

    def oldest_seq(self) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT seq FROM spool ORDER BY seq LIMIT 1").fetchone()
        return None if row is None else int(row[0])

    def oldest_age_s(self) -> float | None:
        with self._lock:
            row = self._db.execute("SELECT enqueued_at FROM spool ORDER BY seq LIMIT 1").fetchone()
        return None if row is None else max(0.0, time.time() - row[0])

    def rejected_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM rejected").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
