"""What every component tells about itself: counters, health and rate-limited status.

- :class:`Counters`: thread-safe, monotonically increasing, named in the contracts' wire style
  (camelCase: ``framesReceived``); a name in another style is refused, so the fleet sees one style.
- :meth:`Telemetry.health` / :meth:`Telemetry.publish_health`: the periodic
  :class:`~smartcam.contracts.Health` on local pub/sub (``smartcam/health/<component>``).
- :class:`StatusReporter`: problems sent to IoT Core (``smartcam/<thing>/status/<component>``), at
  most one per problem kind every ``min_interval_s``; what was suppressed in between rides along.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Literal

from smartcam import topics
from smartcam.contracts import Health
from smartcam.ipc import Ipc

log = logging.getLogger(__name__)

HealthState = Literal["ok", "degraded", "errored"]

MAX_COUNTERS = 64  # the Health contract's limit
MAX_DETAIL = 1024
_NAME = re.compile(r"^[a-z][a-zA-Z0-9]{0,63}$")


def check_name(name: str) -> str:
    """``name`` if it is a counter or problem-kind name in the wire style (camelCase), else ValueError."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"telemetry name {name!r} is not camelCase (letters and digits, 1-64, lower-case first)")
    return name


def camel(*words: str) -> str:
    """``camel("sessions", "finished")`` -> ``sessionsFinished``: for names built from a state."""
    first, *rest = words
    return check_name(first + "".join(w[:1].upper() + w[1:] for w in rest))


class Counters:
    """Monotonic counters shared by a component's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, int] = {}

    def add(self, name: str, amount: int = 1) -> None:
        if amount < 0:
            raise ValueError(f"counter {name} only increases, got {amount}")
        with self._lock:
            self._values[name] = self._known(name) + amount

    def raise_to(self, name: str, total: int) -> None:
        """For a total kept elsewhere (e.g. frames dropped by a queue): the counter becomes ``total``
        unless it is already higher."""
        with self._lock:
            self._values[name] = max(self._known(name), total)

    def _known(self, name: str) -> int:
        if name not in self._values:
            if len(self._values) >= MAX_COUNTERS:
                raise ValueError(f"more than {MAX_COUNTERS} counters: {name} refused")
            check_name(name)
        return self._values.get(name, 0)

    def get(self, name: str) -> int:
        with self._lock:
            return self._values.get(name, 0)

    def __getitem__(self, name: str) -> int:
        return self.get(name)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._values.items()))


class StatusReporter:
    """One status message per problem kind at most every ``min_interval_s`` seconds; the number of
    occurrences suppressed in between rides along in ``counters`` (``suppressed``) of the next one."""

    def __init__(self, ipc: Ipc, thing: str, component: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._ipc = ipc
        self._topic = topics.iot_component_status(thing, component)
        self._component = component
        self._clock = clock
        self._lock = threading.Lock()
        self._last_sent: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self.min_interval_s = 5.0

    def report(self, kind: str, detail: str, state: HealthState = "degraded") -> bool:
        """Log ``detail`` and send it unless the same kind was sent too recently. True if sent."""
        check_name(kind)
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
            detail=f"{kind}: {detail}"[:MAX_DETAIL],
            counters={"suppressed": suppressed} if suppressed else {},
            at=time.time(),
        )
        try:
            self._ipc.publish_iot(self._topic, message, qos=0)
        except Exception:
            log.exception("could not send the status message to IoT Core")
            return False
        return True


class Telemetry:
    """One component's counters, its health messages and its rate-limited status."""

    def __init__(self, ipc: Ipc, component: str, thing: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._ipc = ipc
        self.component = component
        self.counters = Counters()
        self.status = StatusReporter(ipc, thing, component, clock)
        self._notes: list[Callable[[], str | None]] = []

    def add_note(self, source: Callable[[], str | None]) -> None:
        """A standing condition (e.g. a refused configuration update): while ``source()`` returns a
        text, every health message carries it and is at least ``degraded``."""
        self._notes.append(source)

    def count(self, name: str, amount: int = 1) -> None:
        self.counters.add(name, amount)

    def problem(self, kind: str, detail: str, state: HealthState = "degraded") -> None:
        """A problem that is counted (counter ``kind``) and reported on the status topic."""
        self.counters.add(kind)
        self.status.report(kind, detail, state)

    def health(self, state: HealthState, detail: str) -> Health:
        notes = [text for text in (source() for source in self._notes) if text]
        if notes:
            state = "errored" if state == "errored" else "degraded"
            detail = "; ".join([detail, *notes]) if detail else "; ".join(notes)
        if len(detail) > MAX_DETAIL:
            detail = detail[: MAX_DETAIL - 3] + "..."
        return Health(component=self.component, state=state, detail=detail, counters=self.counters.snapshot(),
                      at=time.time())

    def publish_health(self, health: Health) -> bool:
        """Send ``health`` on local pub/sub; False (logged) when it could not be sent."""
        try:
            self._ipc.publish(topics.health(self.component), health)
        except Exception as exc:  # noqa: BLE001 - health is best effort: the next one carries the counters
            log.warning("health of %s not published: %s", self.component, exc)
            return False
        return True
