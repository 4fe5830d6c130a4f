"""The canary's verdict: promote or roll back, from what the canary devices reported against a baseline.

Pure logic, no I/O: :func:`decide` compares the canary window's :class:`WindowMetrics` with the
baseline's (the previous model on the same devices, measured just before the rollout or recorded) under
:class:`CanaryThresholds`, and says why in numbers. Anything it cannot judge (a device that sent too
few frames, no baseline to compare with) is a reason not to promote: promotion needs evidence.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from smartcam.contracts.base import describe_problems

Seconds = Annotated[float, Field(gt=0, le=7 * 24 * 3600, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Increase = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
Frames = Annotated[int, Field(ge=1, le=10**9)]


class PolicyError(ValueError):
    """Thresholds or a recorded baseline that do not validate; ``str()`` names every problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class CanaryThresholds(_Strict):
    """How long to watch and what the canary must meet. JSON keys are camelCase (like the components'
    configuration); every value is checked strictly (a string is never read as a number)."""

    watch_s: Seconds = Field(600.0, alias="watchS")
    baseline_s: Seconds = Field(300.0, alias="baselineS")
    min_frames: Frames = Field(50, alias="minFramesPerDevice")
    max_errors: Annotated[int, Field(ge=0, le=10**9)] = Field(0, alias="maxErrors")
    max_latency_increase: Increase = Field(0.5, alias="maxLatencyIncrease")
    max_detection_rate_drop: Fraction = Field(0.3, alias="maxDetectionRateDrop")
    # a broken model may also find far too much (boxes decoded against the wrong anchors); null: unchecked
    max_detection_rate_rise: Increase | None = Field(1.0, alias="maxDetectionRateRise")

    @classmethod
    def from_values(cls, values: dict[str, object]) -> CanaryThresholds:
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise PolicyError("invalid canary thresholds: " + describe_problems(exc, separator=".", root="thresholds",
                                                                                limit=10)) from None

    @classmethod
    def from_file(cls, path: Path) -> CanaryThresholds:
        try:
            values = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PolicyError(f"cannot read the thresholds {path}: {exc}") from None
        if not isinstance(values, dict):
            raise PolicyError(f"{path}: the thresholds are a JSON object")
        return cls.from_values(values)


