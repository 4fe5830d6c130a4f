"""The configuration rules of smartcam.EventTracker: the scores' order refused with its reason and accepted
at equality, every number and size refused just beyond its bounds and accepted at them."""

from __future__ import annotations

import re
from typing import Any

import pytest

from event_tracker.settings import EventTrackerConfig
from smartcam.config import ConfigError, validate_config
from smartcam.contracts import MAX_PATH_POINTS
from tests.support.config_bounds import check_number_bounds, check_size_bounds, refused

ORDER = "scores must be ordered lowScore < highScore <= newTrackScore"


def scores(low: float, high: float, new: float) -> dict[str, Any]:
    return {"tracking": {"lowScore": low, "highScore": high, "newTrackScore": new}}


@pytest.mark.parametrize(("low", "high", "new"), [(0.5, 0.5, 0.6), (0.6, 0.5, 0.7), (0.1, 0.6, 0.599),
                                                  (0.7, 0.5, 0.3)])
def test_scores_out_of_order_are_refused(low: float, high: float, new: float):
    with pytest.raises(ConfigError, match=f"^invalid EventTrackerConfig: tracking: {re.escape(ORDER)}$"):
        validate_config(EventTrackerConfig, scores(low, high, new))


@pytest.mark.parametrize(("low", "high", "new"), [(0.499, 0.5, 0.5), (0.1, 0.5, 0.6), (0.001, 1, 1)])
def test_scores_in_order_are_accepted(low: float, high: float, new: float):
    tracking = validate_config(EventTrackerConfig, scores(low, high, new)).tracking
    assert (tracking.low_score, tracking.high_score, tracking.new_track_score) == (low, high, new)


@pytest.mark.parametrize(("base", "path", "bounds"), [
    ({"tracking": {"lowScore": 0.0005, "newTrackScore": 1}}, ("tracking", "highScore"), {"gt": 0, "le": 1}),
    ({"tracking": {"lowScore": 0.0001, "highScore": 0.0005}}, ("tracking", "newTrackScore"), {"gt": 0, "le": 1}),
    ({}, ("tracking", "lowScore"), {"gt": 0}),
    ({}, ("tracking", "matchIou"), {"gt": 0, "le": 1}),
    ({}, ("tracking", "lowMatchIou"), {"gt": 0, "le": 1}),
    ({}, ("tracking", "confirmHits"), {"ge": 1, "le": 100, "integer": True}),
    ({}, ("tracking", "endAfterS"), {"gt": 0, "le": 3600}),
    ({}, ("tracking", "lostCoastS"), {"ge": 0, "le": 60}),
    ({}, ("tracking", "pathPoints"), {"ge": 2, "le": MAX_PATH_POINTS, "integer": True}),
    ({}, ("tracking", "pathIntervalS"), {"gt": 0, "le": 3600}),
    ({}, ("tracking", "pathStep"), {"gt": 0, "le": 1}),
    ({}, ("tracking", "snapshotGain"), {"ge": 1, "le": 10}),
    ({}, ("snapshots", "maxCount"), {"ge": 1, "le": 100_000, "integer": True}),
    ({}, ("snapshots", "maxMb"), {"gt": 0, "le": 100_000}),
    ({}, ("snapshots", "jpegQuality"), {"ge": 10, "le": 100, "integer": True}),
    ({}, ("snapshots", "cropMargin"), {"ge": 0, "le": 2}),
    ({}, ("updateIntervalS",), {"gt": 0, "le": 3600}),
    ({}, ("healthIntervalS",), {"gt": 0, "le": 3600}),
    ({}, ("statusMinIntervalS",), {"ge": 0, "le": 3600}),
])
def test_each_number_is_refused_just_beyond_its_bounds(base: dict[str, Any], path: tuple, bounds: dict[str, Any]):
    check_number_bounds(EventTrackerConfig, base, path, **bounds)


def test_the_low_score_above_1_is_refused_as_out_of_bounds_not_out_of_order():
    assert refused(EventTrackerConfig, {}, ("tracking", "lowScore"), 1.001) == "must be less than or equal to 1"


def test_at_most_64_cameras_have_zones():
    check_size_bounds(EventTrackerConfig, {}, ("cameras",), lambda n: {f"cam{i}": {} for i in range(n)},
                      max_size=64)
