import sqlite3

import pytest

from dynamo_writer.items import items_for
from dynamo_writer.spool import Spool
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
