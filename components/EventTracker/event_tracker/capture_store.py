"""EventTracker's durable state for data captures, in SQLite in its work folder (``SMARTCAM_CAPTURES_PATH``).

- ``captures``: every capture sent and not receipted yet (the durable store of the capture outbox,
  :class:`smartcam.handoff.OutboxStore`), with the JPEG file it names;
- ``budget``: per camera, the captures of its current UTC hour and day, so the policy's bounds hold
  across restarts.

A capture and its camera's counts change in one transaction (:meth:`CaptureStore.put`: the
:class:`~event_tracker.capture_policy.CaptureBudget` has counted it just before). Crashes, unreadable
files and full disks are :class:`smartcam.durable.DurableDb`'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from event_tracker.capture_policy import CaptureBudget, Spent
from smartcam.contracts import DataCapture, parse
from smartcam.durable import DurableDb

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS captures (
    frame_id TEXT PRIMARY KEY,
    body BLOB NOT NULL,
    path TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS budget (
    camera_id TEXT PRIMARY KEY,
    hour INTEGER NOT NULL,
    hour_count INTEGER NOT NULL,
    day TEXT NOT NULL,
    day_count INTEGER NOT NULL
);
"""
_PUT_CAPTURE = "INSERT OR REPLACE INTO captures (frame_id, body, path) VALUES (?, ?, ?)"
_PUT_BUDGET = "INSERT OR REPLACE INTO budget (camera_id, hour, hour_count, day, day_count) VALUES (?, ?, ?, ?, ?)"


class CaptureStore:
    def __init__(self, path: Path, budget: CaptureBudget | None = None, *, max_page_count: int | None = None) -> None:
        self._db = DurableDb(path, _SCHEMA, SCHEMA_VERSION, "capture store", max_page_count=max_page_count)
        self.path = self._db.path
        self.budget = budget if budget is not None else CaptureBudget(self.spent())

    # smartcam.handoff.OutboxStore ---------------------------------------------------------------
    def load(self) -> list[tuple[str, bytes]]:
        rows = self._db.read("SELECT frame_id, body FROM captures ORDER BY rowid")
        return [(key, bytes(body)) for key, body in rows]

    def put(self, key: str, body: bytes) -> None:
        """A capture sent, with its camera's counts as the budget holds them now."""
        capture = parse(DataCapture, body)
        statements = [(_PUT_CAPTURE, [(key, body, capture.path)])]
        spent = self.budget.get(capture.camera_id)
        if spent is not None:
            statements.append((_PUT_BUDGET, [(capture.camera_id, spent.hour, spent.hour_count, spent.day,
                                              spent.day_count)]))
        self._db.transaction(statements)

    def delete(self, keys: Iterable[str]) -> None:
        self._db.transaction([("DELETE FROM captures WHERE frame_id = ?", [(key,) for key in keys])])

    # inspection -----------------------------------------------------------------------------------
    def spent(self) -> list[tuple[str, Spent]]:
        rows = self._db.read("SELECT camera_id, hour, hour_count, day, day_count FROM budget")
        return [(camera, Spent(int(hour), int(hour_count), str(day), int(day_count)))
                for camera, hour, hour_count, day, day_count in rows]

    def paths(self) -> set[str]:
        """The JPEG files the captures awaiting a receipt name."""
        return {path for (path,) in self._db.read("SELECT path FROM captures")}

    def problem(self) -> str | None:
        return self._db.problem()

    def close(self) -> None:
        self._db.close()
