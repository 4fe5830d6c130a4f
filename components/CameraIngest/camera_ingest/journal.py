"""CameraIngest's journal: what it must still follow after a crash, in SQLite in its work folder.

Two tables:
- ``outbox``: every ``FrameRef`` published and not receipted yet, as the durable store
  (:class:`smartcam.handoff.OutboxStore`) of the frame outbox, each with the capture it belongs to;
- ``captures``: every capture request whose final status has not gone out: its ids, the frames
  requested and captured, the receipted outcomes so far, and how the capture ended (NULL while it
  runs, so a row still NULL after a restart is a capture the restart interrupted) with the frames
  its motion gate kept back (written when it ends: a gated frame costs no write).

WAL with ``synchronous=NORMAL``: the journal is for crashes of the component or of the whole runtime
(processes), and a commit in the WAL survives those without an fsync per frame. A power cut may undo
the last commits; the WAL is a log, so what survives is always a prefix of them and the counts stay
consistent (a frame is counted captured before it enters the outbox, and leaves the outbox before its
outcome is tallied). A power cut empties the frame ring in /dev/shm anyway.

A write that fails (disk full, I/O error) is logged and counted in :attr:`Journal.problem`, never
raised: the capture goes on and the frames are followed in memory for this run.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from smartcam.durable import rollback

log = logging.getLogger(__name__)

# 2: captures.summarized and captures.frames_gated; a version 1 journal gains them when opened.
SCHEMA_VERSION = 2
# One column per receipt outcome (smartcam.contracts.OUTCOMES), spelled out: no SQL is built from text.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS captures (
    capture INTEGER PRIMARY KEY,
    request_id TEXT,
    camera_id TEXT NOT NULL,
    frames_requested INTEGER,
    frames_captured INTEGER NOT NULL DEFAULT 0,
    stored INTEGER NOT NULL DEFAULT 0,
    summarized INTEGER NOT NULL DEFAULT 0,
    no_detections INTEGER NOT NULL DEFAULT 0,
    dropped INTEGER NOT NULL DEFAULT 0,
    expired INTEGER NOT NULL DEFAULT 0,
    refused INTEGER NOT NULL DEFAULT 0,
    lost INTEGER NOT NULL DEFAULT 0,
    ended_state TEXT,
    ended_reason TEXT,
    opened_at REAL NOT NULL,
    frames_gated INTEGER
);
CREATE TABLE IF NOT EXISTS outbox (
    key TEXT PRIMARY KEY,
    capture INTEGER,
    body BLOB
);
"""
_TALLY = {
    "stored": "UPDATE captures SET stored = stored + ? WHERE capture = ?",
    "summarized": "UPDATE captures SET summarized = summarized + ? WHERE capture = ?",
    "no_detections": "UPDATE captures SET no_detections = no_detections + ? WHERE capture = ?",
    "dropped": "UPDATE captures SET dropped = dropped + ? WHERE capture = ?",
    "expired": "UPDATE captures SET expired = expired + ? WHERE capture = ?",
    "refused": "UPDATE captures SET refused = refused + ? WHERE capture = ?",
    "lost": "UPDATE captures SET lost = lost + ? WHERE capture = ?",
}
_SELECT_CAPTURES = (
    "SELECT capture, request_id, camera_id, frames_requested, frames_captured, frames_gated, ended_state, "
    "ended_reason, stored, summarized, no_detections, dropped, expired, refused, lost FROM captures ORDER BY capture"
)
# the order selected above
_TALLIED = ("stored", "summarized", "no_detections", "dropped", "expired", "refused", "lost")
# What a version 1 journal lacks, spelled out: no SQL is built from text.
_ADDED_IN_2 = {
    "summarized": "ALTER TABLE captures ADD COLUMN summarized INTEGER NOT NULL DEFAULT 0",
    "frames_gated": "ALTER TABLE captures ADD COLUMN frames_gated INTEGER",
}


@dataclass(frozen=True)
class CaptureRow:
    """One capture request as the journal kept it."""

    capture: int
    request_id: str | None
    camera_id: str
    frames_requested: int | None
    frames_captured: int
    tallies: dict[str, int] = field(default_factory=dict)
    ended: tuple[str, str] | None = None  # (state, reason) once the capture itself ended
    frames_gated: int | None = None


