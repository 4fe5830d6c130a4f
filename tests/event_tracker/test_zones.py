"""Zones and lines: validation with clear reasons, entering and leaving with inertia, crossing directions."""

from __future__ import annotations

import dataclasses

import pytest

from event_tracker.tracker import Observation
from event_tracker.zones import MAX_LINES, MAX_ZONES, SIDE_MARGIN, CameraZones, Change, ZoneChange, ZoneMonitor
from smartcam.config import ConfigError, validate_config
from smartcam.geometry import signed_distance
from tests.event_tracker.helpers import frame_times, tracker, walk

DOOR = ((0.4, 0.5), (0.6, 0.5), (0.6, 0.9), (0.4, 0.9))
HALLWAY = ((0.3, 0.2), (0.9, 0.2), (0.9, 1.0), (0.3, 1.0))  # left, right: exact point lists, no shared edges
ACROSS = ((0.2, 0.6), (0.8, 0.6))  # drawn left to right: "in" is downwards on the screen


def zones(**over: object) -> CameraZones:
    config = {"zones": [{"name": "door", "polygon": DOOR}], "lines": [{"name": "gate", "points": ACROSS}]}
    return validate_config(CameraZones, {**config, **over})


def feed(monitor: ZoneMonitor, points: list[tuple[float, float]], label: str = "person", track: int = 1) -> list:
    changes = []
    for index, point in enumerate(points):
        changes += [(index, c.change, c.name) for c in monitor.observe(track, label, point, at=float(index))]
    return changes


def straight(start: tuple[float, float], end: tuple[float, float], count: int) -> list[tuple[float, float]]:
    return [(start[0] + (end[0] - start[0]) * i / (count - 1), start[1] + (end[1] - start[1]) * i / (count - 1))
            for i in range(count)]


# --- configuration ---------------------------------------------------------------------------------

def test_zones_and_lines_from_camel_case_json():
    config = validate_config(CameraZones, {
        "zones": [{"name": "door", "polygon": [[0.4, 0.5], [0.6, 0.5], [0.6, 0.9]], "labels": ["person"]}],
        "lines": [{"name": "gate", "points": [[0.2, 0.6], [0.8, 0.6]]}], "inertia": 3})
    assert config.zones[0].polygon == ((0.4, 0.5), (0.6, 0.5), (0.6, 0.9))
    assert config.zones[0].labels == ("person",) and config.inertia == 3
    assert config.lines[0].points == ((0.2, 0.6), (0.8, 0.6))


@pytest.mark.parametrize(("config", "reason"), [
    ({"zones": [{"name": "z", "polygon": [[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]]}]},
     "zones/0/polygon: edges 0-1 and 2-3 cross: the polygon intersects itself"),
    ({"zones": [{"name": "z", "polygon": [[0.1, 0.1], [1.5, 0.1], [0.9, 0.9]]}]}, "zones/0/polygon/1/0"),
    ({"lines": [{"name": "l", "points": [[0.5, 0.5], [0.5, 0.502]]}]}, "lines/0/points: degenerate line"),
    ({"lines": [{"name": "l", "points": [[0.5, 0.5], [0.5, 0.8], [0.6, 0.8]]}]}, "lines/0/points"),
    ({"zones": [{"name": "a", "polygon": DOOR}], "lines": [{"name": "a", "points": ACROSS}]},
     "names must be unique per camera; repeated: a"),
    ({"zones": [{"name": "bad name", "polygon": DOOR}]}, "zones/0/name"),
    ({"inertia": 0}, "inertia"),
    ({"inertia": 31}, "inertia"),
    ({"zones": [{"name": "door", "polygon": DOOR, "labels": ["x" * 65]}]}, "zones/0/labels/0"),
    ({"lines": [{"name": f"l{i}", "points": ACROSS} for i in range(MAX_LINES + 1)]}, "lines"),
    ({"zones": [{"name": "door", "polygon": DOOR, "labels": [""]}]}, "zones/0/labels/0"),
    ({"zones": [{"name": "door", "polygon": DOOR, "labels": [f"l{i}" for i in range(65)]}]}, "zones/0/labels"),
    ({"zones": [{"name": f"z{i}", "polygon": DOOR} for i in range(MAX_ZONES + 1)]}, "zones"),
])
def test_bad_zones_and_lines_are_refused_with_the_reason(config: dict, reason: str):
    with pytest.raises(ConfigError) as refused:
        validate_config(CameraZones, config)
    assert reason in str(refused.value)


def test_the_largest_allowed_settings_are_accepted():
    config = validate_config(CameraZones, {
        "zones": [{"name": f"z{i}", "polygon": DOOR, "labels": [f"l{j}" for j in range(64)]} for i in range(MAX_ZONES)],
        "lines": [{"name": f"g{i}", "points": ACROSS} for i in range(MAX_LINES)], "inertia": 30})
    assert len(config.zones) == MAX_ZONES == 32 and len(config.lines) == MAX_LINES == 32
    assert len(config.zones[0].labels) == 64 and config.inertia == 30
    labels = validate_config(CameraZones, {"zones": [{"name": "d", "polygon": DOOR, "labels": ["x", "y" * 64]}]})
    assert labels.zones[0].labels == ("x", "y" * 64)


