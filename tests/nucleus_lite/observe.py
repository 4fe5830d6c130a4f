"""What an operator sees of a device over IoT Core: capture status replies (local_device.observe.
Operator) and the per-frame detection summaries SsdInference sends (``iotSummary``)."""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

from local_device.observe import new_client_id, operator_connection
from nucleus_lite.devices import ScenarioDevice
from smartcam import topics


@dataclass(frozen=True)
class Summary:
    frame_id: str
    request_id: str | None
    labels: dict[str, int]
    boxes: list[list[Any]]  # [label, score, x1, y1, x2, y2]

    @property
    def scores(self) -> list[float]:
        return [float(box[1]) for box in self.boxes]


class SummaryWatcher:
    def __init__(self, device: ScenarioDevice) -> None:
        self.connection = operator_connection(device, new_client_id("watcher"))  # type: ignore[arg-type]
        self.connection.subscribe(topics.iot_detection_summary(device.thing_name()))
        self._seen: list[Summary] = []
        self._lock = threading.Lock()

    def _drain(self, timeout: float) -> None:
        try:
            message = self.connection.messages.get(timeout=timeout)
        except queue.Empty:
            return
        body = json.loads(message.payload)
        with self._lock:
            self._seen.append(Summary(body["frame_id"], body.get("request_id"), body["labels"], body["boxes"]))

    def for_request(self, request_id: str) -> list[Summary]:
        with self._lock:
            return [s for s in self._seen if s.request_id == request_id]

    def wait(self, request_id: str, frames: int, timeout: float = 120.0, quiet: float = 20.0) -> list[Summary]:
        """The summaries of ``request_id`` once ``frames`` came (and no more for a moment), or after
        ``quiet`` seconds without a new one."""
        deadline = time.monotonic() + timeout
        count, changed = -1, time.monotonic()
        while time.monotonic() < deadline:
            self._drain(0.25)
            now = len(self.for_request(request_id))
            if now != count:
                count, changed = now, time.monotonic()
            elif time.monotonic() - changed > (1.0 if now >= frames else quiet):
                break
        return self.for_request(request_id)

    def close(self) -> None:
        self.connection.close()
