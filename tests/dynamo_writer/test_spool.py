import dataclasses
import json
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import pytest

from dynamo_writer import spool as spool_module
from dynamo_writer.event_spool import EventSpool
from dynamo_writer.items import items_for
from dynamo_writer.spool import FrameKey, Spool
from tests.dynamo_writer.helpers import DEVICE, detections, frames


def spooled(count, prefix="f"):
    return [items_for(m, DEVICE, 30)[0] for m in frames(count, prefix)]


def put_all(spool, items, **limits):
    limits = {"max_items": 10_000, "max_bytes": 10**9, "policy": "refuseNewest"} | limits
    return [spool.put([i], **limits) for i in items]


def test_spool_uses_wal_and_survives_reopen(tmp_path):
    spool = Spool(tmp_path / "s.sqlite3")
    put_all(spool, spooled(5))
    spool.close()
    mode = sqlite3.connect(tmp_path / "s.sqlite3").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    again = Spool(tmp_path / "s.sqlite3")
    assert again.depth()[0] == 5
    assert [r.key for r in again.peek(10)] == [i.key for i in spooled(5)]
    again.close()


SYNCHRONOUS_FULL = 2  # what PRAGMA synchronous reads back for FULL (0 OFF, 1 NORMAL, 3 EXTRA)


@pytest.mark.parametrize("spool_class", [Spool, EventSpool])
def test_a_commit_is_on_disk_before_it_returns(tmp_path, spool_class):
    """WAL with synchronous=FULL on the spool's own connection (the setting is per connection): a commit
    survives a power cut, which is what "received" means for the writer."""
    spool = spool_class(tmp_path / "s.sqlite3")
    try:
        assert spool._db.execute("PRAGMA synchronous").fetchone()[0] == SYNCHRONOUS_FULL
        assert spool._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        spool.close()


def test_the_wal_shrinks_back_after_a_checkpoint(tmp_path):
    """A WAL written over in place would hide a full disk until the backlog outgrew its old size."""
    spool = Spool(tmp_path / "s.sqlite3")
    put_all(spool, spooled(300))
    wal = tmp_path / "s.sqlite3-wal"
    grown = wal.stat().st_size
    spool._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
    put_all(spool, spooled(1, prefix="g"))  # the first commit after a complete checkpoint starts the WAL anew
    assert wal.stat().st_size < grown / 10
    spool.close()


def test_peek_is_oldest_first_and_ack_removes(tmp_path):
    spool = Spool(tmp_path / "s.sqlite3")
    items = spooled(30)
    put_all(spool, items)
    batch = spool.peek(25)
    assert [r.key for r in batch] == [i.key for i in items[:25]]
    assert spool.ack(r.seq for r in batch) == 25
    assert spool.depth() == (5, sum(i.size for i in items[25:]))
    spool.close()


def test_same_frame_twice_is_one_row(tmp_path):
    spool = Spool(tmp_path / "s.sqlite3")
    first = spool.put(items_for(detections("f1", labels=("a", "b")), DEVICE, 30),
                      max_items=100, max_bytes=10**9, policy="refuseNewest")
    second = spool.put(items_for(detections("f1", labels=("a", "b")), DEVICE, 30),
                       max_items=100, max_bytes=10**9, policy="refuseNewest")
    assert (first.accepted, first.duplicates) == (2, 0)
    assert (second.accepted, second.duplicates) == (0, 2)
    rows = spool.peek(25)
    assert len(rows) == 2 == len({r.key for r in rows})
    spool.close()


def test_refuse_newest_keeps_what_was_accepted(tmp_path):
    spool = Spool(tmp_path / "s.sqlite3")
    items = spooled(8)
    results = put_all(spool, items, max_items=5)
    assert [r.accepted for r in results] == [1] * 5 + [0] * 3
    assert [r.refused for r in results] == [0] * 5 + [1] * 3
    assert [r.key for r in spool.peek(10)] == [i.key for i in items[:5]]
    spool.close()


def test_drop_oldest_makes_room_and_counts(tmp_path):
    spool = Spool(tmp_path / "s.sqlite3")
    items = spooled(8)
    results = put_all(spool, items, max_items=5, policy="dropOldest")
    assert sum(r.dropped for r in results) == 3
    assert all(r.accepted == 1 for r in results)
    assert [r.key for r in spool.peek(10)] == [i.key for i in items[3:]]
    spool.close()