# --- zones -----------------------------------------------------------------------------------------

def test_entering_and_leaving_a_zone_after_two_detections_on_the_other_side():
    monitor = ZoneMonitor(zones(lines=[]))
    path = straight((0.5, 0.25), (0.5, 0.65), 5) + straight((0.55, 0.65), (0.95, 0.65), 5)  # down in, right out
    assert feed(monitor, path) == [(4, Change.ENTERED, "door"), (7, Change.LEFT, "door")]
    summary = monitor.summary(1)
    assert summary.entered == ["door"] and summary.left == ["door"] and summary.inside == set()


def test_stepping_straight_back_out_after_entering_leaves_after_two_detections_too():
    monitor = ZoneMonitor(zones(lines=[]))
    # outside, inside twice (entered), outside twice (left): no detection in between agrees with the zone
    path = [(0.5, 0.3), (0.5, 0.6), (0.5, 0.7), (0.5, 0.3), (0.5, 0.35)]
    assert feed(monitor, path) == [(2, Change.ENTERED, "door"), (4, Change.LEFT, "door")]


def test_a_point_jittering_on_a_zones_edge_does_not_enter_and_leave():
    monitor = ZoneMonitor(zones(lines=[]))
    jitter = [(0.5, 0.49), (0.5, 0.51)] * 10  # in, out, in, out ... across the door's top edge
    assert feed(monitor, jitter) == []
    assert feed(monitor, [(0.5, 0.6)]) == [(0, Change.ENTERED, "door")]  # the last jitter point was inside


def test_a_zone_watches_only_its_labels():
    monitor = ZoneMonitor(zones(zones=[{"name": "door", "polygon": DOOR, "labels": ["car"]}], lines=[]))
    inside = [(0.5, 0.7)] * 3
    assert feed(monitor, inside, label="person") == []
    assert feed(monitor, inside, label="car", track=2) == [(1, Change.ENTERED, "door")]


def test_a_zone_that_ignores_the_label_does_not_hide_the_zones_after_it():
    monitor = ZoneMonitor(zones(zones=[{"name": "parking", "polygon": HALLWAY, "labels": ["car"]},
                                       {"name": "door", "polygon": DOOR}], lines=[]))
    assert feed(monitor, [(0.5, 0.7)] * 2, label="person") == [(1, Change.ENTERED, "door")]


def test_a_zone_change_is_a_frozen_value():
    change = ZoneChange(Change.ENTERED, "door", 1.0)
    assert {change, ZoneChange(Change.ENTERED, "door", 1.0)} == {change}
    with pytest.raises(dataclasses.FrozenInstanceError):
        change.name = "gate"  # type: ignore[misc]


def test_zones_may_overlap_and_are_reported_in_configuration_order():
    monitor = ZoneMonitor(zones(zones=[{"name": "hallway", "polygon": HALLWAY}, {"name": "door", "polygon": DOOR}],
                                lines=[], inertia=1))
    assert feed(monitor, [(0.1, 0.7), (0.5, 0.7)]) == [(1, Change.ENTERED, "hallway"), (1, Change.ENTERED, "door")]
    assert monitor.summary(1).inside == {"hallway", "door"}


# --- lines -----------------------------------------------------------------------------------------

def test_crossing_a_line_counts_in_and_out_by_direction():
    monitor = ZoneMonitor(zones(zones=[]))
    down, up = straight((0.5, 0.4), (0.5, 0.8), 9), straight((0.5, 0.8), (0.5, 0.4), 9)
    assert feed(monitor, down) == [(5, Change.CROSSED_IN, "gate")]  # left to right of the line's direction
    assert feed(monitor, up) == [(5, Change.CROSSED_OUT, "gate")]  # y 0.6 (index 4) is on the line
    assert feed(monitor, down) == [(5, Change.CROSSED_IN, "gate")]
    assert monitor.summary(1).crossings == {"gate": {Change.CROSSED_IN: 2, Change.CROSSED_OUT: 1}}


def test_a_line_drawn_the_other_way_swaps_in_and_out():
    monitor = ZoneMonitor(zones(zones=[], lines=[{"name": "gate", "points": ACROSS[::-1]}]))
    assert feed(monitor, straight((0.5, 0.4), (0.5, 0.8), 9)) == [(5, Change.CROSSED_OUT, "gate")]


def test_the_first_detection_is_never_a_crossing_whichever_side_it_is_on():
    reversed_gate = [{"name": "gate", "points": ACROSS[::-1]}]  # its left side is below it
    for lines, start, end, change in ((reversed_gate, (0.5, 0.8), (0.5, 0.4), Change.CROSSED_IN),
                                      (None, (0.5, 0.4), (0.5, 0.8), Change.CROSSED_IN)):
        monitor = ZoneMonitor(zones(zones=[], **({"lines": lines} if lines else {})))
        assert feed(monitor, straight(start, end, 9)) == [(5, change, "gate")]


