import json
import sqlite3
from contextlib import closing

import pytest

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
