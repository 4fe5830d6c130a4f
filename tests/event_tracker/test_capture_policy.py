"""The data-capture policy alone: the uncertainty band, new tracks, the seeded random sample, and the
per-camera budget across hour and day boundaries (UTC, by capture time), kept through a restart."""

from __future__ import annotations

import calendar
import random

import pytest

from event_tracker.capture_policy import CaptureBudget, capture_reasons, day_of, hour_of
from event_tracker.capture_store import CaptureStore
from event_tracker.settings import DataCaptureSettings
from smartcam.config import ConfigError, validate_config
from smartcam.contracts import Box, DataCapture, Detection, Detections, FrameRef, ModelInfo, StageLatency

MIDNIGHT = float(calendar.timegm((2026, 12, 6, 0, 0, 0)))  # a UTC day starts


def settings(**over) -> DataCaptureSettings:
    return DataCaptureSettings.model_validate({"enabled": True, **over})


def frame_detections(scores: list[float], candidates: list[float] = (), at: float = MIDNIGHT) -> Detections:
    frame = FrameRef(frame_id="cam0-ab-1", camera_id="cam0", slot=0, format="bgr8",
                     sequence=1, captured_at=at, captured_monotonic_ns=1, width=640, height=480)

    def found(score: float) -> Detection:
        return Detection(label="person", class_id=1, score=score, box=Box(x1=0.1, y1=0.1, x2=0.2, y2=0.3))

    return Detections(frame=frame, detections=[found(s) for s in scores],
                      candidates=[found(s) for s in candidates] or None,
                      model=ModelInfo(name="ssd", version="1", backend="onnxruntime"),
                      latency=StageLatency(read_ms=1, preprocess_ms=1, infer_ms=1, postprocess_ms=1), inferred_at=at)


NEVER = random.Random(0)  # sampleRate 0 never draws


@pytest.mark.parametrize(("scores", "candidates", "uncertain"), [
    ([], [0.3], True),             # the band's lower end is in
    ([], [0.29], False),
    ([0.55], [0.2], True),         # the best of results and candidates decides
    ([0.6], [0.4], False),         # the upper end is out: a confident detection makes the frame sure
    ([0.9, 0.45], [], False),
    ([], [], False),               # nothing found: not uncertain
])
def test_the_uncertainty_band_takes_the_frames_whose_best_score_is_in_it(scores, candidates, uncertain):
    reasons = capture_reasons(settings(uncertainMin=0.3, uncertainMax=0.6), frame_detections(scores, candidates),
                              new_track=False, rng=NEVER)
    assert reasons == (["uncertain"] if uncertain else [])


def test_a_new_track_is_a_reason_unless_turned_off():
    sure = frame_detections([0.9])
    assert capture_reasons(settings(), sure, new_track=True, rng=NEVER) == ["new_track"]
    assert capture_reasons(settings(newTracks=False), sure, new_track=True, rng=NEVER) == []
    assert capture_reasons(settings(), sure, new_track=False, rng=NEVER) == []


def test_the_random_sample_repeats_with_the_seed_and_draws_about_its_rate():
    def run(seed: int) -> list[bool]:
        rng = random.Random(seed)
        policy = settings(sampleRate=0.25, newTracks=False)
        return [capture_reasons(policy, frame_detections([0.9]), new_track=False, rng=rng) == ["random"]
                for _ in range(2000)]

    first = run(7)
    assert first == run(7)  # seeded: the same frames
    assert first != run(8)
    assert 400 <= sum(first) <= 600  # 0.25 of 2000 = 500; binomial sd ~19


def test_every_reason_that_holds_is_given_once():
    reasons = capture_reasons(settings(sampleRate=1.0), frame_detections([0.5]), new_track=True,
                              rng=random.Random(1))
    assert reasons == ["uncertain", "new_track", "random"]


def test_the_hourly_bound_starts_over_at_the_next_clock_hour():
    budget, policy = CaptureBudget(), settings(maxPerHour=2, maxPerDay=10)
    taken = []
    for at in (MIDNIGHT + 3590, MIDNIGHT + 3595, MIDNIGHT + 3599.9, MIDNIGHT + 3600, MIDNIGHT + 3601, MIDNIGHT + 3602):
        if budget.allows("cam0", at, policy):
            budget.spend("cam0", at)
            taken.append(at - MIDNIGHT)
    assert taken == [3590, 3595, 3600, 3601]  # two in the hour 00:00-01:00 UTC, two in 01:00-02:00


