"""EventTracker's durable state, in SQLite in its work folder (``SMARTCAM_EVENTS_PATH``).

- ``events``: the latest message of every event that is still open or not receipted yet: the
  durable store (:class:`smartcam.handoff.OutboxStore`) of the event outbox (``pending``: no receipt
  yet), and what a restart needs to end the events its predecessor left open (``open``);
- ``cameras``: per camera, the latest capture time an event message covered: a restarted tracker
  takes only later frames, so it never tracks a frame twice nor gives an event id again.

Both change in one transaction per message (:meth:`EventStore.put`). Crashes, unreadable files and
full disks are :class:`smartcam.durable.DurableDb`'s: a write that fails is counted in
:meth:`EventStore.problem` and the events are followed in memory for this run.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from smartcam.contracts import TrackEvent, parse
from smartcam.durable import DurableDb

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY,
    body BLOB NOT NULL,
    open INTEGER NOT NULL,
    pending INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cameras (
    camera_id TEXT PRIMARY KEY,
    tracked_until REAL NOT NULL
);
"""
_PUT_EVENT = (
    "INSERT INTO events (event_id, body, open, pending) VALUES (?, ?, ?, 1) "
    "ON CONFLICT (event_id) DO UPDATE SET body = excluded.body, open = excluded.open, pending = 1"
)
_PUT_CAMERA = (
    "INSERT INTO cameras (camera_id, tracked_until) VALUES (?, ?) "
    "ON CONFLICT (camera_id) DO UPDATE SET tracked_until = max(tracked_until, excluded.tracked_until)"
)


class EventStore:
    def __init__(self, path: Path, *, max_page_count: int | None = None) -> None:
        self._db = DurableDb(path, _SCHEMA, SCHEMA_VERSION, "event store", max_page_count=max_page_count)
        self.path = self._db.path

    # smartcam.handoff.OutboxStore ---------------------------------------------------------------
    def load(self) -> list[tuple[str, bytes]]:
        rows = self._db.read("SELECT event_id, body FROM events WHERE pending = 1 ORDER BY rowid")
        return [(key, bytes(body)) for key, body in rows]

    def put(self, key: str, body: bytes) -> None:
        """The event's latest message (``body``), sent and not receipted yet."""
        message = parse(TrackEvent, body)
        self._db.transaction([
            (_PUT_EVENT, [(key, body, int(message.kind != "end"))]),
            (_PUT_CAMERA, [(message.camera_id, message.last_seen)]),
        ])

    def delete(self, keys: Iterable[str]) -> None:
        """Receipted (or no longer followed): an open event stays for a restart to end it."""
        rows = [(key,) for key in keys]
        self._db.transaction([
            ("UPDATE events SET pending = 0 WHERE event_id = ?", rows),
            ("DELETE FROM events WHERE event_id = ? AND open = 0", rows),
        ])

    # a restart -----------------------------------------------------------------------------------
    def open_events(self) -> list[tuple[str, bytes]]:
        """(event id, latest message) of every event whose end was never sent."""
        rows = self._db.read("SELECT event_id, body FROM events WHERE open = 1 ORDER BY rowid")
        return [(key, bytes(body)) for key, body in rows]

    def forget(self, keys: Iterable[str]) -> None:
        """Entries that cannot be read: gone for good."""
        self._db.transaction([("DELETE FROM events WHERE event_id = ?", [(key,) for key in keys])])

    def tracked_until(self) -> dict[str, float]:
        """Camera id -> the latest capture time an event message of it covered."""
        return dict(self._db.read("SELECT camera_id, tracked_until FROM cameras"))

    def problem(self) -> str | None:
        return self._db.problem()

    def close(self) -> None:
        self._db.close()