class Journal:
    """One SQLite connection shared by the component's threads under a lock."""

    def __init__(self, path: Path, *, max_page_count: int | None = None) -> None:
        """``max_page_count`` is for tests: a database that cannot grow stands in for a full disk."""
        self.path = Path(path)
        self._max_page_count = max_page_count
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._failures = 0
        self._last_error: str | None = None
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            # An unreadable journal must not stop the cameras: keep it for a post-mortem, start afresh.
            aside = self.path.with_name(f"{self.path.name}.unreadable-{int(time.time())}")
            log.error("journal %s is unreadable (%s); moved to %s, starting a new one", self.path, exc, aside)
            self.path.replace(aside)
            for suffix in ("-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, 1, SCHEMA_VERSION):
                raise sqlite3.DatabaseError(f"journal schema version {version}, this code knows {SCHEMA_VERSION}")
            db.executescript(_SCHEMA)
            columns = {column[1] for column in db.execute("PRAGMA table_info(captures)")}
            for column, statement in _ADDED_IN_2.items():
                if column not in columns:
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            if self._max_page_count is not None:
                db.execute(f"PRAGMA max_page_count = {int(self._max_page_count)}")
            # A frame counted for its capture whose FrameRef never reached the outbox (a crash in between):
            # it was never published; it stays pending in its capture's accounting.
            db.execute("DELETE FROM outbox WHERE body IS NULL")
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    # smartcam.handoff.OutboxStore ---------------------------------------------------------------
    def load(self) -> list[tuple[str, bytes]]:
        with self._lock:
            rows = self._db.execute("SELECT key, body FROM outbox WHERE body IS NOT NULL ORDER BY rowid").fetchall()
        return [(key, bytes(body)) for key, body in rows]

    def put(self, key: str, body: bytes) -> None:
        self._write("INSERT INTO outbox (key, body) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET body = excluded.body",
                    [(key, body)])

    def delete(self, keys: Iterable[str]) -> None:
        self._write("DELETE FROM outbox WHERE key = ?", [(key,) for key in keys])

    # captures ----------------------------------------------------------------------------------
    def open_capture(self, capture: int, request_id: str | None, camera_id: str, frames_requested: int | None) -> None:
        self._write(
            "INSERT OR REPLACE INTO captures (capture, request_id, camera_id, frames_requested, opened_at) "
            "VALUES (?, ?, ?, ?, ?)", [(capture, request_id, camera_id, frames_requested, time.time())])

    def frame_captured(self, capture: int, key: str) -> None:
        """One more frame of ``capture``; its outbox row (``key``) names the capture, the body follows
        with :meth:`put`. Both in one transaction."""
        self._transaction([
            ("UPDATE captures SET frames_captured = frames_captured + 1 WHERE capture = ?", [(capture,)]),
            ("INSERT INTO outbox (key, capture) VALUES (?, ?) "
             "ON CONFLICT (key) DO UPDATE SET capture = excluded.capture", [(key, capture)]),
        ])

    def end_capture(self, capture: int, state: str, reason: str, frames_captured: int,
                    frames_gated: int | None = None) -> None:
        self._write("UPDATE captures SET ended_state = ?, ended_reason = ?, frames_captured = ?, frames_gated = ? "
                    "WHERE capture = ?", [(state, reason, frames_captured, frames_gated, capture)])

    def tally(self, outcomes: Mapping[int, Mapping[str, int]]) -> None:
        """Add receipted outcomes: capture -> outcome -> frames."""
        statements = []
        for capture, counts in outcomes.items():
            for outcome, frames in counts.items():
                if outcome not in _TALLY:
                    raise ValueError(f"unknown outcome {outcome!r}")
                statements.append((_TALLY[outcome], [(frames, capture)]))
        self._transaction(statements)

    def forget_capture(self, capture: int) -> None:
        """Its final status went out: nothing more to follow (its frames still in the outbox are
        followed for the component's counters only)."""
        self._transaction([
            ("DELETE FROM captures WHERE capture = ?", [(capture,)]),
            ("UPDATE outbox SET capture = NULL WHERE capture = ?", [(capture,)]),
        ])

    def captures(self) -> list[CaptureRow]:
        with self._lock:
            rows = self._db.execute(_SELECT_CAPTURES).fetchall()
        found = []
        for row in rows:
            capture, request_id, camera_id, requested, captured, gated, state, reason, *counts = row
            found.append(CaptureRow(
                capture, request_id, camera_id, requested, captured,
                tallies={outcome: n for outcome, n in zip(_TALLIED, counts, strict=True) if n},
                ended=(state, reason or "") if state is not None else None, frames_gated=gated))
        return found

    def owners(self) -> dict[str, int]:
        """Frame id -> capture of every FrameRef in the outbox that belongs to a capture."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key, capture FROM outbox WHERE body IS NOT NULL AND capture IS NOT NULL").fetchall()
        return dict(rows)

    # health and life -----------------------------------------------------------------------------
    def problem(self) -> str | None:
        """For the health messages: failed writes so far and the last reason, or None."""
        with self._lock:
            if not self._failures:
                return None
            return f"journal: {self._failures} writes failed (frames followed in memory), last: {self._last_error}"

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, sql: str, rows: list[tuple[object, ...]]) -> None:
        self._transaction([(sql, rows)])

    def _transaction(self, statements: list[tuple[str, list[tuple[object, ...]]]]) -> None:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                for sql, rows in statements:
                    self._db.executemany(sql, rows)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                self._failures += 1
                self._last_error = f"{type(exc).__name__}: {exc}"
                log.error("journal %s: write failed: %s", self.path, self._last_error)
            except BaseException:
                self._rollback()
                raise

    def _rollback(self) -> None:
        rollback(self._db, "journal")
