"""The events table of the spool: the highest sequence per event, acknowledged only if unchanged."""

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest

from dynamo_writer.event_items import event_item
from dynamo_writer.event_spool import EventSpool, NewEvent, SnapshotState
from dynamo_writer.items import items_for
from dynamo_writer.spool import Spool
from tests.dynamo_writer.helpers import DEVICE, Clock, frames, track_event


def new(event_id="e1", sequence=0, snapshot=None, **kwargs):
    spooled = event_item(track_event(event_id, sequence, **kwargs), DEVICE, 30)
    return NewEvent(event_id, "cam1", sequence, spooled.item, spooled.size, snapshot)


def picture_state(tmp_path, frame_id="f7"):
    full, crop = tmp_path / f"{frame_id}.full.jpg", tmp_path / f"{frame_id}.crop.jpg"
    full.write_bytes(b"\xff\xd8\xff full")
    crop.write_bytes(b"\xff\xd8\xff crop")
    value = {"M": {"frame_id": {"S": frame_id}, "bucket": {"S": "b"}, "key": {"S": "k"}, "crop_key": {"S": "c"}}}
    return SnapshotState(frame_id, value, full=full, crop=crop, bytes=20)


@pytest.fixture
def spool(tmp_path):
    s = EventSpool(tmp_path / "spool.sqlite3")
    yield s
    s.close()


def test_a_higher_sequence_replaces_and_a_lower_or_equal_one_changes_nothing(spool):
    assert spool.upsert(new(sequence=2), max_events=10).changed
    for sequence in (2, 1, 0):
        done = spool.upsert(new(sequence=sequence), max_events=10)
        assert (done.changed, done.held) == (False, 2)
    assert spool.held("e1").item["sequence"] == {"N": "2"}
    done = spool.upsert(new(sequence=3, kind="end"), max_events=10)
    assert (done.changed, done.held) == (True, 3)
    held = spool.held("e1")
    assert (held.sequence, held.item["state"], held.pending) == (3, {"S": "ended"}, True)


def test_an_ack_clears_pending_only_if_no_later_message_arrived(spool):
    spool.upsert(new(sequence=0), max_events=10)
    assert spool.next_pending().sequence == 0
    spool.upsert(new(sequence=4), max_events=10)  # arrives while sequence 0 is in flight
    spool.ack("e1", 0, None)
    held = spool.held("e1")
    assert (held.written_sequence, held.pending) == (0, True)
    assert spool.next_pending().sequence == 4
    spool.ack("e1", 4, None)
    assert spool.next_pending() is None and spool.depth() == (0, 0)
    spool.ack("e1", 0, None)  # a late acknowledgement of the older one changes nothing
    assert spool.held("e1").written_sequence == 4


def test_pending_events_go_oldest_first(spool):
    for event_id in ("a", "b", "c"):
        spool.upsert(new(event_id), max_events=10)
    spool.upsert(new("a", 1), max_events=10)  # a newer message makes it the most recent
    assert spool.next_pending().event_id == "b"


def test_a_new_event_beyond_the_bound_is_refused_but_a_known_one_is_updated(spool):
    spool.upsert(new("a"), max_events=2)
    spool.upsert(new("b"), max_events=2)
    refused = spool.upsert(new("c"), max_events=2)
    assert refused.refused and not refused.changed and spool.held("c") is None
    assert spool.upsert(new("a", 1), max_events=2).changed
    spool.ack("b", 0, None)
    assert spool.upsert(new("c"), max_events=2).changed


