"""The event store: the outbox's durable side (latest message per event, pending until receipted), the
open events a restart must end, and how far each camera was tracked; a full disk is survived."""

from __future__ import annotations

from pathlib import Path

from event_tracker.store import EventStore
from smartcam.contracts import TrackEvent

T0 = 1_764_900_000.0


def message(event: str, sequence: int, kind: str = "update", camera: str = "cam0", last_seen: float = 2.0,
            zones: int = 0) -> TrackEvent:
    return TrackEvent(event_id=event, kind=kind, sequence=sequence, camera_id=camera, track_id=1, label="person",
                      first_seen=T0, last_seen=T0 + last_seen, duration_s=last_seen, best_score=0.9, frames=3,
                      path=[(T0, 0.1, 0.1, 0.2, 0.2)],
                      zones=[{"zone": f"zone{n}", "entered": T0 + 1} for n in range(zones)],
                      end_reason="unseen" if kind == "end" else None, sent_at=T0 + 3)


def put(store: EventStore, m: TrackEvent) -> None:
    store.put(m.event_id, m.to_bytes())


def test_open_events_outlive_their_receipt_and_ended_ones_go_with_it(tmp_path: Path):
    store = EventStore(tmp_path / "events.sqlite3")
    put(store, message("a", 0, "start"))
    put(store, message("b", 3, "end"))
    put(store, message("a", 1))  # replaces a's message
    assert [(k, TrackEvent.model_validate_json(b).sequence) for k, b in store.load()] == [("a", 1), ("b", 3)]
    store.delete(["a", "b"])  # both receipted
    assert store.load() == []
    assert [k for k, _ in store.open_events()] == ["a"]  # a restart still has to end it
    put(store, message("a", 2, "end"))
    store.delete(["a"])
    assert store.open_events() == [] and store.load() == []
    store.close()


def test_how_far_each_camera_was_tracked_only_grows_and_survives_a_reopen(tmp_path: Path):
    store = EventStore(tmp_path / "events.sqlite3")
    put(store, message("a", 0, "start", last_seen=5.0))
    put(store, message("b", 0, "start", last_seen=3.0))  # an older event's message: the mark stays
    put(store, message("c", 0, "start", camera="cam1", last_seen=1.0))
    store.close()
    reopened = EventStore(tmp_path / "events.sqlite3")
    assert reopened.tracked_until() == {"cam0": T0 + 5.0, "cam1": T0 + 1.0}
    reopened.close()


def test_a_full_disk_is_counted_and_reported_not_raised(tmp_path: Path):
    store = EventStore(tmp_path / "events.sqlite3", max_page_count=8)
    for n in range(50):
        put(store, message(f"event-{n}", 0, "start", zones=30))
    assert store.problem() is not None and "writes failed" in store.problem()
    assert 0 < len(store.load()) < 50
    store.close()


def test_an_unreadable_store_is_set_aside_and_a_new_one_started(tmp_path: Path):
    path = tmp_path / "events.sqlite3"
    path.write_bytes(b"this is no database" * 100)
    store = EventStore(path)
    assert store.load() == [] and store.open_events() == []
    assert len(list(tmp_path.glob("events.sqlite3.unreadable-*"))) == 1
    store.close()
