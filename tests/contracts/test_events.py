"""smartcam.contracts.events: TrackEvent, its parts, and the writer's EventReceipt."""

from __future__ import annotations

import pytest

from smartcam.contracts import (
    MAX_EVENT_ZONES,
    MAX_PATH_POINTS,
    EventReceipt,
    LineCrossings,
    SnapshotRef,
    TrackEvent,
    ZoneVisit,
    parse,
)
from tests.contracts.messages import event, refusal, round_trip, snapshot


def test_an_event_round_trips_with_its_parts():
    parsed = round_trip(TrackEvent, event(
        request_id="req-1", zones=[{"zone": "door", "entered": 1764900001.0, "left": 1764900002.0}],
        lines=[{"line": "gate", "crossed_in": 2, "crossed_out": 1}], snapshot=snapshot()))
    assert parsed.to_message()["schema"] == "smartcam.event/1"
    assert parsed.zones == [ZoneVisit(zone="door", entered=1764900001.0, left=1764900002.0)]
    assert parsed.lines == [LineCrossings(line="gate", crossed_in=2, crossed_out=1)]


def test_an_event_without_zones_lines_or_snapshot():
    parsed = parse(TrackEvent, event())
    assert (parsed.zones, parsed.lines, parsed.snapshot) == ([], [], None)
    assert "snapshot" not in parsed.to_message() and parsed.to_message()["zones"] == []


def test_a_line_not_crossed_counts_zero_each_way():
    assert parse(LineCrossings, {"line": "gate"}) == LineCrossings(line="gate", crossed_in=0, crossed_out=0)
    assert parse(LineCrossings, {"line": "gate"}).to_message() == {"line": "gate", "crossed_in": 0, "crossed_out": 0}


def test_a_zone_still_inside_has_no_left():
    assert "left" not in parse(ZoneVisit, {"zone": "door", "entered": 1764900001.0}).to_message()


@pytest.mark.parametrize(("first", "last"), [(1764900000.0, 1764900000.0), (1764900000.0, 1764900000.001)])
def test_an_event_may_last_no_time(first, last):
    parsed = parse(TrackEvent, event(first_seen=first, last_seen=last, duration_s=0.0))
    assert parsed.duration_s == 0.0


def test_last_seen_before_first_seen_is_refused():
    assert refusal(TrackEvent, event(last_seen=1764899999.9, duration_s=0.0)) == (
        "invalid TrackEvent: message: last_seen must not be before first_seen")


@pytest.mark.parametrize("duration", [4.5, 4.5009, 4.4991])
def test_the_duration_is_last_seen_minus_first_seen_within_a_millisecond(duration):
    assert parse(TrackEvent, event(duration_s=duration)).duration_s == duration


@pytest.mark.parametrize("duration", [0.001, 0.0])
def test_a_duration_off_by_exactly_a_millisecond_is_within_it(duration):
    assert parse(TrackEvent, event(first_seen=1.0, last_seen=1.0, duration_s=duration)).duration_s == duration
    assert "duration_s must be last_seen - first_seen" in refusal(
        TrackEvent, event(first_seen=1.0, last_seen=1.0, duration_s=duration + 0.0011))


@pytest.mark.parametrize("duration", [4.502, 4.498, 0.0, 9.0, 3529800009.0])
def test_another_duration_is_refused(duration):
    assert refusal(TrackEvent, event(duration_s=duration)) == (
        "invalid TrackEvent: message: duration_s must be last_seen - first_seen")


@pytest.mark.parametrize("reason", ["unseen", "restarted", "shutdown", "reconfigured"])
def test_an_end_message_names_its_reason(reason):
    assert round_trip(TrackEvent, event(kind="end", end_reason=reason)).end_reason == reason


@pytest.mark.parametrize("over", [{"kind": "end"}, {"kind": "update", "end_reason": "unseen"},
                                  {"kind": "start", "sequence": 0, "end_reason": "shutdown"}])
def test_an_end_reason_is_on_an_end_message_and_only_there(over):
    assert refusal(TrackEvent, event(**over)) == (
        "invalid TrackEvent: message: end_reason is given on an end message, and only there")


def test_a_start_message_has_sequence_0():
    assert parse(TrackEvent, event(kind="start", sequence=0)).sequence == 0
    for sequence in (1, 2):
        assert refusal(TrackEvent, event(kind="start", sequence=sequence)) == (
            "invalid TrackEvent: message: a start message has sequence 0")
    assert parse(TrackEvent, event(kind="update", sequence=0)).sequence == 0
    assert parse(TrackEvent, event(kind="end", sequence=0, end_reason="unseen")).sequence == 0


def test_up_to_64_path_points_and_32_zones_and_lines():
    assert (MAX_PATH_POINTS, MAX_EVENT_ZONES) == (64, 32)
    point = [1764900000.0, 0.1, 0.2, 0.3, 0.6]
    zone = {"zone": "door", "entered": 1764900001.0}
    line = {"line": "gate"}
    parsed = parse(TrackEvent, event(path=[point] * 64, zones=[zone] * 32, lines=[line] * 32))
    assert (len(parsed.path), len(parsed.zones), len(parsed.lines)) == (64, 32, 32)
    assert "path: List should have at most 64 items" in refusal(TrackEvent, event(path=[point] * 65))
    assert "zones: List should have at most 32 items" in refusal(TrackEvent, event(zones=[zone] * 33))
    assert "lines: List should have at most 32 items" in refusal(TrackEvent, event(lines=[line] * 33))


def test_a_duration_is_0_up_to_below_1e11_seconds():
    assert "duration_s: must be greater than or equal to 0" in refusal(
        TrackEvent, event(first_seen=1.0, last_seen=1.0, duration_s=-0.0001))
    assert parse(TrackEvent, event(first_seen=0.5, last_seen=99999999999.0,
                                   duration_s=99999999998.5)).duration_s == 99999999998.5
    assert "duration_s: must be less than 100000000000" in refusal(TrackEvent, event(duration_s=1e11))
    for value in (float("inf"), float("nan")):
        assert refusal(TrackEvent, event(duration_s=value)) == "invalid TrackEvent: duration_s: must be a finite number"


@pytest.mark.parametrize("path", ["/a", "/g/work/snapshots/e/full.jpg", "/" + "p" * 4095])
def test_a_snapshot_path_is_absolute_2_to_4096_characters(path):
    assert parse(SnapshotRef, snapshot(path=path, crop_path=path)).crop_path == path


@pytest.mark.parametrize(("path", "why"), [("/", "at least 2 characters"), ("/" + "p" * 4096, "at most 4096"),
                                           ("full.jpg", "should match pattern"), ("/a\x00b", "should match pattern")])
def test_a_snapshot_path_out_of_bounds_is_refused(path, why):
    assert why in refusal(SnapshotRef, snapshot(path=path))
    assert why in refusal(SnapshotRef, snapshot(crop_path=path))


def test_a_snapshot_is_strict():
    assert "bytes: must be a whole number" in refusal(SnapshotRef, snapshot(bytes="51234"))
    assert "box: required" in refusal(SnapshotRef, {k: v for k, v in snapshot().items() if k != "box"})


@pytest.mark.parametrize("outcome", ["stored", "lost"])
def test_an_event_receipt_is_stored_or_lost(outcome):
    receipt = round_trip(EventReceipt, {"event_id": "e1", "sequence": 2, "outcome": outcome, "detail": "d"})
    assert receipt.outcome == outcome
    assert "outcome: must be 'stored' or 'lost'" in refusal(
        EventReceipt, {"event_id": "e1", "sequence": 2, "outcome": "dropped"})