def test_byte_limit_applies_too(tmp_path):
    spool = Spool(tmp_path / "s.sqlite3")
    items = spooled(4)
    limit = items[0].size * 2 + items[1].size // 2
    results = put_all(spool, items, max_bytes=limit)
    assert [r.accepted for r in results] == [1, 1, 0, 0]
    assert spool.depth()[1] <= limit
    spool.close()


def test_full_disk_refuses_without_losing_what_is_spooled(tmp_path):
    spool = Spool(tmp_path / "s.sqlite3", max_page_count=40)  # SQLite says "database or disk is full"
    big = [items_for(detections(f"f{i}", labels=tuple(f"l{j}" for j in range(5))), DEVICE, 30) for i in range(50)]
    results = [spool.put(items, max_items=10**6, max_bytes=10**12, policy="refuseNewest") for items in big]
    assert any(r.disk_full for r in results)
    refused = [r for r in results if r.disk_full]
    assert all(r.refused > 0 and r.accepted == 0 for r in refused)
    accepted = sum(r.accepted for r in results)
    assert accepted > 0
    assert spool.depth()[0] == accepted == len(spool.peek(10_000))
    spool.close()


def test_depth_is_shared_between_processes_views(tmp_path):
    writer = Spool(tmp_path / "s.sqlite3")
    reader = Spool(tmp_path / "s.sqlite3")
    put_all(writer, spooled(7))
    assert reader.depth()[0] == 7
    reader.ack(r.seq for r in reader.peek(3))
    assert writer.depth()[0] == 4
    writer.close()
    reader.close()


@pytest.mark.parametrize("policy", ["refuseNewest", "dropOldest"])
def test_message_larger_than_the_whole_spool_is_refused(tmp_path, policy):
    spool = Spool(tmp_path / "s.sqlite3")
    items = items_for(detections("f1", labels=("a", "b", "c")), DEVICE, 30)
    result = spool.put(items, max_items=2, max_bytes=10**9, policy=policy)
    assert (result.accepted, result.refused) == (0, 3)
    assert spool.depth() == (0, 0)
    spool.close()


# --- the frames table: every decided frame, in the same transaction as its items -------------------

LIMITS = {"max_items": 10_000, "max_bytes": 10**9, "policy": "refuseNewest"}


def key_of(message):
    return FrameKey(message.frame.frame_id, message.frame.camera_id, message.frame.request_id)


def frame_rows(path):
    with closing(sqlite3.connect(path)) as db:
        return db.execute("SELECT frame_id, outcome, items FROM frames ORDER BY frame_id").fetchall()


def test_a_frame_is_remembered_with_its_items_and_a_second_put_inserts_nothing(tmp_path):
    spool = Spool(tmp_path / "s.sqlite3")
    message = detections("f1", labels=("a", "b"))
    first = spool.put(items_for(message, DEVICE, 30), frame=key_of(message), **LIMITS)
    assert (first.accepted, first.already_decided) == (2, False)
    assert first.decided is not None
    assert (first.decided.frame_id, first.decided.camera_id, first.decided.outcome, first.decided.items) == (
        "f1", "cam1", "stored", 2)
    again = spool.put(items_for(message, DEVICE, 30), frame=key_of(message), **LIMITS)
    assert (again.accepted, again.duplicates, again.already_decided) == (0, 0, True)
    assert again.decided == first.decided  # the row as written the first time
    assert spool.depth()[0] == 2 and len(spool.peek(10)) == 2
    assert spool.decided("f1") == first.decided
    spool.close()
    assert frame_rows(tmp_path / "s.sqlite3") == [("f1", "stored", 2)]


def test_a_frame_without_detections_is_remembered_too(tmp_path):
    spool = Spool(tmp_path / "s.sqlite3")
    message = detections("empty", labels=())
    admission = spool.put([], frame=key_of(message), **LIMITS)
    assert admission.decided is not None
    assert (admission.decided.outcome, admission.decided.items, admission.accepted) == ("no_detections", 0, 0)
    assert spool.put([], frame=key_of(message), **LIMITS).already_decided
    assert spool.depth() == (0, 0)
    spool.close()