def test_the_named_snapshots_copies_are_handed_back_once_the_item_naming_them_is_written(spool, tmp_path):
    state = picture_state(tmp_path)
    spool.upsert(new(snapshot=state), max_events=10)
    assert spool.depth() == (1, 20) and spool.copies() == {state.full, state.crop}
    assert spool.ack("e1", 0, None) == []  # an item without the snapshot (not uploaded yet)
    spool.upsert(new(sequence=1, snapshot=state), max_events=10)
    assert spool.mark_uploaded("e1", "f7") and not spool.mark_uploaded("e1", "other")
    assert sorted(spool.ack("e1", 1, "f7")) == sorted([state.full, state.crop])
    held = spool.held("e1")
    assert held.snapshot.uploaded and held.snapshot.value == state.value and held.snapshot.copies == []
    assert spool.depth() == (0, 0) and spool.copies() == set()


def test_a_new_snapshot_supersedes_the_copies_of_the_earlier_one(spool, tmp_path):
    first, second = picture_state(tmp_path, "f1"), picture_state(tmp_path, "f2")
    spool.upsert(new(snapshot=first), max_events=10)
    done = spool.upsert(new(sequence=1, snapshot=second), max_events=10)
    assert sorted(done.superseded) == sorted([first.full, first.crop])
    assert spool.held("e1").snapshot.frame_id == "f2"
    kept = spool.upsert(new(sequence=2, snapshot=spool.held("e1").snapshot), max_events=10)
    assert kept.superseded == ()


def test_vanished_copies_leave_the_event_without_its_snapshot(spool, tmp_path):
    state = picture_state(tmp_path)
    spool.upsert(new(snapshot=state), max_events=10)
    assert spool.mark_missing("e1", "other", "no") == []
    assert sorted(spool.mark_missing("e1", "f7", "gone")) == sorted([state.full, state.crop])
    snap = spool.held("e1").snapshot
    assert (snap.frame_id, snap.value, snap.missing, snap.copies) == ("f7", None, "gone", [])


def test_a_rejected_event_is_kept_and_no_longer_sent_until_a_later_message(spool):
    spool.upsert(new(sequence=1), max_events=10)
    spool.reject("e1", 1, "ValidationException: too big")
    assert spool.next_pending() is None and spool.held("e1").rejected.startswith("ValidationException")
    spool.upsert(new(sequence=2), max_events=10)
    assert spool.next_pending().sequence == 2 and spool.held("e1").rejected is None


def test_written_events_are_forgotten_after_a_while_pending_ones_never(spool):
    spool.upsert(new("written"), max_events=10)
    spool.upsert(new("pending"), max_events=10)
    spool.ack("written", 0, None)
    assert spool.prune(3600) == 0
    assert spool.prune(3600, now=10**10) == 1
    assert spool.held("written") is None and spool.held("pending") is not None


def test_the_events_outlive_the_process_and_share_the_file_with_the_detections(tmp_path):
    path = tmp_path / "spool.sqlite3"
    detections = Spool(path)
    detections.put(items_for(frames(1)[0], DEVICE, 30), max_items=10, max_bytes=10**6, policy="refuseNewest")
    events = EventSpool(path)
    events.upsert(new(sequence=3), max_events=10)
    events.close()
    detections.close()
    again, events = Spool(path), EventSpool(path)
    try:
        assert again.depth()[0] == 1
        held = events.held("e1")
        assert (held.sequence, held.pending, held.camera_id) == (3, True, "cam1")
        assert isinstance(held.item, dict) and held.snapshot is None
    finally:
        again.close()
        events.close()


def test_a_full_disk_raises_and_keeps_what_was_held(tmp_path):
    path = tmp_path / "spool.sqlite3"
    EventSpool(path).close()
    pages = Path(path).stat().st_size // 4096 + 1
    spool = EventSpool(path, max_page_count=pages)
    try:
        spool.upsert(new("a"), max_events=10**6)  # may fit in the pages there are
        big = [new(f"e{i}") for i in range(200)]
        with pytest.raises(sqlite3.OperationalError, match="full"):
            for event in big:
                spool.upsert(event, max_events=10**6)
        assert spool.held("a") is not None
        assert spool.upsert(new("a", 0), max_events=10**6).changed is False  # the connection still works
    finally:
        spool.close()


