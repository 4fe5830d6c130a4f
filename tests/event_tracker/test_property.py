"""Random configuration updates, well-formed and hostile, delivered through the fake nucleus while detections
arrive: every update is applied or refused with the last good configuration kept, no exception escapes a
handler, the component stays RUNNING, and afterwards it tracks under the last configuration. One run
sends at least MIN_UPDATES updates; the test fails if fewer went out."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from event_tracker.app import CAPTURES_DIR_ENV, CAPTURES_ENV, EVENTS_ENV, SNAPSHOTS_ENV
from event_tracker.settings import EventTrackerConfig
from tests.event_tracker.component import T0, configuration, start_tracker
from tests.support.config_fuzz import ConfigFuzz, HandlerErrors, Update, recipe_defaults, updates, well_formed_settings

EXAMPLES = 25
UPDATES_PER_EXAMPLE = 42
FRAMES_PER_EXAMPLE = 6
MIN_UPDATES = 1000
DOOR = [[0.2, 0.5], [0.6, 0.5], [0.6, 0.9], [0.2, 0.9]]
CROSSING = [[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]]
GATE = [[0.1, 0.6], [0.9, 0.6]]


def well_formed_updates() -> st.SearchStrategy[Update]:
    """Valid configurations: each setting left out or at a value near its bounds."""
    catalog: dict[str, list[Any]] = {
        "tracking": [{"confirmHits": 1}, {"endAfterS": 0.5, "confirmHits": 2},
                     {"lowScore": 0.05, "highScore": 0.3, "newTrackScore": 0.3},
                     {"pathPoints": 2, "pathIntervalS": 0.01}, {"pathPoints": 64, "pathStep": 1},
                     {"classAware": False, "snapshotGain": 10, "matchIou": 1}],
        "cameras": [{}, {"cam0": {"zones": [{"name": "door", "polygon": DOOR, "labels": ["person"]}]}},
                    {"cam0": {"lines": [{"name": "gate", "points": GATE}], "inertia": 1}},
                    {"cam1": {"zones": [{"name": "door", "polygon": DOOR}], "inertia": 30}}],
        "updateIntervalS": [0.001, 5, 3600],
        "iotEvents": [True, False],
        "snapshots": [{"enabled": False}, {"maxCount": 1, "maxMb": 0.001}, {"jpegQuality": 10, "cropMargin": 2},
                      {"maxCount": 100_000, "maxMb": 100_000}],
        "healthIntervalS": [0.05, 30, 3600],
        "statusMinIntervalS": [0, 5, 3600],
        "accessControl": [recipe_defaults("EventTracker")["accessControl"]],
    }
    return well_formed_settings(catalog).map(lambda c: Update(c, True, "well-formed"))


def against_the_rules(valid: dict[str, Any]) -> dict[str, dict[str, Any]]:
    def zones(camera: dict[str, Any]) -> dict[str, Any]:
        return {**valid, "cameras": {"cam0": camera}}

    return {
        "a zone crossing itself": zones({"zones": [{"name": "z", "polygon": CROSSING}]}),
        "a zone point out of the frame": zones({"zones": [{"name": "z", "polygon": [[0.1, 0.1], [1.5, 0.1],
                                                                                      [0.5, 0.9]]}]}),
        "a line of one point twice": zones({"lines": [{"name": "l", "points": [[0.5, 0.5], [0.5, 0.5]]}]}),
        "a zone and a line of one name": zones({"zones": [{"name": "a", "polygon": DOOR}],
                                                "lines": [{"name": "a", "points": GATE}]}),
        "scores out of order": {**valid, "tracking": {"lowScore": 0.6, "highScore": 0.5}},
        "more path points than an event carries": {**valid, "tracking": {"pathPoints": 65}},
        "65 cameras": {**valid, "cameras": {f"cam{i}": {} for i in range(65)}},
        "a camera id with a slash": {**valid, "cameras": {"cam/0": {}}},
    }


@pytest.mark.timeout(900)  # a failure is shrunk to a small example, which takes Hypothesis minutes
def test_random_configuration_updates_while_detections_arrive(tmp_path: Path, frame_root: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    sent: Counter[str] = Counter()
    monkeypatch.setenv("AWS_IOT_THING_NAME", "tracker-thing")

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        changes=st.lists(updates(EventTrackerConfig, well_formed_updates(), against_the_rules),
                         min_size=UPDATES_PER_EXAMPLE, max_size=UPDATES_PER_EXAMPLE),
        frames_after=st.lists(st.integers(0, UPDATES_PER_EXAMPLE - 1), min_size=FRAMES_PER_EXAMPLE,
                              max_size=FRAMES_PER_EXAMPLE),
    )
    def run(changes: list[Update], frames_after: list[int]) -> None:
        work = tmp_path / f"work-{sent['examples']}"
        sent["examples"] += 1
        monkeypatch.setenv(EVENTS_ENV, str(work / "events.sqlite3"))
        monkeypatch.setenv(SNAPSHOTS_ENV, str(work / "snapshots"))
        monkeypatch.setenv(CAPTURES_ENV, str(work / "captures.sqlite3"))
        monkeypatch.setenv(CAPTURES_DIR_ENV, str(work / "captures"))
        with HandlerErrors() as errors:
            tracker = start_tracker(work, frame_root, configuration())
            fuzz = ConfigFuzz(tracker.nucleus, tracker.live)
            at = 0.0
            try:
                for index, update in enumerate(changes):
                    fuzz.send(update)
                    for _ in range(frames_after.count(index)):
                        at += 0.1
                        tracker.frame(at, [(0.3, 0.3, 0.4, 0.7), (0.3 + at / 100, 0.1, 0.35 + at / 100, 0.3)])
                    tracker.app.tick()
                fuzz.send(Update(configuration(), True, "the last configuration"))
                before = len(tracker.events())
                for i in range(3):  # someone new, long after anything before has ended
                    tracker.frame(at + 100 + i / 10, [(0.6, 0.3, 0.7, 0.7)])
            finally:
                tracker.app.stop()
        errors.check(refused_updates=fuzz.refused)
        assert "ERRORED" not in tracker.nucleus.states()
        started = [e.first_seen for e in tracker.events()[before:] if e.kind == "start"]
        assert started == [pytest.approx(T0 + at + 100)]  # the newcomer's event, under the last configuration
        sent["updates"] += len(changes)
        sent["applied"] += fuzz.applied
        sent["refused"] += fuzz.refused

    run()
    assert sent["updates"] >= MIN_UPDATES, sent
    assert min(sent["applied"], sent["refused"]) >= sent["updates"] // 10, sent
