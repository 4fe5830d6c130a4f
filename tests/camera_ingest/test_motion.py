"""The motion gate on synthetic frames (a photo with sensor noise, moving boxes, light changes) and on
the real pedestrian video vtest.avi."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from camera_ingest.motion import MAX_REGIONS, MotionDecision, MotionGate, MotionSettings, Why
from smartcam.config import ConfigError, validate_config
from tests.camera_ingest.motion_frames import VTEST_FPS, FakeClock, Scene, iou, noisy_stills, vtest_frames, walking

FRAME_S = 0.1
PERSON = (0.1, 0.4, 0.2, 0.8)  # a standing person's box in the synthetic scene
STEP_RIGHT = (0.01, 0.0)  # 3 px per frame at 320 px: a walk across the view in 10 s at 10 fps


def settings(**over: object) -> MotionSettings:
    return MotionSettings(**{"keep_alive_s": None, **over})


def run(gate: MotionGate, clock: FakeClock, frames: list[np.ndarray], step_s: float = FRAME_S) -> list[MotionDecision]:
    decisions = []
    for frame in frames:
        clock.advance(step_s)
        decisions.append(gate.check(frame))
    return decisions


def started(scene: Scene, config: MotionSettings) -> tuple[MotionGate, FakeClock]:
    """A gate that has seen the empty view once (its start frame)."""
    clock = FakeClock()
    gate = MotionGate(config, clock)
    assert gate.check(scene.frame()) == MotionDecision(True, Why.START)
    return gate, clock


def covers(outer: tuple[float, ...], inner: tuple[float, ...], slack: float = 0.02) -> bool:
    return (outer[0] <= inner[0] + slack and outer[1] <= inner[1] + slack
            and outer[2] >= inner[2] - slack and outer[3] >= inner[3] - slack)


def union(regions: tuple) -> tuple[float, float, float, float]:
    return (min(r.x1 for r in regions), min(r.y1 for r in regions),
            max(r.x2 for r in regions), max(r.y2 for r in regions))


# --- synthetic scene -----------------------------------------------------------------------------

def test_a_still_scene_with_sensor_noise_is_gated():
    scene = Scene(noise=4.0)
    gate, clock = started(scene, settings())
    decisions = run(gate, clock, [scene.frame() for _ in range(100)])
    assert {(d.passed, d.why) for d in decisions} == {(False, Why.STILL)}
    assert all(d.regions == () for d in decisions)


def test_a_walking_person_passes_and_its_region_covers_it():
    scene = Scene()
    gate, clock = started(scene, settings())
    path = walking(PERSON, STEP_RIGHT, 40)
    decisions = run(gate, clock, [scene.frame([box]) for box in path])
    assert all(d.passed and d.why == Why.MOTION for d in decisions)
    for box, decision in zip(path, decisions, strict=True):
        assert 1 <= len(decision.regions) <= MAX_REGIONS
        assert covers(union(decision.regions), box), (box, decision.regions)
        swept = (PERSON[0], PERSON[1], box[2], box[3])  # the person now and where it walked: its fading trail
        assert all(covers(swept, region[:4]) for region in decision.regions), (swept, decision.regions)
        areas = [region.area for region in decision.regions]
        assert areas == sorted(areas, reverse=True)
    assert iou(decisions[0].regions[0][:4], path[0]) > 0.8


def test_the_person_stepping_in_is_one_region_that_matches_its_box():
    scene = Scene()
    gate, clock = started(scene, settings())
    [decision] = run(gate, clock, [scene.frame([PERSON])])
    assert decision.passed and len(decision.regions) == 1
    assert iou(decision.regions[0][:4], PERSON) > 0.8
    assert decision.regions[0].area == pytest.approx(0.04, rel=0.25)  # 0.1 x 0.4 of the frame
    assert decision.changed == pytest.approx(0.04, rel=0.25)


def test_motion_inside_a_mask_is_ignored_and_outside_it_is_not():
    scene = Scene()
    path = walking((0.6, 0.3, 0.7, 0.7), STEP_RIGHT, 20)  # stays within x 0.6..0.9
    right_half = ((0.55, 0.0), (1.0, 0.0), (1.0, 1.0), (0.55, 1.0))
    left_triangle = ((0.0, 0.0), (0.5, 0.0), (0.0, 1.0))

    masked, clock = started(scene, settings(masks=(right_half,)))
    assert not any(d.passed for d in run(masked, clock, [scene.frame([box]) for box in path]))

    elsewhere, clock = started(scene, settings(masks=(left_triangle,)))
    assert all(d.why == Why.MOTION for d in run(elsewhere, clock, [scene.frame([box]) for box in path]))

    # a person walking out of the mask is seen once enough of it is outside
    leaving = walking((0.4, 0.3, 0.5, 0.7), (-0.02, 0.0), 15)  # from inside the triangle's wide top to the left edge
    wide_top = ((0.3, 0.0), (0.6, 0.0), (0.6, 0.8), (0.3, 0.8))
    gate, clock = started(scene, settings(masks=(wide_top,)))
    decisions = run(gate, clock, [scene.frame([box]) for box in leaving])
    assert not decisions[0].passed
    assert decisions[-1].why == Why.MOTION and union(decisions[-1].regions)[2] <= 0.3 + 0.02


def test_a_keep_alive_frame_passes_every_n_seconds_without_motion():
    scene = Scene()
    gate, clock = started(scene, settings(keep_alive_s=5.0))
    decisions = run(gate, clock, [scene.frame() for _ in range(16)], step_s=1.0)  # t = 1..16 s
    passed_at = [second for second, d in enumerate(decisions, start=1) if d.passed]
    assert passed_at == [5, 10, 15]
    assert {d.why for d in decisions if d.passed} == {Why.KEEP_ALIVE}
    assert {d.why for d in decisions if not d.passed} == {Why.STILL}


def test_motion_restarts_the_keep_alive_wait():
    scene = Scene()
    gate, clock = started(scene, settings(keep_alive_s=5.0))
    frames = [scene.frame() for _ in range(3)] + [scene.frame([PERSON])] + [scene.frame() for _ in range(16)]
    decisions = run(gate, clock, frames, step_s=1.0)  # the person shows at t = 4 s only
    passed = [(second, d.why) for second, d in enumerate(decisions, start=1) if d.passed]
    # t = 5: the person's ghost fading from the background still counts as motion; then still
    assert passed[0] == (4, Why.MOTION)
    last_motion = max(second for second, why in passed if why == Why.MOTION)
    keep_alives = [second for second, why in passed if why == Why.KEEP_ALIVE]
    assert keep_alives == list(range(last_motion + 5, len(frames) + 1, 5)) and len(keep_alives) >= 2


def test_a_light_change_below_the_sensitivity_is_gated():
    scene = Scene()
    gate, clock = started(scene, settings())  # 0.9: a pixel must change by more than 25.5 levels
    dimmer_then_brighter = [scene.frame(brightness=-15.0)] * 3 + [scene.frame(brightness=15.0)] * 3
    decisions = run(gate, clock, dimmer_then_brighter)
    assert [(d.passed, d.why) for d in decisions] == [(False, Why.STILL)] * 6


def test_a_faint_object_passes_only_a_more_sensitive_gate():
    scene = Scene()
    faint = [scene.frame([box], contrast_to=18.0) for box in walking(PERSON, STEP_RIGHT, 5)]
    default, clock = started(scene, settings())
    assert not any(d.passed for d in run(default, clock, faint))
    sensitive, clock = started(scene, settings(sensitivity=0.96))  # more than 10.2 levels
    assert all(d.why == Why.MOTION for d in run(sensitive, clock, faint))


def test_a_sudden_light_change_restarts_the_background_and_is_gated():
    scene = Scene()
    gate, clock = started(scene, settings())
    lit = [scene.frame(brightness=70.0) for _ in range(5)]
    decisions = run(gate, clock, lit)
    assert (decisions[0].passed, decisions[0].why) == (False, Why.LIGHTING)
    assert decisions[0].changed > 0.8
    assert [(d.passed, d.why) for d in decisions[1:]] == [(False, Why.STILL)] * 4  # the new light is the background
    [person] = run(gate, clock, [scene.frame([PERSON], brightness=70.0)])
    assert person.why == Why.MOTION and iou(person.regions[0][:4], PERSON) > 0.8


def test_a_keep_alive_due_during_a_light_change_still_passes():
    scene = Scene()
    gate, clock = started(scene, settings(keep_alive_s=2.0))
    [decision] = run(gate, clock, [scene.frame(brightness=70.0)], step_s=2.0)
    assert (decision.passed, decision.why) == (True, Why.KEEP_ALIVE)


def test_changes_smaller_than_the_minimum_area_are_gated():
    scene = Scene()
    small = (0.5, 0.5, 0.52, 0.52)  # 0.0004 of the frame
    larger = (0.5, 0.5, 0.55, 0.55)  # 0.0025
    gate, clock = started(scene, settings(min_area=0.001))
    assert not any(d.passed for d in run(gate, clock, [scene.frame([small])] * 3))
    gate, clock = started(scene, settings(min_area=0.001))
    assert all(d.why == Why.MOTION for d in run(gate, clock, [scene.frame([larger])] * 3))


def test_off_passes_every_frame_without_looking():
    clock = FakeClock()
    gate = MotionGate(settings(enabled=False), clock)
    frames = [np.zeros((4, 4, 3), np.uint8)] * 3
    assert [d.why for d in run(gate, clock, frames)] == [Why.OFF] * 3


def test_background_learns_a_change_that_stays():
    scene = Scene()
    gate, clock = started(scene, settings(background_s=1.0))
    parked = run(gate, clock, [scene.frame([PERSON]) for _ in range(60)])  # 6 s: six time constants
    assert parked[0].why == Why.MOTION
    assert parked[-1].why == Why.STILL  # absorbed: from now on only a keep-alive would show it
    first_still = next(i for i, d in enumerate(parked) if d.why == Why.STILL)
    assert 10 <= first_still <= 40  # learns in time, within 1..4 s at 10 fps


def test_background_learning_is_measured_in_seconds_not_frames():
    scene = Scene(noise=0.0)
    frames = [scene.frame([PERSON]) for _ in range(40)]
    gate, clock = started(scene, settings(background_s=1.0))
    at_10_fps = run(gate, clock, frames, step_s=0.1)
    gate, clock = started(scene, settings(background_s=1.0))
    at_20_fps = run(gate, clock, frames, step_s=0.05)
    seconds_to_still_10 = next(i for i, d in enumerate(at_10_fps) if d.why == Why.STILL) * 0.1
    seconds_to_still_20 = next(i for i, d in enumerate(at_20_fps) if d.why == Why.STILL) * 0.05
    assert seconds_to_still_10 == pytest.approx(seconds_to_still_20, abs=0.15)


def test_new_settings_or_a_new_frame_size_start_a_new_background():
    scene = Scene()
    gate, clock = started(scene, settings())
    gate.reconfigure(settings(sensitivity=0.8))
    assert gate.settings.sensitivity == 0.8
    assert run(gate, clock, [scene.frame([PERSON])])[0].why == Why.START
    assert run(gate, clock, [np.zeros((120, 160, 3), np.uint8)])[0].why == Why.START
    assert run(gate, clock, [np.zeros((120, 160, 3), np.uint8)])[0].why == Why.STILL


def test_gray_frames_work_like_color_ones():
    scene = Scene()
    color = [scene.frame()] + [scene.frame([box]) for box in walking(PERSON, STEP_RIGHT, 5)]
    gray = [cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) for frame in color]
    from_color = run(MotionGate(settings(), clock := FakeClock()), clock, color)
    from_gray = run(MotionGate(settings(), clock := FakeClock()), clock, gray)
    assert [d.why for d in from_gray] == [Why.START] + [Why.MOTION] * 5
    for a, b in zip(from_color, from_gray, strict=True):
        assert len(a.regions) == len(b.regions)
        assert all(iou(r[:4], q[:4]) > 0.9 for r, q in zip(a.regions, b.regions, strict=True))


def test_a_mask_over_everything_leaves_only_keep_alive():
    scene = Scene()
    everything = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
    gate, clock = started(scene, settings(masks=(everything,), keep_alive_s=1.0))
    decisions = run(gate, clock, [scene.frame([PERSON])] * 20)
    assert {d.why for d in decisions} == {Why.STILL, Why.KEEP_ALIVE}
    assert sum(d.passed for d in decisions) == 2


# --- settings ------------------------------------------------------------------------------------

def test_settings_take_camel_case_json_and_are_strict():
    config = validate_config(MotionSettings, {"minArea": 0.002, "keepAliveS": None, "backgroundS": 3,
                                              "masks": [[[0, 0], [0.5, 0], [0.5, 0.5]]]})
    assert config.min_area == 0.002 and config.keep_alive_s is None and config.background_s == 3.0
    assert config.masks == (((0.0, 0.0), (0.5, 0.0), (0.5, 0.5)),)
    assert MotionSettings().level_threshold == pytest.approx(25.5)
    with pytest.raises(ConfigError, match="sensitivity"):
        validate_config(MotionSettings, {"sensitivity": "0.9"})
    with pytest.raises(ConfigError, match="enabled"):
        validate_config(MotionSettings, {"enabled": 1})
    with pytest.raises(ConfigError, match="sensitivity"):
        validate_config(MotionSettings, {"sensitivity": 1.0})
    with pytest.raises(ConfigError, match="threshold"):
        validate_config(MotionSettings, {"threshold": 3})


@pytest.mark.parametrize(("mask", "reason"), [
    ([[0, 0], [1, 1], [1, 0], [0, 1]], "edges 0-1 and 2-3 cross"),
    ([[0, 0], [1.2, 0], [1, 1]], "less than or equal to 1"),
    ([[0, 0], [-0.1, 0.5], [1, 1]], "greater than or equal to 0"),
    ([[0, 0], [1, 1]], "at least 3"),
    ([[0, 0], [0.5, 0.5], [1, 1]], "no area"),
    ([[0, 0], ["0.5", 0], [1, 1]], "must be a number"),
])
def test_a_bad_mask_is_refused_with_the_reason(mask: list, reason: str):
    with pytest.raises(ConfigError, match="masks") as refused:
        validate_config(MotionSettings, {"masks": [mask]})
    assert reason in str(refused.value)


# --- the real video ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def vtest() -> list[np.ndarray]:
    return vtest_frames(count=120)  # 12 s of people walking across a campus


def test_vtest_people_walking_pass(vtest: list[np.ndarray]):
    clock = FakeClock()
    decisions = run(MotionGate(MotionSettings(), clock), clock, vtest, step_s=1 / VTEST_FPS)  # the defaults
    assert decisions[0].why == Why.START
    assert sum(d.why == Why.MOTION for d in decisions[1:]) >= 0.95 * len(decisions[1:])
    assert all(0 < d.regions[0].area < 0.1 for d in decisions if d.why == Why.MOTION)  # people, not the frame


def test_vtest_still_with_noise_and_a_slight_light_change_is_gated_but_for_keep_alive(vtest: list[np.ndarray]):
    still = noisy_stills(vtest[60], count=150, sigma=3.0)  # 15 s of a still scene
    brighter = [np.clip(frame.astype(np.float32) * 1.06, 0, 255).astype(np.uint8) for frame in still[80:]]
    clock = FakeClock()
    decisions = run(MotionGate(MotionSettings(), clock), clock, still[:80] + brighter, step_s=1 / VTEST_FPS)
    assert sum(not d.passed for d in decisions) >= 0.95 * len(decisions)
    every = round(MotionSettings().keep_alive_s * VTEST_FPS)  # the default keep-alive: 4 s, every 40th frame
    assert every == 40
    assert [(i, d.why) for i, d in enumerate(decisions) if d.passed] == \
        [(0, Why.START)] + [(i, Why.KEEP_ALIVE) for i in range(every, len(decisions), every)]


def test_vtest_walkers_under_a_mask_are_ignored(vtest: list[np.ndarray]):
    clock = FakeClock()
    first_half = run(MotionGate(MotionSettings(), clock), clock, vtest[:60], step_s=1 / VTEST_FPS)
    x1, y1, x2, y2 = union(tuple(r for d in first_half for r in d.regions))
    assert (x2 - x1) * (y2 - y1) < 0.6  # the people walk in part of the view only
    where_they_walk = ((x1, y1), (x2, y1), (x2, y2), (x1, y2))
    masked = MotionGate(MotionSettings(masks=(where_they_walk,), keep_alive_s=None), clock)
    decisions = run(masked, clock, vtest[:60], step_s=1 / VTEST_FPS)
    assert [d.why for d in decisions] == [Why.START] + [Why.STILL] * 59