# eventUpdateIntervalS ---------------------------------------------------------------------------
INTERVAL = 300.0

# The events table as the first release created it: no ``open``, no ``written_at``.
FIRST_RELEASE_SCHEMA = """
CREATE TABLE events (
    event_id TEXT PRIMARY KEY, camera_id TEXT NOT NULL, sequence INTEGER NOT NULL, item TEXT NOT NULL,
    bytes INTEGER NOT NULL, snapshot_frame TEXT, snapshot TEXT, snapshot_full TEXT, snapshot_crop TEXT,
    snapshot_bytes INTEGER NOT NULL DEFAULT 0, snapshot_uploaded INTEGER NOT NULL DEFAULT 0, snapshot_missing TEXT,
    written_sequence INTEGER, rejected TEXT, pending INTEGER NOT NULL, received_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX events_pending ON events (pending, received_at);
CREATE INDEX events_by_updated_at ON events (updated_at);
"""


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def timed(tmp_path, clock):
    s = EventSpool(tmp_path / "timed.sqlite3", clock=clock)
    yield s
    s.close()


def test_an_open_event_written_less_than_the_interval_ago_waits_its_end_never(timed, clock):
    timed.upsert(new(sequence=0), max_events=10)
    assert timed.next_pending(INTERVAL).sequence == 0  # never written: at once
    timed.ack("e1", 0, None)
    clock.now += 5
    timed.upsert(new(sequence=1), max_events=10)
    assert timed.next_pending(INTERVAL) is None and timed.held("e1").pending  # held, not forgotten
    assert timed.next_pending(0).sequence == 1  # the interval is the caller's: each call may differ
    clock.now += INTERVAL - 5  # exactly the interval since the write
    assert timed.next_pending(INTERVAL).sequence == 1
    timed.ack("e1", 1, None)
    timed.upsert(new(sequence=2), max_events=10)
    assert timed.next_pending(INTERVAL) is None
    timed.upsert(new(sequence=3, kind="end"), max_events=10)
    assert timed.next_pending(INTERVAL).sequence == 3  # the end goes at once, whatever the interval


def test_a_clock_set_back_does_not_hold_an_update_back(timed, clock):
    timed.upsert(new(sequence=0), max_events=10)
    timed.ack("e1", 0, None)
    timed.upsert(new(sequence=1), max_events=10)
    clock.now -= 3600  # written "in the future": the interval cannot be told
    assert timed.next_pending(INTERVAL).sequence == 1


def test_a_deferred_event_does_not_hold_back_the_ones_due(timed, clock):
    timed.upsert(new("a", 0), max_events=10)
    timed.ack("a", 0, None)
    timed.upsert(new("a", 1), max_events=10)  # deferred, and received first
    timed.upsert(new("b", 0), max_events=10)
    assert timed.next_pending(INTERVAL).event_id == "b"


def test_a_message_replaced_while_pending_is_counted_coalesced(timed):
    assert not timed.upsert(new(sequence=0), max_events=10).coalesced
    assert timed.upsert(new(sequence=1), max_events=10).coalesced  # sequence 0 never reached DynamoDB
    timed.ack("e1", 1, None)
    assert not timed.upsert(new(sequence=2), max_events=10).coalesced


