"""A canary rollout of a new model (smartcam.SsdModelStore version): canary group first, watch, then
promote to the fleet group or roll the canary back.

1. baseline: the canary devices' health on the previous model for ``baselineS`` (or a recorded one);
2. deploy the document with the new SsdModelStore version to the canary group and wait for it;
3. watch the canary devices for ``watchS`` (frames of the new model version only);
4. :func:`fleet.canary_policy.decide`: promote (deploy the same document to the fleet group) or roll back
   (deploy the document as given, with the previous version, to the canary group again).

The document given is what the fleet runs now; the rollout changes only SsdModelStore's version in it.
The model's version in its ``model.json`` (what each detection summary names) must be the
component's version, as ``model_packaging`` packages a new SsdModelStore version.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleet.aws import FleetError
from fleet.canary_policy import CanaryThresholds, Check, Verdict, WindowMetrics, decide
from fleet.canary_watch import HealthWatch, model_version
from fleet.targets import DeploymentTarget

MODEL_STORE = "smartcam.SsdModelStore"
# Greengrass component versions: major.minor.patch, an optional pre-release and build (CreateDeployment's rule).
COMPONENT_VERSION = re.compile(r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?")

# Exit status of the rollout: promoted and the fleet deployed / rolled back / the fleet deployment failed /
# the rollback of the canary failed (it may still run the new model: look at it).
PROMOTED, ROLLED_BACK, FLEET_FAILED, ROLLBACK_FAILED = 0, 1, 3, 4


@dataclass(frozen=True)
class Rollout:
    document: dict[str, Any]
    new_version: str
    canary_group: str
    fleet_group: str
    thresholds: CanaryThresholds
    baseline: WindowMetrics | None = None  # recorded; None: measured on the canary devices first
    save_baseline: Path | None = None

    @property
    def previous_version(self) -> str:
        spec = self.document.get("components", {}).get(MODEL_STORE)
        if not isinstance(spec, dict) or not isinstance(spec.get("componentVersion"), str):
            raise FleetError(f"the document does not deploy {MODEL_STORE}: nothing to roll out a model into")
        return spec["componentVersion"]

    def new_document(self) -> dict[str, Any]:
        if COMPONENT_VERSION.fullmatch(self.new_version) is None or len(self.new_version) > 64:
            raise FleetError(f"model version {self.new_version!r} is not a component version (major.minor.patch)")
        if self.new_version == self.previous_version:
            raise FleetError(f"the document already deploys {MODEL_STORE} {self.new_version}: "
                             "pass the document the fleet runs now and the new version")
        document = copy.deepcopy(self.document)
        document["components"][MODEL_STORE]["componentVersion"] = self.new_version
        return document


WatchFactory = Callable[[list[str]], AbstractContextManager[HealthWatch]]


def run(rollout: Rollout, target: DeploymentTarget, watching: WatchFactory, echo: Callable[[str], None] = print) -> int:
    """The whole rollout; returns PROMOTED, ROLLED_BACK, FLEET_FAILED or ROLLBACK_FAILED."""
    previous, new = rollout.previous_version, rollout.new_version
    new_document = rollout.new_document()
    if rollout.baseline is not None and model_version(rollout.baseline.model) != previous:
        raise FleetError(f"the recorded baseline is of {rollout.baseline.model}, not of the version the document "
                         f"deploys ({previous}): record one of {previous}, or let the rollout measure it")
    thresholds = rollout.thresholds
    things = target.things(rollout.canary_group)
    if not things:
        raise FleetError(f"the canary group {rollout.canary_group} has no core devices")
    echo(f"canary rollout of {MODEL_STORE} {previous} -> {new}: canary {rollout.canary_group} "
         f"({', '.join(things)}), then {rollout.fleet_group}")
    with watching(things) as watch:
        baseline = rollout.baseline
        if baseline is None:
            echo(f"baseline: {previous} on the canary devices for {thresholds.baseline_s:g} s")
            baseline, notes = watch.collect(thresholds.baseline_s, previous)
            echo(describe("baseline", baseline) + (f" ({notes})" if notes else ""))
            if rollout.save_baseline is not None:
                baseline.save(rollout.save_baseline)
        else:
            echo(describe("baseline (recorded)", baseline))
        outcome = target.deploy(rollout.canary_group, new_document)
        echo(f"canary deployment of {new}: {'done' if outcome.succeeded else 'FAILED'}: {outcome.detail}")
        if outcome.succeeded:
            watch.drain()
            echo(f"watching the canary devices on {new} for {thresholds.watch_s:g} s")
            canary, notes = watch.collect(thresholds.watch_s, new)
            echo(describe("canary", canary) + (f" ({notes})" if notes else ""))
            verdict = decide(canary, baseline, things, thresholds)
        else:
            verdict = Verdict(False, [Check("deployment", False, outcome.detail)])
    for line in verdict.lines():
        echo(line)
    if not verdict.promote:
        back = target.deploy(rollout.canary_group, rollout.document)
        echo(f"rollback of {rollout.canary_group} to {previous}: {'done' if back.succeeded else 'FAILED'}: "
             f"{back.detail}")
        return ROLLED_BACK if back.succeeded else ROLLBACK_FAILED
    fleet = target.deploy(rollout.fleet_group, new_document)
    echo(f"fleet deployment of {new} to {rollout.fleet_group}: {'done' if fleet.succeeded else 'FAILED'}: "
         f"{fleet.detail}")
    return PROMOTED if fleet.succeeded else FLEET_FAILED


def describe(label: str, metrics: WindowMetrics) -> str:
    rate = metrics.detection_rate
    mean = metrics.latency_mean_ms
    return (f"{label}: {metrics.model}, {metrics.total_frames} frames in {metrics.seconds:.0f} s "
            f"({', '.join(f'{t} {n}' for t, n in sorted(metrics.frames.items()))}), "
            f"{'-' if rate is None else f'{rate:.2f}'} detections per frame, "
            f"infer {'-' if mean is None else f'{mean:.1f}'} ms mean, {metrics.errors} errors")