def test_the_daily_bound_holds_across_hours_and_starts_over_at_utc_midnight():
    budget, policy = CaptureBudget(), settings(maxPerHour=2, maxPerDay=3)
    day_before = MIDNIGHT - 86_400
    taken = []
    for hour in range(20, 24):  # 20:00..23:00 of the day before: two, then one, then none
        for minute in (0, 1):
            at = day_before + hour * 3600 + minute * 60
            if budget.allows("cam0", at, policy):
                budget.spend("cam0", at)
                taken.append(at)
    assert len(taken) == 3
    assert budget.allows("cam0", MIDNIGHT, policy)  # a new day, a new hour
    assert budget.spend("cam0", MIDNIGHT).day_count == 1
    assert day_of(MIDNIGHT - 0.001) == "2026-12-05" and day_of(MIDNIGHT) == "2026-12-06"
    assert hour_of(MIDNIGHT) - hour_of(MIDNIGHT - 0.001) == 1


def test_each_camera_has_its_own_budget():
    budget, policy = CaptureBudget(), settings(maxPerHour=1, maxPerDay=1)
    budget.spend("cam0", MIDNIGHT)
    assert not budget.allows("cam0", MIDNIGHT + 1, policy)
    assert budget.allows("cam1", MIDNIGHT + 1, policy)


def test_a_frame_of_an_earlier_window_counts_against_the_later_one_held():
    """The device's clock went back: the windows never move back, so the bounds still hold."""
    budget, policy = CaptureBudget(), settings(maxPerHour=1, maxPerDay=5)
    budget.spend("cam0", MIDNIGHT + 7200)
    assert not budget.allows("cam0", MIDNIGHT + 10, policy)


def test_the_counts_survive_a_restart(tmp_path):
    store = CaptureStore(tmp_path / "captures.sqlite3")
    store.budget.spend("cam0", MIDNIGHT + 5)
    capture = DataCapture(frame_id="cam0-ab-1", camera_id="cam0", captured_at=MIDNIGHT + 5, width=640, height=480,
                          reasons=["random"], detections=[], model=ModelInfo(name="ssd", version="1",
                                                                             backend="onnxruntime"),
                          path=str(tmp_path / "cam0-ab-1.jpg"), bytes=10, sent_at=MIDNIGHT + 6)
    store.put(capture.frame_id, capture.to_bytes())
    store.close()
    again = CaptureStore(tmp_path / "captures.sqlite3")
    assert not again.budget.allows("cam0", MIDNIGHT + 60, settings(maxPerHour=1, maxPerDay=5))
    assert again.budget.allows("cam0", MIDNIGHT + 3600, settings(maxPerHour=1, maxPerDay=5))
    assert again.load() == [(capture.frame_id, capture.to_bytes())]
    again.close()


@pytest.mark.parametrize("bad", [
    {"uncertainMin": 0.7, "uncertainMax": 0.6},
    {"maxPerHour": 11, "maxPerDay": 10},
    {"sampleRate": 1.5},
    {"sampleRate": "0.5"},  # strict: a string is not a number
    {"enabled": 1},
    {"maxPerHour": 2.5},
    {"nope": True},
])
def test_invalid_settings_are_refused(bad):
    with pytest.raises(ConfigError):
        validate_config(DataCaptureSettings, bad)


class Draws(random.Random):
    """A generator that always draws ``value``."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value, self.draws = value, 0

    def random(self) -> float:
        self.draws += 1
        return self.value


def test_a_draw_equal_to_the_rate_is_not_taken_and_a_rate_of_zero_never_draws():
    assert capture_reasons(settings(sampleRate=0.25, newTracks=False), frame_detections([0.9]), new_track=False,
                           rng=Draws(0.25)) == []
    assert capture_reasons(settings(sampleRate=0.25, newTracks=False), frame_detections([0.9]), new_track=False,
                           rng=Draws(0.2499)) == ["random"]
    untouched = Draws(0.0)
    assert capture_reasons(settings(sampleRate=0.0), frame_detections([0.9]), new_track=False, rng=untouched) == []
    assert untouched.draws == 0  # a seeded run's draws do not depend on frames taken with the sample off
