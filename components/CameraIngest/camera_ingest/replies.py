"""Status replies to capture commands, on IoT Core (this device's status topic) and local pub/sub.

A reply that cannot be sent is logged and counted, never raised: the capture goes on. Each reply is
counted by state (``statusAccepted``, ``statusFinished``, ...) in the component's telemetry.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Literal

from smartcam import topics
from smartcam.contracts import CaptureStatus, FrameAccounting
from smartcam.ipc import Ipc
from smartcam.telemetry import Counters, camel

log = logging.getLogger(__name__)

State = Literal["accepted", "rejected", "progress", "finished", "error"]
TERMINAL: frozenset[str] = frozenset({"rejected", "finished", "error"})
MAX_REASON = 1024


class CaptureReplies:
    def __init__(self, ipc: Ipc, thing_name: str, counters: Counters) -> None:
        self._ipc = ipc
        self.iot_topic = topics.iot_capture_status(thing_name)
        self._counters = counters
        self.last_error: str | None = None
        self._lock = threading.Lock()

    def send(
        self,
        state: State,
        *,
        request_id: str | None = None,
        camera_id: str | None = None,
        reason: str | None = None,
        frames_captured: int | None = None,
        frames_requested: int | None = None,
        frames_gated: int | None = None,
        accounting: FrameAccounting | None = None,
    ) -> bool:
        """Publish the status locally and to IoT Core; True when both took it (a failure is logged and
        counted: the caller of a final status keeps it to send again)."""
        if reason is not None and len(reason) > MAX_REASON:
            reason = reason[: MAX_REASON - 3] + "..."
        status = CaptureStatus(state=state, request_id=request_id, camera_id=camera_id, reason=reason,
                               frames_captured=frames_captured, frames_requested=frames_requested,
                               frames_gated=frames_gated, accounting=accounting, at=time.time())
        self._counters.add(camel("status", state))
        with self._lock:
            if state == "error":
                self.last_error = reason
        log_level = logging.WARNING if state in ("rejected", "error") else logging.INFO
        log.log(log_level, "capture %s %s on %s: %s", request_id, state, camera_id, reason or "")
        targets = ((self._ipc.publish, topics.LOCAL_CAPTURE_STATUS), (self._ipc.publish_iot, self.iot_topic))
        delivered = True
        for publish, topic in targets:
            try:
                publish(topic, status)
            except Exception as exc:  # noqa: BLE001 - e.g. the nucleus is going away; the status is logged above
                self._counters.add("statusPublishFailures")
                log.warning("could not publish capture status on %s: %s", topic, exc)
                delivered = False
        return delivered
