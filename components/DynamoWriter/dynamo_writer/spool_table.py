"""A table of the writer's spool file with a connection of its own: events, data captures.

Same file and durability as :class:`dynamo_writer.spool.Spool` (WAL, synchronous=FULL); SQLite
serializes the writers. Each write is one transaction (:meth:`SpoolTable._write`), rolled back on error.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dynamo_writer.spool import open_spool_db
from smartcam.durable import rollback


class SpoolTable:
    def __init__(self, path: Path, schema: str, what: str, *, max_page_count: int | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._what = what
        self._clock = clock  # wall clock: times in the rows must mean the same after a restart
        self._db = open_spool_db(self.path, schema, max_page_count)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _update(self, sql: str, args: tuple[Any, ...]) -> int:
        with self._lock:
            return self._write(sql, args)

    def _write(self, sql: str, args: tuple[Any, ...], *more: tuple[str, tuple[Any, ...]]) -> int:
        """``sql`` and ``more`` in one transaction (the caller holds the lock); rows ``sql`` changed."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            changed = self._db.execute(sql, args).rowcount
            for statement, values in more:
                self._db.execute(statement, values)
            self._db.execute("COMMIT")
        except sqlite3.Error:
            self._rollback()
            raise
        return int(changed)

    def _rollback(self) -> None:
        rollback(self._db, self._what)
