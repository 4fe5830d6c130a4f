"""The events benchmark's arithmetic: phases of the static clip, series deltas, item sizes, noise events."""

from __future__ import annotations

import math

import pytest

from benchmarks.event_stats import (
    PhaseFrames,
    Timeline,
    count_by_phase,
    delta,
    follows_still_object,
    frames_by_phase,
    items_bytes,
    per_hour,
    per_minute,
    snapshot_event_id,
    value_at,
)


def test_the_boundary_is_noise_s_after_the_first_frame_less_half_a_frame():
    timeline = Timeline(first_frame_at=1000.0, noise_s=60.0, fps=10.0)
    assert timeline.boundary == pytest.approx(1059.95)
    assert timeline.phase(1000.0) == "noise"
    assert timeline.phase(1059.9) == "noise"  # frame 599, on time
    assert timeline.phase(1059.96) == "scene"  # frame 600, taken a little early
    assert timeline.phase(1060.0) == "scene"
    assert count_by_phase([1000.0, 1004.0, 1059.9, 1060.0, 1061.0], timeline) == {"noise": 3, "scene": 2}


def test_frames_by_phase_splits_the_capture_totals_by_the_clip_layout():
    # 600 noise frames + 795 scene frames, all taken; 15 noise frames passed (start + keep-alives).
    split = frames_by_phase(noise_frames=600, taken=1395, gated=600 - 15 + 5, passed={"noise": 15, "scene": 790})
    assert split["noise"] == PhaseFrames(taken=600, passed=15, gated=585)
    assert split["scene"] == PhaseFrames(taken=795, passed=790, gated=5)
    assert split["noise"].gated_share == pytest.approx(0.975)


def test_a_capture_cut_short_in_the_noise_phase_has_no_scene():
    split = frames_by_phase(noise_frames=600, taken=100, gated=97, passed={"noise": 3, "scene": 0})
    assert split["noise"] == PhaseFrames(taken=100, passed=3, gated=97)
    assert split["scene"] == PhaseFrames(taken=0, passed=0, gated=0)
    assert math.isnan(split["scene"].gated_share)


def test_value_at_interpolates_between_samples_and_holds_outside_them():
    samples = [(10.0, {"a": 1.0, "b": 0.0}), (12.0, {"a": 3.0, "b": 4.0}), (14.0, {"a": 3.0})]
    assert value_at(samples, 11.0) == {"a": 2.0, "b": 2.0}
    assert value_at(samples, 5.0) == {"a": 1.0, "b": 0.0}
    assert value_at(samples, 20.0) == {"a": 3.0}
    assert value_at(samples, 13.0) == {"a": 3.0}  # "b" gone (its process ended): not made up
    assert value_at([], 1.0) == {}


def test_delta_is_the_growth_between_two_moments():
    samples = [(0.0, {"cpu": 0.0}), (10.0, {"cpu": 5.0}), (20.0, {"cpu": 6.0})]
    assert delta(samples, 0.0, 10.0) == {"cpu": 5.0}
    assert delta(samples, 5.0, 15.0) == {"cpu": pytest.approx(3.0)}


def test_rates_per_minute_and_hour():
    assert per_minute(30, 60.0) == 30.0
    assert per_minute(10, 30.0) == 20.0
    assert per_hour(2, 79.5) == pytest.approx(90.566, rel=1e-4)
    assert math.isnan(per_minute(1, 0.0))


def test_item_bytes_follow_dynamodbs_size_rules():
    item = {
        "device": {"S": "core"},  # 6 + 4
        "event_id": {"S": "cam0.1764900000123.7"},  # 8 + 20
        "sequence": {"N": "12"},  # 8 + (1 byte per 2 digits + 1) = 8 + 2
        "best_score": {"N": "0.875"},  # 10 + digits 875 -> 2 + 1 = 10 + 3
        "path": {"L": [{"L": [{"N": "1"}, {"N": "0.5"}]}]},  # 4 + 3 + (inner 3 + (2 + 1) + (2 + 1)) + 1 = 17
    }
    assert items_bytes([item]) == 10 + 28 + 10 + 13 + 17
    assert items_bytes([item, item]) == 2 * 78
    assert items_bytes([{"name": {"S": "é"}}]) == 4 + 2  # UTF-8 bytes, not characters


def test_an_event_follows_a_still_object_when_its_first_box_overlaps_one():
    still = [(0.1, 0.1, 0.2, 0.4), (0.6, 0.5, 0.7, 0.9)]
    assert follows_still_object((0.11, 0.1, 0.21, 0.41), still)
    assert not follows_still_object((0.3, 0.3, 0.4, 0.6), still)  # elsewhere: from the noise
    assert not follows_still_object((0.1, 0.1, 0.2, 0.4), [])
    assert not follows_still_object((0.1, 0.1, 0.15, 0.25), still)  # a quarter of it: IoU 0.25 < 0.5
    assert follows_still_object((0.1, 0.1, 0.15, 0.25), still, min_iou=0.2)


def test_the_event_id_of_a_snapshot_key():
    assert snapshot_event_id("snapshots/core/cam0/2026/12/06/cam0.1764900000123.7/full.jpg") == "cam0.1764900000123.7"
    assert snapshot_event_id("a/b/snapshots/core/cam0/2026/12/06/cam0.1.2/crop.jpg") == "cam0.1.2"
    assert snapshot_event_id("full.jpg") is None
