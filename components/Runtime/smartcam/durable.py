"""A component's small durable state: one SQLite file in its work folder, kept through crashes.

WAL with ``synchronous=NORMAL``: the state is for crashes of the component or of the whole runtime
(processes), and a commit in the WAL survives those without an fsync per write. A power cut may undo
the last commits; the WAL is a log, so what survives is always a prefix of them.

Neither a bad file nor a full disk stops the component: a file that cannot be read is moved aside
(kept for a post-mortem) and a new one started; a write that fails is rolled back, logged and
counted in :meth:`DurableDb.problem` (for the health messages), never raised.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

Statements = Sequence[tuple[str, Sequence[tuple[object, ...]]]]


def rollback(db: sqlite3.Connection, what: str) -> None:
    """End ``db``'s open transaction, if any, after a failed write. SQLite may have rolled it back
    already (a full disk, an I/O error): a failing ROLLBACK is logged, never raised."""
    if not db.in_transaction:
        return
    try:
        db.execute("ROLLBACK")
    except sqlite3.Error:
        log.warning("rollback of the %s transaction failed", what, exc_info=True)


class DurableDb:
    """One SQLite connection shared by a component's threads under a lock. ``schema`` is a script of
    ``CREATE ... IF NOT EXISTS`` statements; a file of another ``version`` is unreadable here."""

    def __init__(self, path: Path, schema: str, version: int, what: str, *,
                 max_page_count: int | None = None) -> None:
        """``what`` names it in logs and problems; ``max_page_count`` is for tests: a database that
        cannot grow stands in for a full disk."""
        self.path = Path(path)
        self.what = what
        self._schema = schema
        self._version = version
        self._max_page_count = max_page_count
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._failures = 0
        self._last_error: str | None = None
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            aside = self.path.with_name(f"{self.path.name}.unreadable-{int(time.time())}")
            log.error("%s %s is unreadable (%s); moved to %s, starting a new one", what, self.path, exc, aside)
            self.path.replace(aside)
            for suffix in ("-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            found = db.execute("PRAGMA user_version").fetchone()[0]
            if found not in (0, self._version):
                raise sqlite3.DatabaseError(f"schema version {found}, this code knows {self._version}")
            db.executescript(self._schema)
            db.execute(f"PRAGMA user_version = {int(self._version)}")
            if self._max_page_count is not None:
                db.execute(f"PRAGMA max_page_count = {int(self._max_page_count)}")
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def read(self, sql: str, parameters: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, parameters).fetchall()

    def transaction(self, statements: Statements) -> bool:
        """Run each ``(sql, rows)`` with ``executemany``, all or nothing. False (logged, counted) when
        it failed."""
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
                log.error("%s %s: write failed: %s", self.what, self.path, self._last_error)
                return False
            except BaseException:
                self._rollback()
                raise
        return True

    def problem(self) -> str | None:
        """For the health messages: failed writes so far and the last reason, or None."""
        with self._lock:
            if not self._failures:
                return None
            return f"{self.what}: {self._failures} writes failed, last: {self._last_error}"

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _rollback(self) -> None:
        rollback(self._db, self.what)
