"""Event messages from tracks: ids, sequences, zone visits, and the end of an event a restart cut off."""

from __future__ import annotations

import pytest

from event_tracker.events import MAX_ID, OpenEvent, ended_by_restart, event_id
from event_tracker.tracker import PathPoint, Track, TrackState
from event_tracker.zones import Change, ZoneChange, ZoneSummary
from smartcam.contracts import MAX_EVENT_ZONES, TrackEvent, parse

T0 = 1_764_900_000.0


def track(last_seen: float = T0 + 2.0) -> Track:
    box = (0.1, 0.2, 0.3, 0.6)
    return Track(7, "person", TrackState.CONFIRMED, T0, last_seen, box, 0.8, 0.9, 20, None,
                 (PathPoint(T0, box), PathPoint(last_seen, box)))


def test_an_event_id_is_camera_first_seen_ms_and_track():
    assert event_id("cam0", T0 + 0.1234, 7) == "cam0.1764900000123.7"


def test_a_long_camera_id_is_shortened_to_a_valid_unique_id():
    long_a, long_b = "c" * 128, "c" * 127 + "d"
    a, b = event_id(long_a, T0, 12345), event_id(long_b, T0, 12345)
    assert len(a) == MAX_ID == len(b) and a != b
    assert a.endswith(".1764900000000.12345")
    message = OpenEvent(a, long_a, 12345, None).message("start", track(), ZoneSummary(), T0 + 3)
    assert parse(TrackEvent, message.to_bytes()).event_id == a


def test_each_message_is_the_whole_event_with_a_rising_sequence():
    event = OpenEvent("cam0.1.7", "cam0", 7, "req-1")
    start = event.message("start", track(T0 + 0.2), ZoneSummary(), T0 + 0.3)
    update = event.message("update", track(T0 + 2.0), ZoneSummary(), T0 + 2.1)
    end = event.message("end", track(T0 + 4.0), ZoneSummary(), T0 + 15, end_reason="unseen")
    assert [m.sequence for m in (start, update, end)] == [0, 1, 2]
    assert end.duration_s == pytest.approx(4.0) and end.end_reason == "unseen" and update.end_reason is None
    assert end.path == [(T0, 0.1, 0.2, 0.3, 0.6), (T0 + 4.0, 0.1, 0.2, 0.3, 0.6)]
    assert (end.request_id, end.frames, end.best_score, end.label) == ("req-1", 20, 0.9, "person")


def test_zone_visits_and_line_counts_and_an_end_closes_what_is_still_entered():
    event = OpenEvent("cam0.1.7", "cam0", 7, None)
    changed = event.visit([ZoneChange(Change.ENTERED, "door", T0 + 1), ZoneChange(Change.ENTERED, "hall", T0 + 1)])
    assert changed and not event.visit([])
    event.visit([ZoneChange(Change.LEFT, "door", T0 + 2), ZoneChange(Change.ENTERED, "door", T0 + 3)])
    summary = ZoneSummary(crossings={"gate": {Change.CROSSED_IN: 2, Change.CROSSED_OUT: 1}})
    update = event.message("update", track(T0 + 3.5), summary, T0 + 4)
    assert [(z.zone, z.entered - T0, z.left) for z in update.zones] == [
        ("door", 1.0, T0 + 2), ("hall", 1.0, None), ("door", 3.0, None)]
    assert [(c.line, c.crossed_in, c.crossed_out) for c in update.lines] == [("gate", 2, 1)]
    end = event.message("end", track(T0 + 5), summary, T0 + 16, end_reason="shutdown")
    assert [z.left for z in end.zones] == [T0 + 2, T0 + 5, T0 + 5]  # last seen inside


def test_visits_stay_within_what_an_event_carries():
    event = OpenEvent("cam0.1.7", "cam0", 7, None)
    for n in range(MAX_EVENT_ZONES * 2):  # pacing in and out of one door all day
        event.visit([ZoneChange(Change.ENTERED, "door", T0 + 2 * n), ZoneChange(Change.LEFT, "door", T0 + 2 * n + 1)])
    event.visit([ZoneChange(Change.ENTERED, "door", T0 + 1000)])
    message = event.message("update", track(T0 + 1001), ZoneSummary(), T0 + 1002)
    assert len(message.zones) == MAX_EVENT_ZONES and message.zones[-1].left is None


def test_the_end_after_a_restart_continues_the_last_message():
    event = OpenEvent("cam0.1.7", "cam0", 7, "req-1")
    event.visit([ZoneChange(Change.ENTERED, "door", T0 + 1)])
    last = event.message("start", track(T0 + 2), ZoneSummary(), T0 + 2.1)
    ended = ended_by_restart(last, T0 + 100)
    assert (ended.kind, ended.sequence, ended.end_reason, ended.sent_at) == ("end", 1, "restarted", T0 + 100)
    assert ended.last_seen == last.last_seen and ended.zones[0].left == last.last_seen
    assert ended.model_dump(exclude={"kind", "sequence", "end_reason", "sent_at", "zones"}) == last.model_dump(
        exclude={"kind", "sequence", "end_reason", "sent_at", "zones"})
