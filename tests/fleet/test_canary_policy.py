"""The canary's verdict: each threshold on its own, missing data never promotes, and the reasons say
which numbers failed against which limits. Thresholds and recorded baselines are validated strictly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleet.canary_policy import CanaryThresholds, PolicyError, WindowMetrics, decide

DEVICES = ["cam-1", "cam-2"]
THRESHOLDS = CanaryThresholds.from_values({"minFramesPerDevice": 10})


def window(model: str = "ssd@1.1.0", frames: tuple[int, int] = (20, 20), detections_per_frame: float = 1.0,
           infer_ms: float = 40.0, errors: int = 0) -> WindowMetrics:
    total = sum(frames)
    return WindowMetrics(model=model, seconds=30.0, frames=dict(zip(DEVICES, frames, strict=True)),
                         detections=round(total * detections_per_frame), infer_ms=[infer_ms] * total, errors=errors,
                         error_details=[f"cam-1 smartcam.SsdInference errored: unusable {i}" for i in range(errors)])


BASELINE = window(model="ssd@1.0.0")


def failed(verdict) -> dict[str, str]:
    return {check.name: check.detail for check in verdict.checks if not check.passed}


def test_a_canary_as_good_as_the_baseline_is_promoted_and_every_check_is_shown() -> None:
    verdict = decide(window(), BASELINE, DEVICES, THRESHOLDS)
    assert verdict.promote and verdict.reasons == []
    assert [check.name for check in verdict.checks] == ["data", "errors", "latency", "detection rate"]
    assert verdict.lines()[-1] == "decision: PROMOTE to the fleet (every check passed)"
    assert "mean 40.0 ms vs baseline 40.0 ms: +0.0 % (allowed +50.0 %)" in verdict.lines()[2]


def test_errors_above_the_limit_roll_back_and_name_the_reports() -> None:
    verdict = decide(window(errors=2), BASELINE, DEVICES, THRESHOLDS)
    assert not verdict.promote
    assert failed(verdict) == {"errors": "2 reported (allowed 0): cam-1 smartcam.SsdInference errored: unusable 0; "
                                         "cam-1 smartcam.SsdInference errored: unusable 1"}
    assert decide(window(errors=2), BASELINE, DEVICES, THRESHOLDS.model_copy(update={"max_errors": 2})).promote


def test_latency_beyond_the_allowed_increase_rolls_back() -> None:
    slow = window(infer_ms=61.0)  # +52.5 % > +50 %
    assert failed(decide(slow, BASELINE, DEVICES, THRESHOLDS)) == {
        "latency": "mean 61.0 ms vs baseline 40.0 ms: +52.5 % (allowed +50.0 %); p95 61.0 ms vs 40.0 ms"}
    assert decide(window(infer_ms=59.0), BASELINE, DEVICES, THRESHOLDS).promote


def test_a_detection_rate_that_collapses_rolls_back() -> None:
    verdict = decide(window(detections_per_frame=0.5), BASELINE, DEVICES, THRESHOLDS)
    assert failed(verdict) == {
        "detection rate": "0.50 per frame vs baseline 1.00: -50.0 % (allowed -30.0 % .. +100.0 %)"}
    assert "ROLL BACK the canary (detection rate: 0.50 per frame" in verdict.lines()[-1]
    assert decide(window(detections_per_frame=0.75), BASELINE, DEVICES, THRESHOLDS).promote


def test_a_detection_rate_that_explodes_rolls_back_unless_unchecked() -> None:
    garbage = window(detections_per_frame=7.0)  # e.g. boxes decoded against shuffled anchors
    assert "+600.0 %" in failed(decide(garbage, BASELINE, DEVICES, THRESHOLDS))["detection rate"]
    unchecked = CanaryThresholds.from_values({"minFramesPerDevice": 10, "maxDetectionRateRise": None})
    assert decide(garbage, BASELINE, DEVICES, unchecked).promote


@pytest.mark.parametrize(("frames", "short"), [((20, 9), "cam-2 9"), ((0, 20), "cam-1 0")])
def test_too_few_frames_from_any_canary_device_is_no_promotion(frames, short) -> None:
    verdict = decide(window(frames=frames), BASELINE, DEVICES, THRESHOLDS)
    assert not verdict.promote
    assert failed(verdict)["data"] == (f"too few frames from ssd@1.1.0 in 30 s (need 10 per device): {short}")


def test_a_canary_device_that_sent_nothing_at_all_is_no_promotion() -> None:
    metrics = WindowMetrics(model="?@1.1.0", seconds=30.0, frames={"cam-1": 20}, detections=20, infer_ms=[40.0] * 20)
    assert "cam-2 0" in failed(decide(metrics, BASELINE, DEVICES, THRESHOLDS))["data"]
    assert not decide(metrics, BASELINE, [], THRESHOLDS).promote


def test_no_canary_frames_cannot_be_compared_and_is_no_promotion() -> None:
    empty = WindowMetrics(model="?@1.1.0", seconds=30.0, frames={"cam-1": 0, "cam-2": 0}, detections=0, infer_ms=[])
    reasons = failed(decide(empty, BASELINE, DEVICES, THRESHOLDS))
    assert set(reasons) == {"data", "latency", "detection rate"}
    assert reasons["latency"].startswith("cannot compare")


@pytest.mark.parametrize("baseline", [None, window(model="ssd@1.0.0", frames=(0, 0))])
def test_no_baseline_is_no_promotion(baseline) -> None:
    verdict = decide(window(), baseline, DEVICES, THRESHOLDS)
    assert failed(verdict) == {"baseline": "no baseline frames of the previous model to compare with"}


def test_a_baseline_that_detected_nothing_gives_no_reference() -> None:
    verdict = decide(window(), window(model="ssd@1.0.0", detections_per_frame=0.0), DEVICES, THRESHOLDS)
    assert failed(verdict)["detection rate"].startswith("the baseline detected nothing (40 frames)")


def test_p95_is_the_nearest_rank() -> None:
    metrics = WindowMetrics(model="m@1", seconds=1.0, frames={"a": 20}, detections=0,
                            infer_ms=[float(i) for i in range(1, 21)])
    assert metrics.latency_p95_ms == 19.0 and metrics.latency_mean_ms == 10.5


def test_thresholds_have_defaults_and_take_camel_case_keys() -> None:
    defaults = CanaryThresholds()
    assert (defaults.watch_s, defaults.baseline_s, defaults.min_frames, defaults.max_errors) == (600.0, 300.0, 50, 0)
    assert CanaryThresholds.from_values({"watchS": 5, "maxErrors": 3}).watch_s == 5.0


@pytest.mark.parametrize(("values", "problem"), [
    ({"watchS": "600"}, "watchS: must be a number"),
    ({"watchS": 0}, "watchS: must be greater than 0"),
    ({"baselineS": float("inf")}, "baselineS: must be a finite number"),
    ({"minFramesPerDevice": 0}, "minFramesPerDevice: must be greater than or equal to 1"),
    ({"minFramesPerDevice": 2.5}, "minFramesPerDevice: must be a whole number"),
    ({"maxErrors": -1}, "maxErrors: must be greater than or equal to 0"),
    ({"maxErrors": True}, "maxErrors: must be a whole number"),
    ({"maxDetectionRateDrop": 1.5}, "maxDetectionRateDrop: must be less than or equal to 1"),
    ({"maxLatencyIncrease": -0.1}, "maxLatencyIncrease: must be greater than or equal to 0"),
    ({"watch_s": 5}, "watch_s: unknown key"),
])
def test_invalid_thresholds_are_refused_naming_the_key(values, problem) -> None:
    with pytest.raises(PolicyError, match="invalid canary thresholds") as raised:
        CanaryThresholds.from_values(values)
    assert problem in str(raised.value)


def test_thresholds_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "thresholds.json"
    path.write_text(json.dumps({"watchS": 30, "maxDetectionRateDrop": 0.1}))
    assert CanaryThresholds.from_file(path).max_detection_rate_drop == 0.1
    path.write_text("[1]")
    with pytest.raises(PolicyError, match="the thresholds are a JSON object"):
        CanaryThresholds.from_file(path)
    with pytest.raises(PolicyError, match="cannot read"):
        CanaryThresholds.from_file(tmp_path / "missing.json")


def test_a_recorded_baseline_round_trips_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    BASELINE.save(path)
    assert WindowMetrics.load(path) == BASELINE
    path.write_text(json.dumps({**json.loads(path.read_text()), "detections": "40"}))
    with pytest.raises(PolicyError, match="detections: must be a whole number"):
        WindowMetrics.load(path)