def test_a_line_that_ignores_the_label_does_not_hide_the_lines_after_it():
    monitor = ZoneMonitor(zones(zones=[], lines=[{"name": "lane", "points": ACROSS, "labels": ["car"]},
                                                 {"name": "gate", "points": ACROSS}]))
    assert feed(monitor, [(0.5, 0.3), (0.5, 0.9)]) == [(1, Change.CROSSED_IN, "gate")]


def test_passing_beside_the_end_of_a_line_is_not_a_crossing():
    monitor = ZoneMonitor(zones(zones=[]))
    assert feed(monitor, straight((0.9, 0.4), (0.9, 0.8), 9)) == []  # the line ends at x = 0.8


def test_a_point_wobbling_on_a_line_counts_once_it_is_clearly_across():
    monitor = ZoneMonitor(zones(zones=[]))
    wobble = [(0.5, 0.55), (0.5, 0.595), (0.5, 0.605), (0.5, 0.598), (0.5, 0.603), (0.5, 0.65)]
    assert feed(monitor, wobble) == [(5, Change.CROSSED_IN, "gate")]


def test_a_point_exactly_the_side_margin_from_a_line_is_still_on_it():
    # A 3-4-5 line, so that the distance of the second point is exactly SIDE_MARGIN in floating point.
    slope = ((0.2, 0.2), (0.6, 0.5))
    above, on_the_margin, below = (0.2, 0.35), (0.25, 0.225), (0.3, 0.2)
    assert signed_distance(on_the_margin, slope) == -SIDE_MARGIN
    monitor = ZoneMonitor(zones(zones=[], lines=[{"name": "gate", "points": slope}]))
    assert feed(monitor, [above, on_the_margin, below]) == [(2, Change.CROSSED_OUT, "gate")]


def test_a_jump_across_the_line_between_two_detections_still_counts():
    monitor = ZoneMonitor(zones(zones=[]))
    assert feed(monitor, [(0.5, 0.3), (0.5, 0.9)]) == [(1, Change.CROSSED_IN, "gate")]


# --- tracks and reconfiguration --------------------------------------------------------------------

def test_tracks_are_kept_apart_and_forgotten():
    monitor = ZoneMonitor(zones(zones=[]))
    assert feed(monitor, straight((0.5, 0.4), (0.5, 0.8), 5), track=1) == [(3, Change.CROSSED_IN, "gate")]
    assert feed(monitor, straight((0.3, 0.8), (0.3, 0.4), 5), track=2) == [(3, Change.CROSSED_OUT, "gate")]
    assert monitor.forget(1).crossings == {"gate": {Change.CROSSED_IN: 1, Change.CROSSED_OUT: 0}}
    assert monitor.summary(1).crossings == {}
    assert monitor.forget(99).entered == []


def test_reconfiguring_keeps_what_tracks_did_in_zones_that_did_not_change():
    monitor = ZoneMonitor(zones(zones=[{"name": "hallway", "polygon": HALLWAY}, {"name": "door", "polygon": DOOR}],
                                lines=[], inertia=1))
    feed(monitor, [(0.5, 0.7)])
    assert monitor.summary(1).inside == {"hallway", "door"}
    smaller_door = ((0.45, 0.5), (0.55, 0.5), (0.55, 0.9), (0.45, 0.9))
    monitor.reconfigure(zones(zones=[{"name": "hallway", "polygon": HALLWAY},
                                     {"name": "door", "polygon": smaller_door}], lines=[], inertia=1))
    assert monitor.summary(1).inside == {"hallway"}  # the changed door starts over
    assert feed(monitor, [(0.5, 0.7)]) == [(0, Change.ENTERED, "door")]  # no second "entered hallway"
    assert monitor.zones.zones[1].polygon == smaller_door


def test_a_tracked_person_walking_through_the_door_and_over_the_line():
    times = frame_times(50)
    boxes = walk((0.47, 0.10, 0.53, 0.30), (0.0, 0.16), times)  # feet from y 0.30 to 1.08: down through both
    t = tracker(end_after_s=1.0)
    monitor = ZoneMonitor(zones())
    changes: list[ZoneChange] = []
    for at, box in zip(times, boxes, strict=True):
        for track in t.update(at, [Observation("person", 0.9, box)]).seen:
            changes += monitor.observe(track.id, track.label, track.anchor, at)
    assert [(c.change, c.name) for c in changes] == [(Change.ENTERED, "door"), (Change.CROSSED_IN, "gate"),
                                                     (Change.LEFT, "door")]
    entered_at = changes[0].at
    assert entered_at == pytest.approx(1.4)  # feet inside (y > 0.5) from 1.3 s, the second detection at 1.4 s
    [ended] = t.expire(10.0).ended
    summary = monitor.forget(ended.id)
    assert summary.entered == ["door"] and summary.left == ["door"]
    assert summary.crossings == {"gate": {Change.CROSSED_IN: 1, Change.CROSSED_OUT: 0}}