class WindowMetrics(_Strict):
    """What the devices reported in one window for one model (``name@version``)."""

    model: str
    seconds: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    frames: dict[str, Annotated[int, Field(ge=0)]]  # per device (thing name)
    detections: Annotated[int, Field(ge=0)]
    infer_ms: Annotated[list[Annotated[float, Field(ge=0, allow_inf_nan=False)]], Field(max_length=10**6)]
    errors: Annotated[int, Field(ge=0)] = 0
    error_details: list[str] = Field(default_factory=list)

    @property
    def total_frames(self) -> int:
        return sum(self.frames.values())

    @property
    def detection_rate(self) -> float | None:
        """Detections per inferred frame."""
        return self.detections / self.total_frames if self.total_frames else None

    @property
    def latency_mean_ms(self) -> float | None:
        return sum(self.infer_ms) / len(self.infer_ms) if self.infer_ms else None

    @property
    def latency_p95_ms(self) -> float | None:
        if not self.infer_ms:
            return None
        ordered = sorted(self.infer_ms)
        return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> WindowMetrics:
        try:
            return cls.model_validate_json(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise PolicyError(f"cannot read the recorded baseline {path}: {exc}") from None
        except ValidationError as exc:
            raise PolicyError(f"{path}: invalid baseline: "
                              + describe_problems(exc, separator=".", root="baseline")) from None


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str

    def line(self) -> str:
        return f"  {'ok  ' if self.passed else 'FAIL'} {self.name:<15} {self.detail}"


@dataclass(frozen=True)
class Verdict:
    promote: bool
    checks: list[Check] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        """Why it is not promoted (empty when it is)."""
        return [f"{check.name}: {check.detail}" for check in self.checks if not check.passed]

    def lines(self) -> list[str]:
        decision = "PROMOTE to the fleet" if self.promote else "ROLL BACK the canary"
        why = "every check passed" if self.promote else "; ".join(self.reasons)
        return [*(check.line() for check in self.checks), f"decision: {decision} ({why})"]


def _percent(value: float) -> str:
    return f"{value * 100:+.1f} %"


def _check_data(canary: WindowMetrics, devices: list[str], thresholds: CanaryThresholds) -> Check:
    short = {thing: canary.frames.get(thing, 0) for thing in devices
             if canary.frames.get(thing, 0) < thresholds.min_frames}
    if not devices:
        return Check("data", False, "no canary device to judge")
    if short:
        listed = ", ".join(f"{thing} {count}" for thing, count in sorted(short.items()))
        return Check("data", False, f"too few frames from {canary.model} in {canary.seconds:.0f} s "
                                    f"(need {thresholds.min_frames} per device): {listed}")
    return Check("data", True, f"{canary.total_frames} frames from {len(devices)} device(s) in {canary.seconds:.0f} s")


def _check_errors(canary: WindowMetrics, thresholds: CanaryThresholds) -> Check:
    detail = f"{canary.errors} reported (allowed {thresholds.max_errors})"
    if canary.error_details:
        detail += ": " + "; ".join(canary.error_details[:3])
    return Check("errors", canary.errors <= thresholds.max_errors, detail)


def _check_latency(canary: WindowMetrics, baseline: WindowMetrics, thresholds: CanaryThresholds) -> Check:
    new, old = canary.latency_mean_ms, baseline.latency_mean_ms
    if new is None or old is None or old <= 0:
        return Check("latency", False, f"cannot compare (canary {new}, baseline {old} ms mean)")
    change = new / old - 1
    return Check("latency", change <= thresholds.max_latency_increase,
                 f"mean {new:.1f} ms vs baseline {old:.1f} ms: {_percent(change)} "
                 f"(allowed {_percent(thresholds.max_latency_increase)}); p95 {canary.latency_p95_ms:.1f} ms "
                 f"vs {baseline.latency_p95_ms:.1f} ms")


def _check_detection_rate(canary: WindowMetrics, baseline: WindowMetrics, thresholds: CanaryThresholds) -> Check:
    new, old = canary.detection_rate, baseline.detection_rate
    if new is None or old is None:
        return Check("detection rate", False, f"cannot compare (canary {new}, baseline {old} per frame)")
    if old == 0:
        return Check("detection rate", False, f"the baseline detected nothing ({baseline.total_frames} frames): "
                                              "no reference to judge the new model by")
    change = new / old - 1
    detail = (f"{new:.2f} per frame vs baseline {old:.2f}: {_percent(change)} "
              f"(allowed {_percent(-thresholds.max_detection_rate_drop)}")
    passed = change >= -thresholds.max_detection_rate_drop
    if thresholds.max_detection_rate_rise is not None:
        detail += f" .. {_percent(thresholds.max_detection_rate_rise)}"
        passed = passed and change <= thresholds.max_detection_rate_rise
    return Check("detection rate", passed, detail + ")")


def decide(canary: WindowMetrics, baseline: WindowMetrics | None, devices: list[str],
           thresholds: CanaryThresholds) -> Verdict:
    """Promote only if every canary device sent enough frames of the new model and errors, latency and
    detection rate are within the thresholds of the baseline. Every check is reported either way."""
    checks = [_check_data(canary, devices, thresholds), _check_errors(canary, thresholds)]
    if baseline is None or baseline.total_frames == 0:
        checks.append(Check("baseline", False, "no baseline frames of the previous model to compare with"))
    else:
        checks += [_check_latency(canary, baseline, thresholds),
                   _check_detection_rate(canary, baseline, thresholds)]
    return Verdict(all(check.passed for check in checks), checks)
