"""The sender thread: drains the spool into DynamoDB with BatchWriteItem.

An item leaves the spool only after DynamoDB accepted it (the batch succeeded and the item is not
in UnprocessedItems). A crash between DynamoDB's acceptance and the spool's delete sends the item
again later: harmless, because its key is deterministic and PutItem replaces the same item.
Throttling, UnprocessedItems, network and credential errors are retried forever with exponential
backoff and jitter; an item DynamoDB refuses with ValidationException is isolated (sent alone) and
then moved to the spool's ``rejected`` table, counted, so one bad item cannot block the rest.

A partial batch goes when nothing is in flight (else it fills for up to ``flushIntervalS``), but not
sooner than ``minRequestIntervalS`` after the previous request began: items coming faster than that
share a request, items further apart go at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from dynamo_writer.backoff import Backoff
from dynamo_writer.dynamo import create_table_if_missing, make_client
from dynamo_writer.items import spool_key
from dynamo_writer.settings import DynamoWriterConfig
from dynamo_writer.spool import Spool, SpooledItem
from smartcam.telemetry import Counters

log = logging.getLogger(__name__)

THROTTLE_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "LimitExceededException",
})
CREDENTIAL_CODES = frozenset({
    "UnrecognizedClientException", "ExpiredTokenException", "InvalidSignatureException",
    "AccessDeniedException", "MissingAuthenticationTokenException", "IncompleteSignature",
})

ClientFactory = Callable[[DynamoWriterConfig], Any]


@dataclass(frozen=True)
class Outcome:
    written: list[SpooledItem]
    retry: bool  # back off before the next attempt


class Sender:
    def __init__(
        self,
        spool: Spool,
        settings: Callable[[], DynamoWriterConfig],
        counters: Counters,
        *,
        client_factory: ClientFactory = make_client,
        on_written: Callable[[list[SpooledItem]], None] | None = None,
    ) -> None:
        self._spool = spool
        self._settings = settings
        self._counters = counters
        self._client_factory = client_factory
        self._on_written = on_written or (lambda _items: None)
        self._client: Any = None
        self._client_settings: tuple[Any, ...] | None = None
        self._tables_ready: set[str] = set()
        self._isolate_until_seq = 0  # after a ValidationException: send one item at a time
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # Several batches may be in flight (senderThreads): a row is claimed by one batch at a time.
        self._claim_lock = threading.Lock()
        self._inflight: set[int] = set()
        self._last_request_at = float("-inf")  # monotonic start of the latest BatchWriteItem
        self._client_lock = threading.Lock()
        cfg = settings()
        self._backoff = Backoff(cfg.backoff_base_s, cfg.backoff_max_s)
        self.consecutive_failures = 0
        self.last_error: str | None = None

    # lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Start senderThreads workers (read once, at start)."""
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._run, name=f"dynamo-sender-{n}", daemon=True)
            for n in range(self._settings().sender_threads)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = []

    def wake(self) -> None:
        """New items are in the spool; a full batch may be ready."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delay = self.step()
            except Exception:  # never let the sender thread die: nothing leaves the spool unsent
                log.exception("sender step failed")
                self._counters.add("senderErrors")
                delay = self._backoff.next_delay()
            if isinstance(delay, _Idle):
                self._wake.wait(delay)
                self._wake.clear()
            elif delay > 0:
                self._stop.wait(delay)

    # one step -----------------------------------------------------------------------------
    def step(self, *, force: bool = False) -> float:
        """Send at most one batch; return how long to wait before the next step (0 = go on)."""
        cfg = self._settings()
        self._backoff.base_s, self._backoff.max_s = cfg.backoff_base_s, cfg.backoff_max_s
        with self._claim_lock:
            inflight = self._inflight
            if not force and (linger := self._linger_left(cfg, len(inflight))) > 0:
                return _idle(linger)
            rows = [r for r in self._spool.peek(cfg.batch_size + len(inflight)) if r.seq not in inflight]
            rows = rows[:cfg.batch_size]
            if not rows:
                return _idle(cfg.flush_interval_s)
            if rows[0].seq <= self._isolate_until_seq:
                rows = rows[:1]
            elif len(rows) < cfg.batch_size and not force:
                wait = self._partial_batch_wait(rows[0], bool(inflight), cfg)
                if wait > 0:
                    return _idle(wait)
            inflight.update(r.seq for r in rows)
            self._last_request_at = time.monotonic()
        # Read again now that the rows are claimed: a row spooled after a configuration change (a new
        # tableName, say) then goes out under the new configuration, never under the one read above.
        cfg = self._settings()
        try:
            outcome = self.send(rows, cfg)
        finally:
            with self._claim_lock:
                self._inflight.difference_update(r.seq for r in rows)
        if outcome.retry:
            return self._backoff.next_delay()
        self._backoff.reset()
        return 0.0

    def _linger_left(self, cfg: DynamoWriterConfig, inflight: int) -> float:
        """How long a partial batch lingers: a fast stream would otherwise go one item per request (each a
        signed HTTP call and two spool commits), so it waits until min_request_interval_s after the previous
        request began. Known from the spool's depth alone: the thread is woken by every new item, and reading
        and decoding the batch each time cost more than the requests saved (a flood of 5,000 items: 830
        instead of 1,000 items/s through the spool). A retry waits for its backoff only, an isolated item
        goes at once."""
        if self._backoff.attempt or self._isolation_pending():
            return 0.0
        linger = cfg.min_request_interval_s - (time.monotonic() - self._last_request_at)
        if linger <= 0 or self._spool.depth()[0] - inflight >= cfg.batch_size:
            return 0.0
        return linger

    def _isolation_pending(self) -> bool:
        if not self._isolate_until_seq:
            return False
        oldest = self._spool.oldest_seq()
        if oldest is None or oldest > self._isolate_until_seq:
            self._isolate_until_seq = 0  # every item of the refused batch is written or set aside
            return False
        return True

    def _partial_batch_wait(self, oldest: SpooledItem, busy: bool, cfg: DynamoWriterConfig) -> float:
        """How much longer a partial batch fills before it goes (0 or less: now); the linger of
        min_request_interval_s was decided before the batch was read (:meth:`_linger_left`)."""
        # Like Nagle: with nothing in flight a partial batch goes at once (latency); while a batch is in
        # flight the next one fills for up to flush_interval_s (throughput).
        return cfg.flush_interval_s - (time.time() - oldest.enqueued_at) if busy else 0.0

    def send(self, rows: list[SpooledItem], cfg: DynamoWriterConfig) -> Outcome:
        rows = _distinct(rows)
        sent_at = {"N": f"{time.time():.3f}"}
        request = {cfg.table_name: [{"PutRequest": {"Item": {**r.item, "sentAt": sent_at}}} for r in rows]}
        try:
            client = self._client_for(cfg)
            response = client.batch_write_item(RequestItems=request)
        except ClientError as exc:
            return self._failed_call(exc, rows)
        except BotoCoreError as exc:  # network, timeouts, credentials endpoint, region
            self._drop_client()
            return self._failure("networkErrors", f"{type(exc).__name__}: {exc}")
        unprocessed = response.get("UnprocessedItems", {}).get(cfg.table_name, [])
        pending = {spool_key(r["PutRequest"]["Item"]) for r in unprocessed if "PutRequest" in r}
        accepted = [r for r in rows if r.key not in pending]
        self._spool.ack(r.seq for r in accepted)
        self._counters.add("itemsWritten", len(accepted))
        self._counters.add("batchesWritten")
        if accepted:
            self._on_written(accepted)
        if pending:
            self._counters.add("unprocessedRetries", len(pending))
            self.last_error = f"{len(pending)} UnprocessedItems"
            self.consecutive_failures += 1
            return Outcome(accepted, retry=True)
        self.consecutive_failures = 0
        self.last_error = None
        return Outcome(accepted, retry=False)

    def _failed_call(self, exc: ClientError, rows: list[SpooledItem]) -> Outcome:
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", "")
        if code == "ValidationException":
            if len(rows) > 1:
                self._isolate_until_seq = rows[-1].seq
                log.warning("batch refused (%s), sending its %d items one by one", message, len(rows))
                return Outcome([], retry=False)
            log.error("item %s refused by DynamoDB, moved to the rejected table: %s", rows[0].key, message)
            self._spool.reject(rows[0], f"{code}: {message}")
            self._counters.add("itemsRejected")
            return Outcome([], retry=False)
        if code in THROTTLE_CODES:
            return self._failure("throttled", f"{code}: {message}")
        if code in CREDENTIAL_CODES:
            self._drop_client()
            return self._failure("credentialErrors", f"{code}: {message}")
        return self._failure("serviceErrors", f"{code}: {message}")

    def _failure(self, counter: str, reason: str) -> Outcome:
        self._counters.add(counter)
        self.consecutive_failures += 1
        if reason != self.last_error:
            log.warning("write failed, items stay spooled and are retried: %s", reason)
        self.last_error = reason
        return Outcome([], retry=True)

    def _client_for(self, cfg: DynamoWriterConfig) -> Any:
        wanted = (cfg.region, cfg.request_timeout_s)
        with self._client_lock:  # boto3 clients are thread-safe; building one is not worth doing twice
            if self._client is None or wanted != self._client_settings:
                client = self._client_factory(cfg)
                if cfg.create_table_if_missing and cfg.table_name not in self._tables_ready:
                    create_table_if_missing(client, cfg.table_name)
                    self._tables_ready.add(cfg.table_name)
                self._client, self._client_settings = client, wanted
            return self._client

    def _drop_client(self) -> None:
        # A fresh client re-reads the credentials chain (the token exchange service may be back).
        self._client = None


class _Idle(float):
    """A wait that new items may cut short (as opposed to a backoff, which they may not)."""


def _idle(seconds: float) -> float:
    return _Idle(max(seconds, 0.001))


def _distinct(rows: list[SpooledItem]) -> list[SpooledItem]:
    # The spool's UNIQUE key already guarantees this; DynamoDB rejects a whole batch that has the
    # same key twice, so the invariant is enforced here too rather than trusted.
    seen: set[str] = set()
    out = []
    for row in rows:
        if row.key not in seen:
            seen.add(row.key)
            out.append(row)
    return out
