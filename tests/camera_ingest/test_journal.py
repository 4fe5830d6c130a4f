"""The journal: the frame outbox and the captures not yet reported survive closing and reopening the
database (what a restart does), and a failing disk is counted, never raised."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from camera_ingest.journal import CaptureRow, Journal
from smartcam.contracts import OUTCOMES, FrameRef, parse
from smartcam.handoff import Outbox


def frame(n: int, request_id: str | None = "r1") -> FrameRef:
    return FrameRef(frame_id=f"cam0-ab-{n}", camera_id="cam0", slot=n % 8,
                    sequence=n, captured_at=1.0 + n, captured_monotonic_ns=n, width=4, height=3, format="bgr8",
                    request_id=request_id)


def test_the_journal_is_in_wal_mode(journal: Path):
    Journal(journal).close()
    db = sqlite3.connect(journal)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_the_outbox_survives_a_reopen_in_order(journal: Path):
    first = Journal(journal)
    box = Outbox(FrameRef, capacity=10, first_resend_s=1, max_resend_s=2, store=first)
    for n in range(4):
        box.add(f"cam0-ab-{n}", frame(n))
    assert [m.frame_id for m in box.settle(["cam0-ab-1"])] == ["cam0-ab-1"]
    first.close()

    again = Journal(journal)
    restored = Outbox(FrameRef, capacity=10, first_resend_s=1, max_resend_s=2, store=again).restore()
    assert restored == [frame(0), frame(2), frame(3)]
    assert [key for key, _ in again.load()] == ["cam0-ab-0", "cam0-ab-2", "cam0-ab-3"]
    assert parse(FrameRef, again.load()[0][1]) == frame(0)
    again.close()


def test_captures_and_their_tallies_survive_a_reopen(journal: Path):
    first = Journal(journal)
    first.open_capture(1, "r1", "cam0", 5)
    first.open_capture(2, "r2", "cam1", None)
    for n in range(3):
        first.frame_captured(1, f"cam0-ab-{n}")
        first.put(f"cam0-ab-{n}", frame(n).to_bytes())
    first.frame_captured(2, "cam1-cd-0")
    first.put("cam1-cd-0", frame(9, "r2").to_bytes())
    first.delete(["cam0-ab-0", "cam0-ab-1"])
    first.tally({1: {"stored": 1, "dropped": 1}})
    first.end_capture(2, "finished", "stopped by request s", 1, frames_gated=7)
    first.close()

    again = Journal(journal)
    assert again.captures() == [
        CaptureRow(1, "r1", "cam0", 5, 3, tallies={"stored": 1, "dropped": 1}, ended=None),
        CaptureRow(2, "r2", "cam1", None, 1, tallies={}, ended=("finished", "stopped by request s"), frames_gated=7),
    ]
    assert again.owners() == {"cam0-ab-2": 1, "cam1-cd-0": 2}
    again.tally({1: {"stored": 2}})
    assert again.captures()[0].tallies == {"stored": 3, "dropped": 1}
    again.close()


def test_a_reported_capture_is_forgotten_and_its_frames_no_longer_owned(journal: Path):
    db = Journal(journal)
    db.open_capture(1, "r1", "cam0", 1)
    db.frame_captured(1, "cam0-ab-0")
    db.put("cam0-ab-0", frame(0).to_bytes())
    db.forget_capture(1)
    assert db.captures() == []
    assert db.owners() == {}
    assert [key for key, _ in db.load()] == ["cam0-ab-0"]  # still followed, for the counters
    db.close()


def test_a_frame_counted_but_never_put_stays_pending(journal: Path):
    """A crash between counting a frame for its capture and putting it in the outbox: it was never
    published, its capture keeps the count (the accounting shows it pending), the outbox forgets it."""
    db = Journal(journal)
    db.open_capture(1, "r1", "cam0", 2)
    db.frame_captured(1, "cam0-ab-0")
    db.put("cam0-ab-0", frame(0).to_bytes())
    db.frame_captured(1, "cam0-ab-1")
    db.close()

    again = Journal(journal)
    assert [key for key, _ in again.load()] == ["cam0-ab-0"]
    assert again.owners() == {"cam0-ab-0": 1}
    assert again.captures()[0].frames_captured == 2
    again.close()


def test_an_unknown_outcome_is_refused(journal: Path):
    db = Journal(journal)
    with pytest.raises(ValueError, match="unknown outcome"):
        db.tally({1: {"stored; DROP TABLE captures": 1}})
    db.close()


def test_a_full_disk_is_counted_not_raised(journal: Path):
    db = Journal(journal, max_page_count=8)
    assert db.problem() is None
    db.open_capture(1, "r1", "cam0", None)
    for n in range(200):
        db.frame_captured(1, f"cam0-ab-{n}")
        db.put(f"cam0-ab-{n}", frame(n).to_bytes() + b" " * 2000)
    problem = db.problem()
    assert problem is not None and "writes failed" in problem and "full" in problem
    assert 0 < len(db.load()) < 200  # what fitted is there, nothing half-written
    db.close()


def test_an_unreadable_journal_is_moved_aside_and_a_new_one_started(journal: Path):
    journal.parent.mkdir(parents=True, exist_ok=True)
    journal.write_bytes(b"this is not an SQLite database, whatever happened to it" * 100)
    db = Journal(journal)
    assert db.captures() == [] and db.load() == []
    db.open_capture(1, "r1", "cam0", 1)
    assert [row.capture for row in db.captures()] == [1]
    db.close()
    aside = list(journal.parent.glob("journal.sqlite3.unreadable-*"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not")


def test_a_journal_from_a_newer_schema_is_moved_aside(journal: Path):
    journal.parent.mkdir(parents=True)
    db = sqlite3.connect(journal)
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    Journal(journal).close()
    assert len(list(journal.parent.glob("journal.sqlite3.unreadable-*"))) == 1


def test_a_version_1_journal_gains_the_frames_gated_and_keeps_its_captures(journal: Path):
    """The schema before the motion gate: the same tables without captures.frames_gated."""
    journal.parent.mkdir(parents=True)
    db = sqlite3.connect(journal)
    db.executescript("""
        CREATE TABLE captures (capture INTEGER PRIMARY KEY, request_id TEXT, camera_id TEXT NOT NULL,
            frames_requested INTEGER, frames_captured INTEGER NOT NULL DEFAULT 0,
            stored INTEGER NOT NULL DEFAULT 0, no_detections INTEGER NOT NULL DEFAULT 0,
            dropped INTEGER NOT NULL DEFAULT 0, expired INTEGER NOT NULL DEFAULT 0,
            refused INTEGER NOT NULL DEFAULT 0, lost INTEGER NOT NULL DEFAULT 0,
            ended_state TEXT, ended_reason TEXT, opened_at REAL NOT NULL);
        CREATE TABLE outbox (key TEXT PRIMARY KEY, capture INTEGER, body BLOB);
        INSERT INTO captures (capture, request_id, camera_id, frames_requested, frames_captured, stored,
            ended_state, ended_reason, opened_at) VALUES (4, 'r4', 'cam0', 2, 2, 1, 'finished', 'done', 1.0);
        PRAGMA user_version = 1;
    """)
    db.close()
    upgraded = Journal(journal)
    assert upgraded.captures() == [CaptureRow(4, "r4", "cam0", 2, 2, tallies={"stored": 1},
                                              ended=("finished", "done"), frames_gated=None)]
    upgraded.end_capture(4, "finished", "done", 2, frames_gated=3)
    assert upgraded.captures()[0].frames_gated == 3 and upgraded.problem() is None
    upgraded.close()
    assert not list(journal.parent.glob("journal.sqlite3.unreadable-*"))
    Journal(journal).close()  # opened again at version 2: nothing to add


def test_every_outcome_has_its_column(journal: Path):
    db = Journal(journal)
    db.open_capture(1, "r1", "cam0", None)
    db.tally({1: dict.fromkeys(OUTCOMES, 1)})
    assert db.captures()[0].tallies == dict.fromkeys(OUTCOMES, 1)
    assert db.problem() is None
    db.close()


# The captures table of schema version 1 (before the summarized outcome), as such a journal holds it.
VERSION_1_CAPTURES = """
CREATE TABLE captures (
    capture INTEGER PRIMARY KEY, request_id TEXT, camera_id TEXT NOT NULL, frames_requested INTEGER,
    frames_captured INTEGER NOT NULL DEFAULT 0, stored INTEGER NOT NULL DEFAULT 0,
    no_detections INTEGER NOT NULL DEFAULT 0, dropped INTEGER NOT NULL DEFAULT 0, expired INTEGER NOT NULL DEFAULT 0,
    refused INTEGER NOT NULL DEFAULT 0, lost INTEGER NOT NULL DEFAULT 0, ended_state TEXT, ended_reason TEXT,
    opened_at REAL NOT NULL
);
CREATE TABLE outbox (key TEXT PRIMARY KEY, capture INTEGER, body BLOB);
INSERT INTO captures (capture, request_id, camera_id, frames_requested, frames_captured, stored, dropped, opened_at)
    VALUES (3, 'r3', 'cam0', 5, 4, 2, 1, 1.0);
PRAGMA user_version = 1;
"""


def test_a_journal_of_version_1_gains_the_summarized_column_and_keeps_its_captures(journal: Path):
    journal.parent.mkdir(parents=True)
    db = sqlite3.connect(journal)
    db.executescript(VERSION_1_CAPTURES)
    db.close()
    upgraded = Journal(journal)
    assert upgraded.captures() == [CaptureRow(3, "r3", "cam0", 5, 4, tallies={"stored": 2, "dropped": 1})]
    upgraded.tally({3: {"summarized": 1}})
    assert upgraded.captures()[0].tallies == {"stored": 2, "dropped": 1, "summarized": 1}
    assert upgraded.problem() is None
    upgraded.close()
    assert not list(journal.parent.glob("journal.sqlite3.unreadable-*"))  # taken over, not moved aside
    again = Journal(journal)  # and opened again as the current version
    assert again.captures()[0].tallies["summarized"] == 1
    again.close()