def test_a_frame_the_full_spool_refuses_is_not_remembered(tmp_path):
    spool = Spool(tmp_path / "s.sqlite3")
    first, second = frames(2)
    spool.put(items_for(first, DEVICE, 30), frame=key_of(first), **(LIMITS | {"max_items": 1}))
    refused = spool.put(items_for(second, DEVICE, 30), frame=key_of(second), **(LIMITS | {"max_items": 1}))
    assert (refused.refused, refused.decided) == (1, None)
    assert spool.decided(second.frame.frame_id) is None
    # nothing new to store takes no room: a frame without detections is recorded in a full spool
    empty = detections("empty", labels=())
    assert spool.put([], frame=key_of(empty), **(LIMITS | {"max_items": 1})).decided is not None
    spool.close()


def test_a_full_disk_keeps_items_and_frame_rows_together(tmp_path):
    spool = Spool(tmp_path / "s.sqlite3", max_page_count=40)
    messages = [detections(f"f{i}", labels=tuple(f"l{j}" for j in range(5))) for i in range(50)]
    results = [spool.put(items_for(m, DEVICE, 30), frame=key_of(m), **LIMITS) for m in messages]
    assert any(r.disk_full for r in results) and any(r.decided for r in results)
    for message, result in zip(messages, results, strict=True):
        if result.disk_full:
            assert result.decided is None and spool.decided(message.frame.frame_id) is None
        else:
            assert spool.decided(message.frame.frame_id) == result.decided
    spooled_frames = {row.item["frameId"]["S"] for row in spool.peek(10_000)}
    assert spooled_frames == {m.frame.frame_id for m, r in zip(messages, results, strict=True) if not r.disk_full}
    # no refused put left its transaction open: once DynamoDB took the items, the room is used again
    spool.ack(row.seq for row in spool.peek(10_000))
    late = detections("late", labels=tuple(f"l{j}" for j in range(5)))
    admission = spool.put(items_for(late, DEVICE, 30), frame=key_of(late), **LIMITS)
    assert not admission.disk_full and admission.decided is not None and admission.decided.items == 5
    spool.close()


def test_frames_decided_longer_ago_than_the_limit_are_pruned(tmp_path):
    spool = Spool(tmp_path / "s.sqlite3")
    old, recent = frames(2)
    spool.put(items_for(old, DEVICE, 30), frame=key_of(old), **LIMITS)
    with closing(sqlite3.connect(tmp_path / "s.sqlite3")) as db, db:
        db.execute("UPDATE frames SET decided_at = decided_at - 3 * 86400 WHERE frame_id = ?", (old.frame.frame_id,))
    spool.put(items_for(recent, DEVICE, 30), frame=key_of(recent), **LIMITS)
    assert spool.prune_frames(2 * 86400) == 1
    assert spool.decided(old.frame.frame_id) is None and spool.decided(recent.frame.frame_id) is not None
    assert spool.prune_frames(2 * 86400) == 0
    assert spool.depth()[0] == 2  # pruning forgets frames, never spooled items
    # a pruned frame sent again is a new frame: its items are duplicates of what is still spooled
    again = spool.put(items_for(old, DEVICE, 30), frame=key_of(old), **LIMITS)
    assert (again.already_decided, again.accepted, again.duplicates) == (False, 0, 1)
    assert again.decided is not None and again.decided.outcome == "stored"
    spool.close()


# The schema of the spool before the frames table: a device upgraded in place keeps this file.
SPOOL_BEFORE_FRAMES = """
CREATE TABLE spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, item TEXT NOT NULL,
                    bytes INTEGER NOT NULL, enqueued_at REAL NOT NULL);
CREATE TABLE depth (id INTEGER PRIMARY KEY CHECK (id = 1), items INTEGER NOT NULL, bytes INTEGER NOT NULL);
INSERT INTO depth (id, items, bytes) VALUES (1, 0, 0);
CREATE TRIGGER spool_in AFTER INSERT ON spool BEGIN
    UPDATE depth SET items = items + 1, bytes = bytes + NEW.bytes WHERE id = 1;
END;
CREATE TRIGGER spool_out AFTER DELETE ON spool BEGIN
    UPDATE depth SET items = items - 1, bytes = bytes - OLD.bytes WHERE id = 1;
END;
CREATE TABLE rejected (key TEXT PRIMARY KEY, item TEXT NOT NULL, reason TEXT NOT NULL, rejected_at REAL NOT NULL);
"""


