"""Problems reported to the cloud on smartcam/<thing>/status/<component>, without flooding it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Literal

from smartcam import topics
from smartcam.contracts import Health
from smartcam.ipc import Ipc

log = logging.getLogger(__name__)

State = Literal["ok", "degraded", "errored"]


class StatusReporter:
    """One status message per problem kind at most every ``min_interval_s`` seconds; the number of
    occurrences suppressed in between rides along in ``counters`` of the next one."""

    def __init__(self, ipc: Ipc, thing: str, component: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._ipc = ipc
        self._topic = topics.iot_component_status(thing, component)
        self._component = component
        self._clock = clock
        self._lock = threading.Lock()
        self._last_sent: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self.min_interval_s = 5.0

    def report(self, kind: str, detail: str, state: State = "degraded") -> bool:
        """Log ``detail`` and send it unless the same kind was sent too recently. True if sent."""
        log.error("%s: %s", kind, detail)
        now = self._clock()
        with self._lock:
            last = self._last_sent.get(kind)
            if last is not None and now - last < self.min_interval_s:
                self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
                return False
            self._last_sent[kind] = now
            suppressed = self._suppressed.pop(kind, 0)
        message = Health(
            component=self._component,
            state=state,
            detail=f"{kind}: {detail}"[:1024],
            counters={"suppressed": suppressed} if suppressed else {},
            at=time.time(),
        )
        try:
            self._ipc.publish_iot(self._topic, message, qos=0)
        except Exception:
            log.exception("could not send the status message to IoT Core")
            return False
        return True
