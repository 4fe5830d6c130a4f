"""smartcam.durable: a component's SQLite state: all or nothing per transaction, failures counted not
raised, a file it cannot read (or of another schema version) set aside for a new one."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from smartcam.durable import DurableDb

SCHEMA = "CREATE TABLE IF NOT EXISTS items (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
INSERT = "INSERT INTO items (key, value) VALUES (?, ?)"


def test_a_transaction_is_all_or_nothing_and_a_failed_one_is_counted(tmp_path: Path):
    db = DurableDb(tmp_path / "state.sqlite3", SCHEMA, 1, "test state")
    assert db.transaction([(INSERT, [("a", 1), ("b", 2)])]) and db.problem() is None
    assert not db.transaction([(INSERT, [("c", 3)]), (INSERT, [("a", 9)])])  # a's key again: all undone
    assert db.read("SELECT key, value FROM items ORDER BY key") == [("a", 1), ("b", 2)]
    assert db.problem() == "test state: 1 writes failed, last: IntegrityError: UNIQUE constraint failed: items.key"
    db.close()


def test_state_of_another_schema_version_is_set_aside(tmp_path: Path):
    path = tmp_path / "state.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as old:
        old.execute("PRAGMA user_version = 7")
    db = DurableDb(path, SCHEMA, 1, "test state")
    assert db.read("SELECT count(*) FROM items") == [(0,)]
    [aside] = tmp_path.glob("state.sqlite3.unreadable-*")
    with contextlib.closing(sqlite3.connect(aside)) as kept:
        assert kept.execute("PRAGMA user_version").fetchone() == (7,)  # kept for a post-mortem
    db.close()


def test_commits_survive_a_reopen(tmp_path: Path):
    db = DurableDb(tmp_path / "state.sqlite3", SCHEMA, 1, "test state")
    db.transaction([(INSERT, [("a", 1)])])
    db.close()
    again = DurableDb(tmp_path / "state.sqlite3", SCHEMA, 1, "test state")
    assert again.read("SELECT value FROM items WHERE key = ?", ("a",)) == [(1,)]
    again.close()