def test_a_spool_file_from_before_the_frames_table_opens_and_keeps_its_items(tmp_path):
    path = tmp_path / "old.sqlite3"
    items = spooled(3)
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(SPOOL_BEFORE_FRAMES)
        with db:
            db.executemany("INSERT INTO spool (key, item, bytes, enqueued_at) VALUES (?, ?, ?, ?)",
                           [(i.key, json.dumps(i.item), i.size, 1.0) for i in items])
        assert "frames" not in {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    spool = Spool(path)
    assert spool.depth() == (3, sum(i.size for i in items))
    assert [r.key for r in spool.peek(10)] == [i.key for i in items]
    message = detections("new-frame")
    admission = spool.put(items_for(message, DEVICE, 30), frame=key_of(message), **LIMITS)
    assert admission.decided is not None and admission.decided.outcome == "stored"
    spool.close()
    reopened = Spool(path)  # and it opens again with the table it gained
    assert reopened.depth()[0] == 4 and reopened.decided("new-frame") == admission.decided
    reopened.close()
    assert frame_rows(path) == [("new-frame", "stored", 1)]


# --- what each put, ack and reject promises, field by field -----------------------------------------

BUSY_TIMEOUT_MS = 30_000  # how long a writer waits for the other connection's transaction


@pytest.mark.parametrize("spool_class", [Spool, EventSpool])
def test_a_writer_waits_for_the_other_connections_transaction(tmp_path, spool_class):
    """The detections and the events spool share the file on two connections: one waits for the other."""
    spool = spool_class(tmp_path / "s.sqlite3")
    try:
        assert spool._db.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_MS
    finally:
        spool.close()


def test_a_database_that_cannot_use_wal_is_refused():
    with pytest.raises(RuntimeError, match="cannot use WAL mode"):
        Spool(Path(":memory:"))  # an in-memory database has no WAL: it answers "memory"


def test_a_spool_in_a_folder_not_made_yet_makes_it(tmp_path):
    spool = Spool(tmp_path / "a" / "b" / "s.sqlite3")
    put_all(spool, spooled(1))
    spool.close()
    assert Spool(tmp_path / "a" / "b" / "s.sqlite3").depth()[0] == 1


def locked(path):
    """Another connection holding the write lock of the spool file."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_a_message_without_items_or_frame_takes_no_write_lock(tmp_path):
    spool = Spool(tmp_path / "s.sqlite3")
    spool._db.execute("PRAGMA busy_timeout=0")  # fail at once instead of waiting for the lock
    other = locked(tmp_path / "s.sqlite3")
    try:
        nothing = spool.put([], **LIMITS)
        assert (nothing.accepted, nothing.duplicates, nothing.refused, nothing.dropped, nothing.disk_full,
                nothing.decided) == (0, 0, 0, 0, False, None)
        # and a locked database is not a full disk: the error goes up, the items are not "refused"
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            spool.put(spooled(1), **LIMITS)
    finally:
        other.close()
    assert spool.put(spooled(1), **LIMITS).accepted == 1  # the failed put left no transaction open
    spool.close()


def test_an_admission_says_exactly_what_was_done(tmp_path):
    spool = Spool(tmp_path / "s.sqlite3")
    message = detections("f1", labels=("a", "b"))
    admission = spool.put(items_for(message, DEVICE, 30), frame=key_of(message), **LIMITS)
    assert (admission.accepted, admission.duplicates, admission.refused, admission.dropped, admission.disk_full,
            admission.reason, admission.held, admission.lost, admission.already_decided, admission.ignored) == (
        2, 0, 0, 0, False, "", 0, 0, False, False)
    again = spool.put(items_for(message, DEVICE, 30), frame=key_of(message), **LIMITS)
    assert (again.accepted, again.duplicates, again.refused, again.dropped, again.disk_full, again.held,
            again.lost, again.already_decided, again.ignored) == (0, 0, 0, 0, False, 0, 0, True, False)
    spool.close()


def test_what_the_spool_hands_out_cannot_be_changed_afterwards(tmp_path):
    """Admissions, decided frames and spooled items are values: a receipt built from one stays true."""
    spool = Spool(tmp_path / "s.sqlite3")
    message = detections("f1")
    admission = spool.put(items_for(message, DEVICE, 30), frame=key_of(message), **LIMITS)
    (row,) = spool.peek(1)
    for value, field in ((admission, "accepted"), (admission.decided, "items"), (row, "seq"),
                         (key_of(message), "frame_id")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, field, 99)
    spool.close()


def test_the_byte_limit_takes_a_spool_exactly_full(tmp_path):
    spool = Spool(tmp_path / "s.sqlite3")
    items = spooled(4)
    limit = sum(i.size for i in items[:3])
    results = put_all(spool, items, max_bytes=limit)
    assert [r.accepted for r in results] == [1, 1, 1, 0]
    assert spool.depth() == (3, limit)
    spool.close()


@pytest.mark.parametrize("limit", ["max_items", "max_bytes"])
def test_a_message_exactly_as_large_as_the_spool_replaces_everything_under_drop_oldest(tmp_path, limit):
    spool = Spool(tmp_path / "s.sqlite3")
    old = spooled(2, prefix="old")
    message = items_for(detections("new", labels=("a", "b", "c")), DEVICE, 30)
    bound = {"max_items": len(message), "max_bytes": sum(i.size for i in message)}[limit]
    put_all(spool, old)
    admission = spool.put(message, **(LIMITS | {"policy": "dropOldest", limit: bound}))
    assert (admission.accepted, admission.dropped, admission.refused) == (3, 2, 0)
    assert [r.key for r in spool.peek(10)] == [i.key for i in message]
    spool.close()


@pytest.mark.parametrize("beyond", [0, 1])
def test_drop_oldest_frees_at_least_the_bytes_missing_and_not_one_item_more(tmp_path, beyond):
    """The new item needs exactly the oldest item's bytes (one byte more: the two oldest go)."""
    spool = Spool(tmp_path / "s.sqlite3")
    items = spooled(6)
    put_all(spool, items[:5])
    need = items[5].size
    max_bytes = sum(i.size for i in items[:5]) + need - items[0].size - beyond
    admission = spool.put([items[5]], **(LIMITS | {"policy": "dropOldest", "max_bytes": max_bytes}))
    gone = 1 + beyond
    assert (admission.accepted, admission.dropped) == (1, gone)
    assert [r.key for r in spool.peek(10)] == [i.key for i in items[gone:]]
    assert spool.depth() == (6 - gone, sum(i.size for i in items[gone:]))
    spool.close()


def test_a_spool_over_a_lowered_limit_still_records_frames_with_nothing_new(tmp_path):
    spool = Spool(tmp_path / "s.sqlite3")
    message = detections("f1", labels=("a", "b"))
    spool.put(items_for(message, DEVICE, 30), **LIMITS)  # spooled before the frames were remembered
    lowered = LIMITS | {"max_items": 1}
    known = spool.put(items_for(message, DEVICE, 30), frame=key_of(message), **lowered)
    assert (known.accepted, known.duplicates, known.refused) == (0, 2, 0)
    assert known.decided is not None and (known.decided.outcome, known.decided.items) == ("stored", 2)
    empty = detections("empty", labels=())
    assert spool.put([], frame=key_of(empty), **lowered).decided.outcome == "no_detections"
    summarized = detections("summarized", labels=())
    decided = spool.put([], frame=key_of(summarized), summarized=True, **lowered).decided
    assert (decided.outcome, decided.items) == ("summarized", 0)
    assert spool.depth()[0] == 2
    spool.close()


def test_acknowledging_nothing_removes_nothing(tmp_path):
    spool = Spool(tmp_path / "s.sqlite3")
    put_all(spool, spooled(2))
    assert spool.ack([]) == 0
    assert spool.ack([10_000]) == 0  # not a spooled seq
    assert spool.depth()[0] == 2
    spool.close()


def test_a_rejected_item_is_moved_aside_with_its_reason_cut_to_1024_characters(tmp_path):
    spool = Spool(tmp_path / "s.sqlite3")
    items = spooled(3)
    put_all(spool, items)
    first, second, _ = spool.peek(3)
    spool.reject(second, "ValidationException: " + "x" * 2000)
    assert spool.rejected_count() == 1
    assert [r.key for r in spool.peek(10)] == [items[0].key, items[2].key]
    assert spool.depth() == (2, items[0].size + items[2].size)
    spool.reject(second, "again")  # the same key rejected again: one row, the latest reason
    assert spool.rejected_count() == 1
    spool.close()
    with closing(sqlite3.connect(tmp_path / "s.sqlite3")) as db:
        rows = db.execute("SELECT key, item, reason FROM rejected").fetchall()
    assert [(key, json.loads(item), reason) for key, item, reason in rows] == [(second.key, second.item, "again")]
    spool = Spool(tmp_path / "s.sqlite3")
    spool.reject(first, "ValidationException: " + "y" * 2000)
    spool.close()
    with closing(sqlite3.connect(tmp_path / "s.sqlite3")) as db:
        (reason,) = db.execute("SELECT reason FROM rejected WHERE key = ?", (first.key,)).fetchone()
    assert reason == ("ValidationException: " + "y" * 2000)[:1024] and len(reason) == 1024


class FakeTime:
    """Stands in for the ``time`` module in dynamo_writer.spool: a wall clock moved by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeTime(1_700_000_000.0)
    monkeypatch.setattr(spool_module, "time", fake)
    return fake


def test_items_and_frames_carry_the_time_they_were_spooled(tmp_path, clock):
    spool = Spool(tmp_path / "s.sqlite3")
    assert spool.oldest_age_s() is None
    message = detections("f1")
    admission = spool.put(items_for(message, DEVICE, 30), frame=key_of(message), **LIMITS)
    assert admission.decided is not None and admission.decided.decided_at == clock.now
    assert [r.enqueued_at for r in spool.peek(1)] == [clock.now]
    clock.now += 12.5
    put_all(spool, spooled(1, prefix="later"))
    assert spool.oldest_age_s() == 12.5  # the oldest item's age, not the newest's
    clock.now -= 100  # the clock went back: an age is never negative
    assert spool.oldest_age_s() == 0.0
    spool.close()


def test_frames_are_pruned_by_the_clock_and_at_the_exact_age_kept(tmp_path, clock):
    spool = Spool(tmp_path / "s.sqlite3")
    old, recent = frames(2)
    spool.put(items_for(old, DEVICE, 30), frame=key_of(old), **LIMITS)
    clock.now += 60
    spool.put(items_for(recent, DEVICE, 30), frame=key_of(recent), **LIMITS)
    assert spool.prune_frames(60) == 0  # decided exactly 60 s ago: kept
    clock.now += 0.5
    assert spool.prune_frames(60) == 1
    assert spool.decided(old.frame.frame_id) is None and spool.decided(recent.frame.frame_id) is not None
    assert spool.prune_frames(max_age_s=60, now=clock.now + 1000) == 1
    with pytest.raises(TypeError):
        spool.prune_frames(60, clock.now)  # ``now`` only by name: a second number is not taken for it
    spool.close()


def refuse_writes(db, table, when):
    """A trigger that makes a statement fail halfway through its transaction (from another connection)."""
    action = "INSERT" if table == "spool" else "DELETE"
    row = "NEW" if action == "INSERT" else "OLD"
    with closing(sqlite3.connect(db)) as other, other:
        other.execute(f"CREATE TRIGGER refuse_{table} BEFORE {action} ON {table} "
                      f"WHEN {row}.{when} BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")


def test_a_put_failing_halfway_rolls_back_and_the_next_one_works(tmp_path):
    path = tmp_path / "s.sqlite3"
    spool = Spool(path)
    bad, good = spooled(2)
    refuse_writes(path, "spool", f"key = '{bad.key}'")
    with pytest.raises(sqlite3.IntegrityError, match="refused by the test"):
        spool.put([good, bad], **LIMITS)
    assert spool.depth() == (0, 0)  # all or nothing
    assert spool.put([good], **LIMITS).accepted == 1
    assert [r.key for r in spool.peek(10)] == [good.key]
    spool.close()


def test_a_prune_failing_halfway_rolls_back_and_the_spool_still_works(tmp_path, clock):
    path = tmp_path / "s.sqlite3"
    spool = Spool(path)
    first, second = frames(2)
    spool.put(items_for(first, DEVICE, 30), frame=key_of(first), **LIMITS)
    spool.put(items_for(second, DEVICE, 30), frame=key_of(second), **LIMITS)
    refuse_writes(path, "frames", f"frame_id = '{second.frame.frame_id}'")
    with pytest.raises(sqlite3.IntegrityError, match="refused by the test"):
        spool.prune_frames(0, now=clock.now + 1)
    assert spool.decided(first.frame.frame_id) is not None  # the whole prune rolled back
    third = detections("third")
    assert spool.put(items_for(third, DEVICE, 30), frame=key_of(third), **LIMITS).accepted == 1
    spool.close()


class RollbackFails:
    """The spool's connection, but its INSERTs fail as on a full disk and its ROLLBACK reports an error
    (after rolling back, as SQLite does when it rolled back by itself already)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __getattr__(self, name: str):
        return getattr(self.db, name)

    def execute(self, sql: str, *args):
        if sql == "ROLLBACK":
            self.db.execute(sql)
            raise sqlite3.OperationalError("cannot rollback - no transaction is active")
        return self.db.execute(sql, *args)

    def executemany(self, sql: str, *args):
        raise sqlite3.OperationalError("database or disk is full")


def test_a_failing_rollback_is_logged_and_the_full_disk_still_reported(tmp_path, caplog):
    spool = Spool(tmp_path / "s.sqlite3")
    real = spool._db
    spool._db = RollbackFails(real)
    admission = spool.put(spooled(2), **LIMITS)
    assert (admission.disk_full, admission.refused, admission.accepted) == (True, 2, 0)
    assert "database or disk is full" in admission.reason
    (record,) = [r for r in caplog.records if "rollback of the spool transaction failed" in r.getMessage()]
    assert record.exc_info is not None and "cannot rollback" in str(record.exc_info[1])  # with the traceback
    spool._db = real
    assert spool.put(spooled(2), **LIMITS).accepted == 2
    spool.close()


def test_the_spool_serves_the_receiving_and_the_sending_thread(tmp_path):
    spool = Spool(tmp_path / "s.sqlite3")
    results = []
    thread = threading.Thread(target=lambda: results.append(put_all(spool, spooled(3))))
    thread.start()
    thread.join()
    assert [[r.accepted for r in batch] for batch in results] == [[1, 1, 1]]
    assert spool.ack(r.seq for r in spool.peek(10)) == 3
    spool.close()


def test_depth_counters_saying_more_than_there_is_do_not_stop_drop_oldest(tmp_path):
    """Counters off from the rows (a file edited by hand or restored from elsewhere): dropOldest drops
    what there is and stores the new item instead of looking for rows that are not there."""
    path = tmp_path / "s.sqlite3"
    spool = Spool(path)
    old = spooled(2)
    put_all(spool, old)
    with closing(sqlite3.connect(path)) as other, other:
        other.execute("UPDATE depth SET items = items + 5, bytes = bytes + 5000 WHERE id = 1")
    new_item = spooled(1, prefix="new")
    admission = spool.put(new_item, **(LIMITS | {"policy": "dropOldest", "max_items": 3}))
    assert (admission.accepted, admission.dropped) == (1, 2)
    assert [r.key for r in spool.peek(10)] == [new_item[0].key]
    spool.close()


def test_limits_and_options_are_given_by_name(tmp_path):
    """Keyword-only, so a call cannot swap maxSpoolItems and maxSpoolMB (or pass a page limit) by position."""
    with pytest.raises(TypeError):
        Spool(tmp_path / "s.sqlite3", 40)
    spool = Spool(path=tmp_path / "s.sqlite3")
    with pytest.raises(TypeError):
        spool.put(spooled(1), 10, 10**9, "refuseNewest")
    assert spool.put(items=spooled(1), **LIMITS).accepted == 1
    assert spool.depth()[0] == 1
    spool.close()
