"""A component's metrics for CloudWatch, through AWS's ``aws.greengrass.Cloudwatch`` component.

Every ``metrics.intervalS`` seconds (:class:`MetricsSettings`; 0 turns them off) :class:`Metrics`
publishes one :class:`~smartcam.contracts.MetricPut` per metric on ``cloudwatch/metric/put``, all of a
round with the same timestamp, dimensions ``Thing``, ``Component`` and, where a metric is per camera,
``Camera`` (latencies add ``Stage``). A component declares its metrics once:

- :meth:`Metrics.total`: a running total (a telemetry counter, frames a camera took): the increase
  since the previous round is published (``Count``), 0 included, so a silent camera shows as 0;
- :meth:`Metrics.level`: a value as it is now (spool depth, events open), in its unit;
- :meth:`Metrics.observe`: one latency sample of a stage; each round publishes ``LatencyP50`` and
  ``LatencyP95`` (``Milliseconds``) of the samples since the previous round, when there were any;
- ``Errors``, always: the increase of every telemetry counter named as an error (:data:`ERROR_COUNTER`).

A metric that cannot be read or published is logged and counted (``metricsUnsent``, not itself an
error counter, so a missing Cloudwatch component does not raise ``Errors``); the loop goes on.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Annotated

from pydantic import Field, field_validator

from smartcam import topics
from smartcam.config import ComponentConfig
from smartcam.contracts.metrics import Dimension, MetricDatum, MetricPut, MetricRequest, Namespace, Unit
from smartcam.ipc import Ipc
from smartcam.telemetry import Telemetry

log = logging.getLogger(__name__)

#: Telemetry counters whose increase is published as ``Errors``: internalErrors, publishErrors,
#: messagesInvalid, framesLost, snapshotFailed, statusError, eventsSpoolUnavailable, ...
ERROR_COUNTER = re.compile(r"^[a-z][a-zA-Z0-9]*(Error|Errors|Failures|Failed|Invalid|Lost|Unavailable)$")
MAX_SAMPLES = 4096  # per stage and round: enough for p95 at 60 fps over a minute, bounded memory
PERCENTILES = {"LatencyP50": 50.0, "LatencyP95": 95.0}

# What a reading returns: one value for the component (key None) or one per camera id.
Reading = Mapping[str | None, float]


class MetricsSettings(ComponentConfig):
    """Metrics for CloudWatch, on `cloudwatch/metric/put` for AWS's `aws.greengrass.Cloudwatch`."""

    interval_s: Annotated[float, Field(ge=0, le=3600)] = Field(
        60.0, description="Seconds between two rounds of metrics (each metric once a round); 0 turns them off. "
        "At least 1 when on."
    )
    namespace: Namespace = Field(
        "SmartCam", description="CloudWatch namespace of the metrics (not starting with `AWS/`): the "
        "`MetricsNamespace` of the thing group's `infrastructure/fleet.yaml` stack (default `SmartCam`), which the "
        "devices may put metrics in and its dashboard and alarms read."
    )

    @field_validator("interval_s")
    @classmethod
    def _off_or_a_second(cls, value: float) -> float:
        if 0 < value < 1:
            raise ValueError("must be 0 (off) or at least 1")
        return value


