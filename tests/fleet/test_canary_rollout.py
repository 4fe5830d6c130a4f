"""The canary rollout with a fake deployment target and fake IoT Core messages: the health window counts
the new model's frames only, the rollout promotes to the fleet or rolls the canary back, and a failed
canary deployment never reaches the fleet."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from fleet import canary
from fleet.aws import FleetError
from fleet.canary_policy import CanaryThresholds, WindowMetrics
from fleet.canary_watch import HealthWatch
from fleet.mqtt import Message
from fleet.targets import Outcome
from tests.fleet.canary_fakes import THING, FakeConnection, status, summary

DOCUMENT = {"targetArn": "arn:aws:iot:eu-west-1:000000000000:thinggroup/smartcam-dev",
            "components": {"smartcam.SsdModelStore": {"componentVersion": "1.0.0"},
                           "smartcam.SsdInference": {"componentVersion": "1.0.0"}}}
THRESHOLDS = CanaryThresholds.from_values({"watchS": 1, "baselineS": 1, "minFramesPerDevice": 2})


def ticking() -> Any:
    """A clock that advances 0.1 s per reading: a window of 1 s takes ten readings."""
    counter = itertools.count()
    return lambda: next(counter) * 0.1


def test_the_watch_subscribes_per_device_and_counts_only_the_model_version_asked_for() -> None:
    connection = FakeConnection()
    watch = HealthWatch(connection, [THING], clock=ticking())
    watch.subscribe()
    assert connection.subscribed == [f"smartcam/{THING}/detections", f"smartcam/{THING}/status/+"]
    for message in (summary("1.0.0", 1), summary("1.1.0", 3, 50.0, frames=3), summary("1.1.0", 0, 30.0), status("boom"),
                    summary("1.1.0", 9, thing="someone-else"), Message(f"smartcam/{THING}/detections", b"{not json")):
        connection.messages.put(message)
    metrics, notes = watch.collect(1.0, "1.1.0")
    # the first summary of 1.1.0 also stands for 2 frames without detections before it (not summarised)
    assert (metrics.model, metrics.frames, metrics.detections, metrics.infer_ms) == ("ssd@1.1.0", {THING: 4}, 3,
                                                                                     [50.0, 30.0])
    assert metrics.detection_rate == 0.75
    assert metrics.errors == 3 and metrics.error_details == [f"{THING} smartcam.SsdInference errored: boom"]
    assert notes == "not counted: 1 frames of ssd@1.0.0; 2 messages ignored"


class FakeTarget:
    def __init__(self, connection: FakeConnection, after_canary: list[Message], canary_ok: bool = True,
                 rollback_ok: bool = True) -> None:
        self.connection = connection
        self.after_canary = after_canary
        self.canary_ok = canary_ok
        self.rollback_ok = rollback_ok
        self.deployed: list[tuple[str, str]] = []

    def things(self, group: str) -> list[str]:
        return [THING]

    def deploy(self, group: str, document: dict[str, Any]) -> Outcome:
        version = document["components"]["smartcam.SsdModelStore"]["componentVersion"]
        self.deployed.append((group, version))
        if group == "canary" and version == "1.1.0":
            self.connection.messages.put(summary("1.0.0", 1))  # heard during the deployment: drained
            if not self.canary_ok:
                return Outcome(False, "cam-1 FAILED (component smartcam.SsdInference BROKEN)")
            self.connection.messages.later = list(self.after_canary)  # the new model's first frames
        if group == "canary" and version == "1.0.0" and not self.rollback_ok:
            return Outcome(False, "cam-1 TIMED_OUT")
        return Outcome(True, f"{group} on {version}")


def rollout_with(after_canary: list[Message], canary_ok: bool = True, rollback_ok: bool = True,
                 baseline: WindowMetrics | None = None) -> tuple[int, FakeTarget, list[str]]:
    connection = FakeConnection()
    for _ in range(4):
        connection.messages.put(summary("1.0.0", 1, 40.0))  # the baseline: 1 person per frame, 40 ms
    target = FakeTarget(connection, after_canary, canary_ok, rollback_ok)

    @contextmanager
    def watching(things: list[str]) -> Iterator[HealthWatch]:
        watch = HealthWatch(connection, things, clock=ticking())
        watch.subscribe()
        yield watch

    lines: list[str] = []
    rollout = canary.Rollout(copy.deepcopy(DOCUMENT), "1.1.0", "canary", "fleet", THRESHOLDS, baseline=baseline)
    return canary.run(rollout, target, watching, echo=lines.append), target, lines


def test_a_good_model_is_promoted_to_the_fleet() -> None:
    code, target, lines = rollout_with([summary("1.1.0", 1, 42.0) for _ in range(4)])
    assert code == canary.PROMOTED
    assert target.deployed == [("canary", "1.1.0"), ("fleet", "1.1.0")]
    assert "decision: PROMOTE to the fleet (every check passed)" in lines
    assert any(line.startswith("baseline: ssd@1.0.0, 4 frames") for line in lines)


def test_a_model_whose_detections_explode_is_rolled_back_and_never_reaches_the_fleet() -> None:
    code, target, lines = rollout_with([summary("1.1.0", 7, 41.0) for _ in range(4)])
    assert code == canary.ROLLED_BACK
    assert target.deployed == [("canary", "1.1.0"), ("canary", "1.0.0")]
    decision = next(line for line in lines if line.startswith("decision:"))
    assert decision == ("decision: ROLL BACK the canary (detection rate: 7.00 per frame vs baseline 1.00: "
                        "+600.0 % (allowed -30.0 % .. +100.0 %))")


def test_a_canary_that_sends_nothing_is_rolled_back() -> None:
    code, target, lines = rollout_with([])
    assert code == canary.ROLLED_BACK and target.deployed[-1] == ("canary", "1.0.0")
    assert "too few frames from ?@1.1.0" in next(line for line in lines if line.startswith("decision:"))


def test_a_failed_canary_deployment_is_rolled_back_without_watching() -> None:
    code, target, lines = rollout_with([], canary_ok=False)
    assert code == canary.ROLLED_BACK and target.deployed == [("canary", "1.1.0"), ("canary", "1.0.0")]
    assert not any(line.startswith("watching") for line in lines)
    assert "deployment: cam-1 FAILED" in lines[-2]


@pytest.mark.parametrize(("version", "problem"), [("1.0.0", "already deploys"), ("next", "not a component version")])
def test_a_version_that_is_no_new_component_version_is_refused(version: str, problem: str) -> None:
    with pytest.raises(FleetError, match=problem):
        canary.Rollout(DOCUMENT, version, "canary", "fleet", THRESHOLDS).new_document()


def test_a_rollback_that_fails_has_its_own_exit_status() -> None:
    code, target, lines = rollout_with([summary("1.1.0", 7) for _ in range(4)], rollback_ok=False)
    assert code == canary.ROLLBACK_FAILED and target.deployed[-1] == ("canary", "1.0.0")
    assert lines[-1] == "rollback of canary to 1.0.0: FAILED: cam-1 TIMED_OUT"


def test_a_recorded_baseline_is_used_instead_of_measuring_and_must_be_of_the_previous_version() -> None:
    recorded = WindowMetrics(model="ssd@1.0.0", seconds=300.0, frames={THING: 100}, detections=100,
                             infer_ms=[40.0] * 100)
    code, _, lines = rollout_with([summary("1.1.0", 1) for _ in range(4)], baseline=recorded)
    assert code == canary.PROMOTED
    assert lines[1] == ("baseline (recorded): ssd@1.0.0, 100 frames in 300 s (cam-1 100), 1.00 detections per "
                        "frame, infer 40.0 ms mean, 0 errors")
    with pytest.raises(FleetError, match=r"the recorded baseline is of ssd@0.9.0, not of .* \(1.0.0\)"):
        rollout_with([], baseline=recorded.model_copy(update={"model": "ssd@0.9.0"}))
