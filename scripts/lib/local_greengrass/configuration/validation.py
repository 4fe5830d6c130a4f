"""Configuration validation during deployments, as the nucleus's ConfigStoreIPCEventStreamAgent does it.

A component subscribes with SubscribeToValidateConfigurationUpdates (one validator per component:
the latest subscription replaces an earlier one). A deployment asks it to validate a proposed
configuration; the component answers with SendConfigurationValidityReport for that deployment id.
The deployment side waits on a Future; the IPC side completes it. Both sides may run on any thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

ACCEPTED, REJECTED = "ACCEPTED", "REJECTED"
VALIDITY_STATUSES = (ACCEPTED, REJECTED)

# (deployment id, proposed configuration) -> sends the event to the component's subscription stream
SendValidationEvent = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class ValidityReport:
    status: str
    deployment_id: str
    message: str | None = None


class NoValidationRequested(LookupError):
    """A report for a (component, deployment) nobody is waiting for: timed out, or never asked."""


class ConfigValidation:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._validators: dict[str, SendValidationEvent] = {}
        self._pending: dict[tuple[str, str], Future[ValidityReport]] = {}

    # the component side (IPC) ---------------------------------------------------------------------
    def subscribe(self, component: str, send: SendValidationEvent) -> Callable[[], None]:
        with self._lock:
            self._validators[component] = send

        def unsubscribe() -> None:
            with self._lock:
                if self._validators.get(component) is send:
                    del self._validators[component]

        return unsubscribe

    def report(self, component: str, report: ValidityReport) -> None:
        with self._lock:
            future = self._pending.pop((component, report.deployment_id), None)
        if future is None:
            raise NoValidationRequested("Validation request either timed out or was never made")
        if not future.done():
            future.set_result(report)

    # the deployment side ------------------------------------------------------------------------------
    def subscribed(self, component: str) -> bool:
        with self._lock:
            return component in self._validators

    def request(self, component: str, deployment_id: str,
                configuration: dict[str, Any]) -> Future[ValidityReport] | None:
        """Send the proposal; None when the component has not subscribed (nothing to wait for)."""
        future: Future[ValidityReport] = Future()
        with self._lock:
            send = self._validators.get(component)
            if send is None:
                return None
            self._pending[(component, deployment_id)] = future
        try:
            send(deployment_id, configuration)
        except Exception as exc:
            self.discard(component, deployment_id)
            raise RuntimeError(f"Error requesting validation from component {component}: {exc}") from exc
        return future

    def discard(self, component: str, deployment_id: str) -> None:
        """Stop waiting (timeout, or the deployment finished): a late report is then refused."""
        with self._lock:
            future = self._pending.pop((component, deployment_id), None)
        if future is not None:
            future.cancel()