def test_a_spool_of_the_first_release_gains_the_columns_and_keeps_its_events(tmp_path, clock):
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(FIRST_RELEASE_SCHEMA)
    for event_id, sequence, kind, pending in (("open-pending", 2, None, 1), ("ended-written", 4, "end", 0)):
        row = new(event_id, sequence, kind=kind)
        old.execute("INSERT INTO events (event_id, camera_id, sequence, item, bytes, written_sequence, pending, "
                    "received_at, updated_at) VALUES (?, 'cam1', ?, ?, ?, ?, ?, ?, ?)",
                    (event_id, sequence, json.dumps(row.item), row.bytes, None if pending else sequence, pending,
                     clock.now, clock.now))
    old.commit()
    old.close()
    for _ in range(2):  # opening again changes nothing
        spool = EventSpool(path, clock=clock)
        try:
            db = sqlite3.connect(path)
            columns = {r[1] for r in db.execute("PRAGMA table_info(events)")}
            flags = dict(db.execute("SELECT event_id, open FROM events").fetchall())
            db.close()
            assert {"open", "written_at"} <= columns
            assert flags == {"open-pending": 1, "ended-written": 0}
            assert spool.next_pending(INTERVAL).event_id == "open-pending"  # never written by this version
        finally:
            spool.close()
    spool = EventSpool(path, clock=clock)
    try:
        spool.ack("open-pending", 2, None)
        assert spool.upsert(new("open-pending", 3), max_events=10).changed
        assert spool.next_pending(INTERVAL) is None  # the new rule applies from its first write on
        assert spool.held("ended-written").sequence == 4
    finally:
        spool.close()


# What each call promises, field by field -----------------------------------------------------------

def test_an_events_spool_in_a_folder_not_made_yet_makes_it(tmp_path):
    path = tmp_path / "a" / "b" / "spool.sqlite3"
    spool = EventSpool(path)
    spool.upsert(new(), max_events=10)
    spool.close()
    assert EventSpool(path).held("e1").sequence == 0


def test_what_upsert_says_when_it_changes_nothing_or_refuses(spool):
    first = spool.upsert(new(sequence=1), max_events=1)
    assert (first.held, first.changed, first.refused, first.superseded, first.coalesced) == (1, True, False, (), False)
    same = spool.upsert(new(sequence=1), max_events=1)
    assert (same.held, same.changed, same.refused, same.superseded, same.coalesced) == (1, False, False, (), False)
    refused = spool.upsert(new("e2"), max_events=1)
    assert (refused.held, refused.changed, refused.refused, refused.superseded, refused.coalesced) == (
        -1, False, True, (), False)


def test_a_snapshot_is_held_as_given(spool, tmp_path):
    state = picture_state(tmp_path)
    spool.upsert(new(snapshot=state), max_events=10)
    held = spool.held("e1").snapshot
    assert (held.frame_id, held.value, held.full, held.crop, held.bytes, held.uploaded, held.missing) == (
        "f7", state.value, state.full, state.crop, 20, False, None)
    uploaded = SnapshotState("f8", state.value, full=state.full, crop=None, bytes=10, uploaded=True)
    spool.upsert(new(sequence=1, snapshot=uploaded), max_events=10)
    held = spool.held("e1").snapshot
    assert (held.frame_id, held.full, held.crop, held.bytes, held.uploaded, held.copies) == (
        "f8", state.full, None, 10, True, [state.full])
    assert spool.copies() == {state.full} and spool.depth() == (1, 10)


def test_a_snapshot_named_without_pictures_is_held_without_copies(spool):
    spool.upsert(new(snapshot=SnapshotState("f9", None, missing="no pictures")), max_events=10)
    held = spool.held("e1").snapshot
    assert (held.frame_id, held.value, held.full, held.crop, held.bytes, held.uploaded, held.missing,
            held.copies) == ("f9", None, None, None, 0, False, "no pictures", [])
    assert spool.copies() == set() and spool.depth() == (1, 0)


def test_an_event_without_snapshot_holds_none(spool):
    spool.upsert(new(), max_events=10)
    held = spool.held("e1")
    assert (held.snapshot, held.written_sequence, held.rejected, held.pending) == (None, None, None, True)
    assert spool.depth() == (1, 0) and spool.copies() == set()


