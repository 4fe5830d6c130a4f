"""What canary devices tell IoT Core, tallied over a window: the health evidence of a canary rollout.

Per device it listens to ``smartcam/<thing>/detections`` (a :class:`DetectionSummary` per inferred frame:
the model ``name@version`` that ran, its ``infer_ms``, how many detections) and to
``smartcam/<thing>/status/+`` (each component's problem reports, :class:`Health`). A window counts the
frames of one model version only, so frames the previous model inferred before the new one loaded are
not mistaken for the new one's. A summary counts the frames without detections before it too
(``frames``, when SsdInference does not summarise empty frames), so detections per frame are per
inferred frame either way; a summary from an older SsdInference without ``frames`` counts as one frame,
which is right only with ``iotSummary.includeEmpty: true``. Anything that does not parse is counted as
ignored, never trusted.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from fleet.canary_policy import WindowMetrics
from fleet.mqtt import Message
from smartcam import topics
from smartcam.contracts import ContractError, DetectionSummary, Health, parse

MAX_ERROR_DETAILS = 20


class Subscriber(Protocol):
    messages: queue.Queue[Message]

    def subscribe(self, topic_filter: str, qos: int = 1) -> None: ...


@dataclass
class _Tally:
    version: str
    models: set[str] = field(default_factory=set)
    frames: dict[str, int] = field(default_factory=dict)
    detections: int = 0
    infer_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_details: list[str] = field(default_factory=list)
    other_versions: dict[str, int] = field(default_factory=dict)
    ignored: int = 0


def model_version(model: str) -> str:
    """The version of a summary's ``name@version``."""
    return model.rsplit("@", 1)[-1]


class HealthWatch:
    """Subscribes to the canary devices' topics once, then tallies one window at a time."""

    def __init__(self, connection: Subscriber, things: list[str],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._connection = connection
        self._things = set(things)
        self._clock = clock

    def subscribe(self) -> None:
        for thing in sorted(self._things):
            self._connection.subscribe(topics.iot_detection_summary(thing), qos=0)
            self._connection.subscribe(topics.iot_component_status(thing, "+"), qos=0)

    def drain(self) -> int:
        """Forget what arrived before now (e.g. during a deployment); how many messages that was."""
        dropped = 0
        while True:
            try:
                self._connection.messages.get_nowait()
            except queue.Empty:
                return dropped
            dropped += 1

    def collect(self, seconds: float, version: str) -> tuple[WindowMetrics, str]:
        """Tally ``seconds`` of messages, counting frames of model ``version`` only. Returns the metrics
        and a line on what else arrived (frames of other versions, messages ignored)."""
        tally = _Tally(version, frames={thing: 0 for thing in self._things})
        started = self._clock()
        deadline = started + seconds
        while (left := deadline - self._clock()) > 0:
            try:
                message = self._connection.messages.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            self._take(tally, message)
        model = sorted(tally.models)[0] if tally.models else f"?@{version}"
        metrics = WindowMetrics(model=model, seconds=self._clock() - started, frames=tally.frames,
                                detections=tally.detections, infer_ms=tally.infer_ms, errors=tally.errors,
                                error_details=tally.error_details)
        others = ", ".join(f"{count} frames of {name}" for name, count in sorted(tally.other_versions.items()))
        notes = "; ".join(part for part in (others and f"not counted: {others}",
                                            tally.ignored and f"{tally.ignored} messages ignored") if part)
        return metrics, notes

    def _take(self, tally: _Tally, message: Message) -> None:
        parts = message.topic.split("/")
        thing = parts[1] if len(parts) >= 3 else ""
        if thing not in self._things:
            tally.ignored += 1
            return
        try:
            if message.topic == topics.iot_detection_summary(thing):
                self._take_summary(tally, thing, parse(DetectionSummary, message.payload))
            elif len(parts) == 4 and parts[2] == "status":
                self._take_status(tally, thing, parse(Health, message.payload))
            else:
                tally.ignored += 1
        except ContractError:
            tally.ignored += 1

    @staticmethod
    def _take_summary(tally: _Tally, thing: str, summary: DetectionSummary) -> None:
        if model_version(summary.model) != tally.version:
            tally.other_versions[summary.model] = tally.other_versions.get(summary.model, 0) + 1
            return
        tally.models.add(summary.model)
        tally.frames[thing] += summary.frames or 1  # with the frames not summarised before it
        tally.detections += summary.count
        tally.infer_ms.append(summary.infer_ms)

    @staticmethod
    def _take_status(tally: _Tally, thing: str, health: Health) -> None:
        tally.errors += 1 + health.counters.get("suppressed", 0)
        if len(tally.error_details) < MAX_ERROR_DETAILS:
            tally.error_details.append(f"{thing} {health.component} {health.state}: {health.detail or ''}".strip())