def percentile(samples: list[float], pct: float) -> float:
    """Nearest-rank percentile of ``samples`` (not empty): a value that was observed."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[rank - 1]


class Metrics:
    """One component's metrics; :meth:`start` publishes them every ``settings().interval_s``."""

    def __init__(self, ipc: Ipc, telemetry: Telemetry, thing: str, settings: Callable[[], MetricsSettings],
                 *, clock: Callable[[], float] = time.time) -> None:
        self._ipc = ipc
        self._telemetry = telemetry
        self._settings = settings
        self._clock = clock
        self._base = [Dimension(name="Thing", value=thing), Dimension(name="Component", value=telemetry.component)]
        self._totals: list[tuple[str, Callable[[], Reading]]] = []
        self._levels: list[tuple[str, Unit, Callable[[], Reading]]] = []
        self._previous: dict[tuple[str, str | None], float] = {}
        self._samples: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.total("Errors", self._errors)

    # what a component declares ------------------------------------------------------------------
    def total(self, metric: str, read: Callable[[], Reading]) -> None:
        self._totals.append((metric, read))

    def counter(self, metric: str, counter: str) -> None:
        """The telemetry counter ``counter`` as the total ``metric``."""
        counters = self._telemetry.counters
        self.total(metric, lambda: {None: counters[counter]})

    def level(self, metric: str, unit: Unit, read: Callable[[], Reading | float | None]) -> None:
        def reading() -> Reading:
            value = read()
            return {} if value is None else {None: value} if isinstance(value, int | float) else value
        self._levels.append((metric, unit, reading))

    def observe(self, stage: str, milliseconds: float) -> None:
        if not math.isfinite(milliseconds) or milliseconds < 0:
            return
        with self._lock:
            samples = self._samples.get(stage)
            if samples is None:
                samples = self._samples[stage] = deque(maxlen=MAX_SAMPLES)
            samples.append(milliseconds)

    # one round ----------------------------------------------------------------------------------------
    def collect(self) -> list[MetricPut]:
        """This round's metrics; moves the totals' baselines and empties the latency windows."""
        namespace, now = self._settings().namespace, self._clock()
        data: list[MetricDatum] = []
        for metric, read in self._totals:
            for camera, total in self._read(metric, read).items():
                previous = self._previous.get((metric, camera), 0)
                self._previous[(metric, camera)] = total
                # a total that went down was restarted (a new source): it counts from 0 again
                data.append(self._datum(metric, "Count", total - previous if total >= previous else total, now,
                                        camera=camera))
        for metric, unit, read in self._levels:
            data += [self._datum(metric, unit, value, now, camera=camera)
                     for camera, value in self._read(metric, read).items()]
        with self._lock:
            windows = {stage: list(samples) for stage, samples in self._samples.items() if samples}
            self._samples.clear()
        for stage, samples in sorted(windows.items()):
            data += [self._datum(name, "Milliseconds", percentile(samples, pct), now, stage=stage)
                     for name, pct in PERCENTILES.items()]
        return [MetricPut(request=MetricRequest(namespace=namespace, metric_data=d)) for d in data]

    def publish(self) -> int:
        """Collect and publish this round; how many metrics went out."""
        sent = 0
        for message in self.collect():
            try:
                self._ipc.publish(topics.CLOUDWATCH_METRIC_PUT, message)
                sent += 1
            except Exception as exc:  # noqa: BLE001 - metrics are best effort; health tells
                self._telemetry.count("metricsUnsent")
                log.warning("metric %s not published: %s", message.request.metric_data.metric_name, exc)
                break
        return sent

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="metrics", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    # internals ----------------------------------------------------------------------------------------
    def _run(self) -> None:
        """A round every interval after the previous one (the first one interval after start), on a fixed
        schedule that does not drift; the settings are looked at every second, so a new interval (or
        turning metrics on or off) applies at once, counted from the previous round."""
        previous = time.monotonic()
        while True:
            interval = self._settings().interval_s
            now = time.monotonic()
            if not interval:
                previous = now
            elif now >= previous + interval:
                # on schedule; after a stall longer than an interval, the schedule starts again from now
                previous = previous + interval if now - previous < 2 * interval else now
                self._round()
                continue
            if self._stop.wait(min(1.0, previous + interval - now) if interval else 1.0):
                return

    def _round(self) -> None:
        try:
            self.publish()
        except Exception:
            log.exception("collecting the metrics failed")
            self._telemetry.count("metricsUnsent")

    def _read(self, metric: str, read: Callable[[], Reading]) -> Reading:
        try:
            reading = read()
        except Exception:
            log.exception("reading metric %s failed", metric)
            self._telemetry.count("metricsUnsent")
            return {}
        return {camera: value for camera, value in reading.items() if math.isfinite(value)}

    def _errors(self) -> Reading:
        return {None: sum(v for name, v in self._telemetry.counters.snapshot().items() if ERROR_COUNTER.match(name))}

    def _datum(self, metric: str, unit: Unit, value: float, now: float, *, camera: str | None = None,
               stage: str | None = None) -> MetricDatum:
        dimensions = list(self._base)
        if camera is not None:
            dimensions.append(Dimension(name="Camera", value=camera))
        if stage is not None:
            dimensions.append(Dimension(name="Stage", value=stage))
        return MetricDatum(metric_name=metric, dimensions=dimensions, timestamp=now, value=float(value), unit=unit)