def test_marking_a_snapshot_missing_needs_the_event_and_that_snapshot(spool, tmp_path):
    assert spool.mark_missing("unknown", "f7", "gone") == []
    spool.upsert(new("plain"), max_events=10)
    assert spool.mark_missing("plain", "f7", "gone") == []
    assert spool.held("plain").snapshot is None
    state = picture_state(tmp_path)
    spool.upsert(new(snapshot=state), max_events=10)
    assert sorted(spool.mark_missing("e1", "f7", "gone: " + "x" * 2000)) == sorted(state.copies)
    assert spool.held("e1").snapshot.missing == ("gone: " + "x" * 2000)[:1024]


def test_an_ack_hands_copies_back_only_once_and_only_when_uploaded(spool, tmp_path):
    assert spool.ack("unknown", 0, None) == []
    state = picture_state(tmp_path)
    spool.upsert(new(snapshot=state), max_events=10)
    assert spool.ack("e1", 0, "f7") == []  # named but not uploaded yet: the copies are still needed
    assert spool.copies() == set(state.copies)
    spool.upsert(new(sequence=1, snapshot=state), max_events=10)
    spool.mark_uploaded("e1", "f7")
    assert spool.ack("e1", 1, "other") == []  # the item names another snapshot
    assert spool.copies() == set(state.copies)
    spool.upsert(new(sequence=2, snapshot=state), max_events=10)  # the message names it as not uploaded
    assert spool.mark_uploaded("e1", "f7")
    assert sorted(spool.ack("e1", 2, "f7")) == sorted(state.copies)
    spool.upsert(new(sequence=3, snapshot=spool.held("e1").snapshot), max_events=10)
    assert spool.ack("e1", 3, "f7") == []  # handed back already
    held = spool.held("e1")
    assert (held.written_sequence, held.pending, held.snapshot.uploaded) == (3, False, True)


def test_a_rejected_event_keeps_its_reason_cut_to_1024_characters(spool):
    spool.upsert(new(sequence=1), max_events=10)
    spool.reject("e1", 0, "not the held sequence")
    assert spool.held("e1").rejected is None
    spool.reject("e1", 1, "ValidationException: " + "x" * 2000)
    held = spool.held("e1")
    assert held.rejected == ("ValidationException: " + "x" * 2000)[:1024] and not held.pending


def test_the_oldest_pending_events_age_follows_the_clock(timed, clock):
    assert timed.oldest_age_s() is None
    timed.upsert(new("a"), max_events=10)
    assert timed.held("a").received_at == clock.now
    clock.now += 4
    timed.upsert(new("b"), max_events=10)
    clock.now += 6.5
    assert timed.oldest_age_s() == 10.5
    timed.ack("a", 0, None)
    assert timed.oldest_age_s() == 6.5  # written events do not count
    clock.now -= 100  # the clock went back: an age is never negative
    assert timed.oldest_age_s() == 0.0


def test_written_events_are_pruned_by_the_clock_and_at_the_exact_age_kept(timed, clock, tmp_path):
    timed.upsert(new("written"), max_events=10)
    timed.ack("written", 0, None)
    state = picture_state(tmp_path)
    timed.upsert(new("copies", snapshot=state), max_events=10)
    timed.ack("copies", 0, None)  # written, but its pictures are still the writer's to upload
    clock.now += 60
    assert timed.prune(60) == 0  # untouched exactly 60 s: kept
    clock.now += 0.5
    assert timed.prune(60) == 1
    assert timed.held("written") is None and timed.held("copies") is not None


