"""The multi-camera benchmark's arithmetic: the out-of-step schedule, what became of each camera's
frames, and capture -> stored percentiles per camera."""

from __future__ import annotations

import math

import pytest

from benchmarks.camera_stats import (
    FrameTally,
    at_most,
    camera_name,
    latency,
    out_of_step,
    spread,
    stored_latencies_ms,
    total_unserved_share,
    worst_unserved_share,
)


def test_the_first_n_cameras_start_spread_over_the_whole_video():
    assert [spread(i) for i in range(8)] == [0.0, 0.5, 0.25, 0.75, 0.125, 0.625, 0.375, 0.875]
    schedule = out_of_step(16, 800, seed=1, max_delay_s=1.0)
    assert [s.camera for s in schedule[:3]] == ["cam01", "cam02", "cam03"]
    assert camera_name(15) == "cam16"
    for count in (1, 2, 4, 8, 16):  # a run of n cameras takes the schedule's first n: evenly spread
        offsets = sorted(s.offset_frame for s in schedule[:count])
        assert offsets == [i * 800 // count for i in range(count)]
    assert len({s.offset_frame for s in out_of_step(16, 795, seed=1, max_delay_s=1.0)}) == 16


def test_the_start_delays_are_seeded_below_the_maximum_and_not_all_equal():
    first = out_of_step(16, 795, seed=20, max_delay_s=1.0)
    assert first == out_of_step(16, 795, seed=20, max_delay_s=1.0)  # the same seed, the same schedule
    assert [s.delay_s for s in first] != [s.delay_s for s in out_of_step(16, 795, seed=21, max_delay_s=1.0)]
    assert all(0.0 <= s.delay_s < 1.0 for s in first)
    assert len({s.delay_s for s in first}) > 1


def test_camera_i_keeps_its_delay_in_a_schedule_of_more_cameras():
    few, many = out_of_step(4, 795, seed=3, max_delay_s=2.0), out_of_step(16, 795, seed=3, max_delay_s=2.0)
    assert [s.delay_s for s in few] == [s.delay_s for s in many[:4]]
    with pytest.raises(ValueError, match="at least one camera"):
        out_of_step(0, 795, seed=3, max_delay_s=1.0)


def test_unserved_counts_frames_not_taken_and_captured_frames_not_served_but_not_gated_ones():
    tally = FrameTally(expected=100, captured=80, gated=18,
                       accounting={"summarized": 70, "no_detections": 5, "dropped": 3, "expired": 2})
    assert tally.taken == 98
    assert tally.served == 75
    assert tally.not_taken == 2
    assert tally.unserved == 2 + 5
    assert tally.unserved_share == pytest.approx(0.07)
    assert tally.outcome("dropped") == 3
    assert tally.outcome("lost") == 0


def test_captured_frames_without_accounting_are_unserved():
    tally = FrameTally(expected=10, captured=10, gated=0, accounting={})
    assert tally.unserved == 10
    assert math.isnan(FrameTally(expected=0, captured=0, gated=0, accounting={}).unserved_share)


def test_total_share_weighs_cameras_by_frames_and_worst_is_the_highest_camera():
    tallies = [FrameTally(100, 100, 0, {"stored": 100}),
               FrameTally(100, 100, 0, {"stored": 97, "dropped": 3}),
               FrameTally(200, 200, 0, {"stored": 199, "expired": 1})]
    assert total_unserved_share(tallies) == pytest.approx(4 / 400)
    assert worst_unserved_share(tallies) == pytest.approx(0.03)
    assert math.isnan(total_unserved_share([]))


def test_latencies_pair_capture_and_stored_times_by_frame():
    captured = {"a": 10.0, "b": 11.0, "c": 12.0}
    stored = {"a": 10.05, "c": 12.2, "z": 99.0}
    assert stored_latencies_ms(captured, stored) == [pytest.approx(50.0), pytest.approx(200.0)]


def test_percentiles_per_camera_are_nearest_rank():
    timed = latency([float(ms) for ms in range(1, 101)])
    assert (timed.frames, timed.p50_ms, timed.p99_ms) == (100, 51.0, 99.0)
    assert latency([]) == latency([])
    assert latency([]).p99_ms is None


def test_a_target_is_met_only_when_measured_and_within():
    assert at_most(0.01, 0.01)
    assert not at_most(0.011, 0.01)
    assert not at_most(None, 250.0)
    assert not at_most(float("nan"), 250.0)
