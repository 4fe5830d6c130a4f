"""The metrics the components put on ``cloudwatch/metric/put`` (``MetricPut``, the request format of AWS's
aws.greengrass.Cloudwatch), kept as short series for the page's charts. Thread-safe, bounded: at most
:data:`MAX_SERIES` series of ``points`` points each, in memory only.

A series is one metric name with one set of dimensions; the ``Thing`` dimension is left out of its
name (every metric here is of this device).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from smartcam.contracts import ContractError, MetricPut, parse

MAX_SERIES = 128
HIDDEN_DIMENSIONS = frozenset({"Thing"})


class MetricSeries:
    def __init__(self, points: Callable[[], int], clock: Callable[[], float] = time.time,
                 on_invalid: Callable[[], None] = lambda: None) -> None:
        """``on_invalid`` is told of every message that is not a MetricPut."""
        self._points = points
        self._on_invalid = on_invalid
        self._clock = clock
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str], tuple[str | None, deque[tuple[float, float]]]] = {}
        self.refused = 0

    def on_metric(self, _topic: str, payload: Any) -> None:
        """Handler of cloudwatch/metric/put. Never raises: a message that is not a MetricPut is counted."""
        try:
            put = parse(MetricPut, payload)
        except ContractError:
            with self._lock:
                self.refused += 1
            self._on_invalid()
            return
        datum = put.request.metric_data
        dimensions = ", ".join(f"{d.name}={d.value}" for d in datum.dimensions if d.name not in HIDDEN_DIMENSIONS)
        key = (datum.metric_name, dimensions)
        at = datum.timestamp if datum.timestamp is not None else self._clock()
        with self._lock:
            entry = self._series.get(key)
            if entry is None:
                if len(self._series) >= MAX_SERIES:
                    self.refused += 1
                    return
                entry = self._series[key] = (datum.unit, deque())
            points = entry[1]
            points.append((at, datum.value))
            while len(points) > self._points():
                points.popleft()

    def snapshot(self) -> list[dict[str, Any]]:
        """Every series, by name then dimensions: ``name``, ``dimensions``, ``unit``, ``points`` [[t, v], ...]."""
        with self._lock:
            return [{"name": name, "dimensions": dimensions, "unit": unit or "",
                     "points": [[round(t, 3), v] for t, v in sorted(points)]}
                    for (name, dimensions), (unit, points) in sorted(self._series.items())]
