"""What the spool's sender threads to DynamoDB and S3 share (events, data captures): the thread that
steps until nothing is pending, backoff after a failed call, the failed call classified and counted,
and clients kept per service until their settings change (fresh ones after a credential or network
error, so the credential chain is read again).

A subclass implements :meth:`CloudSender.step` (send the oldest pending thing; raise :class:`Retry` through
:meth:`CloudSender._failed` when a call failed) and may create what is missing in :meth:`CloudSender._prepare`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from dynamo_writer.backoff import Backoff
from dynamo_writer.sender import CREDENTIAL_CODES, THROTTLE_CODES, ClientFactory
from dynamo_writer.settings import DynamoWriterConfig
from smartcam.telemetry import Counters

S3_THROTTLE_CODES = frozenset({"SlowDown"})
S3_CREDENTIAL_CODES = frozenset({"AccessDenied", "InvalidAccessKeyId", "InvalidToken", "ExpiredToken",
                                 "SignatureDoesNotMatch"})
IDLE_S = 1.0  # longest sleep without news (new work wakes the thread at once)


class Retry(Exception):
    """The step failed in a way worth trying again after a backoff."""


class CloudSender:
    def __init__(self, settings: Callable[[], DynamoWriterConfig], counters: Counters, *, what: str,
                 factories: dict[str, ClientFactory]) -> None:
        """``what`` names the thread and its log lines; ``factories``: a client factory per service."""
        self._settings = settings
        self._counters = counters
        self._what = what
        self._log = logging.getLogger(type(self).__module__)  # the subclass's module logs its failures
        self._factories = factories
        self._clients: dict[str, tuple[Any, tuple[Any, ...]]] = {}
        self._ready: set[tuple[str, str]] = set()  # what _prepare made ready (tables, buckets)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        cfg = settings()
        self._backoff = Backoff(cfg.backoff_base_s, cfg.backoff_max_s)
        self.consecutive_failures = 0
        self.last_error: str | None = None

    # lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"{self._what}-sender", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        self._wake.set()

    def step(self) -> float | None:
        """Send the oldest pending thing; how long to wait before the next step (None: nothing to send)."""
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delay = self.step()
            except Exception:  # noqa: BLE001 - never let the thread die: nothing leaves the spool unsent
                self._log.exception("%s sender step failed", self._what)
                self._counters.add("senderErrors")
                delay = self._backoff.next_delay()
            if delay is None:
                self._wake.wait(IDLE_S)
                self._wake.clear()
            elif delay > 0:
                self._stop.wait(delay)

    def _begin_step(self) -> DynamoWriterConfig:
        cfg = self._settings()
        self._backoff.base_s, self._backoff.max_s = cfg.backoff_base_s, cfg.backoff_max_s
        return cfg

    def _succeeded(self) -> float:
        self._backoff.reset()
        self.consecutive_failures = 0
        self.last_error = None
        return 0.0

    # failures and clients -------------------------------------------------------------------
    def _failed(self, service: str, exc: ClientError | BotoCoreError) -> None:
        """Count and log a failed call, drop the client if it may be the cause; raises :class:`Retry`."""
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            reason = f"{service} {code}: {exc.response.get('Error', {}).get('Message', '')}"
            counter = ("throttled" if code in THROTTLE_CODES | S3_THROTTLE_CODES
                       else "credentialErrors" if code in CREDENTIAL_CODES | S3_CREDENTIAL_CODES
                       else "serviceErrors")
        else:
            reason, counter = f"{service} {type(exc).__name__}: {exc}", "networkErrors"
        if counter in ("credentialErrors", "networkErrors"):
            self._clients.pop(service, None)  # a fresh client re-reads the credentials chain
        self._counters.add(counter)
        self.consecutive_failures += 1
        if reason != self.last_error:
            self._log.warning("%s write failed, it stays spooled and is retried: %s", self._what, reason)
        self.last_error = reason
        raise Retry(reason) from exc

    def _client(self, service: str, cfg: DynamoWriterConfig, resource: str) -> Any:
        wanted = (cfg.region, cfg.request_timeout_s)
        client, made_for = self._clients.get(service, (None, None))
        if client is None or made_for != wanted:
            client = self._factories[service](cfg)
            self._clients[service] = (client, wanted)
        if (service, resource) not in self._ready and self._prepare(service, client, resource, cfg):
            self._ready.add((service, resource))
        return client

    def _prepare(self, service: str, client: Any, resource: str, cfg: DynamoWriterConfig) -> bool:
        """Create ``resource`` if the settings ask for it; True when it needs no more of this."""
        return False