def refuse_updates(path, when):
    """A trigger failing a statement of the events table halfway through its transaction."""
    with sqlite3.connect(path) as other:
        for action in ("INSERT", "UPDATE"):
            other.execute(f"CREATE TRIGGER refuse_{action.lower()} BEFORE {action} ON events WHEN {when} "
                          "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
    other.close()


def test_a_write_failing_halfway_rolls_back_and_the_next_one_works(spool, tmp_path):
    path = tmp_path / "spool.sqlite3"
    spool.upsert(new("a"), max_events=10)
    refuse_updates(path, "NEW.event_id = 'poison' OR NEW.rejected = 'poison'")
    with pytest.raises(sqlite3.IntegrityError, match="refused by the test"):
        spool.upsert(new("poison"), max_events=10)
    assert spool.held("poison") is None and spool.upsert(new("b"), max_events=10).changed
    with pytest.raises(sqlite3.IntegrityError, match="refused by the test"):
        spool.reject("a", 0, "poison")
    assert spool.held("a").rejected is None
    spool.reject("a", 0, "ValidationException")
    assert spool.held("a").rejected == "ValidationException"


class RollbackFails:
    """The spool's connection, but its UPDATEs fail and its ROLLBACK reports an error (after rolling
    back, as when SQLite rolled back by itself already)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __getattr__(self, name: str):
        return getattr(self.db, name)

    def execute(self, sql: str, *args):
        if sql == "ROLLBACK":
            self.db.execute(sql)
            raise sqlite3.OperationalError("cannot rollback - no transaction is active")
        if sql.startswith(("UPDATE", "INSERT")):
            raise sqlite3.OperationalError("disk I/O error")
        return self.db.execute(sql, *args)


@pytest.mark.parametrize("write", ["upsert", "reject"])
def test_a_failing_rollback_is_logged_and_the_write_error_raised(spool, caplog, write):
    spool.upsert(new(), max_events=10)
    real = spool._db
    spool._db = RollbackFails(real)
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        if write == "upsert":
            spool.upsert(new(sequence=1), max_events=10)
        else:
            spool.reject("e1", 0, "ValidationException")
    (record,) = [r for r in caplog.records if "rollback of the events transaction failed" in r.getMessage()]
    assert record.exc_info is not None and "cannot rollback" in str(record.exc_info[1])  # with the traceback
    spool._db = real
    held = spool.held("e1")
    assert (held.sequence, held.rejected) == (0, None)


def test_a_spool_that_cannot_gain_the_columns_is_left_as_it_was_and_unlocked(tmp_path, clock):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as old:
        old.executescript(FIRST_RELEASE_SCHEMA)
        old.execute("INSERT INTO events (event_id, camera_id, sequence, item, bytes, pending, received_at, "
                    "updated_at) VALUES ('e1', 'cam1', 0, 'not json', 8, 1, 1.0, 1.0)")
    old.close()
    with pytest.raises(sqlite3.OperationalError, match="malformed JSON") as failed:
        EventSpool(path, clock=clock)
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # the failed upgrade holds no write lock (``failed`` keeps it alive)
        other.execute("ROLLBACK")
        assert "open" not in {r[1] for r in other.execute("PRAGMA table_info(events)")}
    finally:
        other.close()
    assert failed.value is not None


def test_what_the_events_spool_hands_out_cannot_be_changed_afterwards(spool, tmp_path):
    """Held events, their snapshots, new events and upsert results are values: shared, never edited."""
    state = picture_state(tmp_path)
    event = new(snapshot=state)
    done = spool.upsert(event, max_events=10)
    held = spool.held("e1")
    for value, field in ((held, "sequence"), (held.snapshot, "uploaded"), (event, "sequence"), (done, "held")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, field, 99)


def test_options_are_given_by_name(tmp_path, clock):
    """Keyword-only: a bound or a clock is never taken for another by position."""
    with pytest.raises(TypeError):
        EventSpool(tmp_path / "spool.sqlite3", 40)
    spool = EventSpool(path=tmp_path / "spool.sqlite3", clock=clock)
    try:
        with pytest.raises(TypeError):
            spool.upsert(new(), 10)
        assert spool.upsert(event=new(), max_events=10).changed
        spool.ack("e1", 0, None)
        with pytest.raises(TypeError):
            spool.prune(60, clock.now + 100)
        assert spool.prune(max_age_s=60, now=clock.now + 100) == 1
    finally:
        spool.close()
