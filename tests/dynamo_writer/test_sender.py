"""The sender against DynamoDB Local (AWS's engine): faults injected around a real client."""

import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.utils import ContainerMetadataFetcher

from dynamo_writer.dynamo import make_client
from dynamo_writer.items import items_for
from dynamo_writer.sender import Sender, _distinct
from dynamo_writer.spool import Spool, SpooledItem
from local_greengrass.standins.dynamodb_local import DynamoDBLocal, free_port
from smartcam.telemetry import Counters
from tests.dynamo_writer.helpers import (
    DEVICE,
    RecordingClient,
    assert_stored_as_spooled,
    clear_aws_env,
    config,
    create_table,
    drain,
    frames,
    item_key,
    scan_all,
    unique_table,
    wait_until,
)

pytestmark = pytest.mark.integration


def spool_frames(spool, messages, **limits):
    """Spools the messages' items; returns them by primary key, as spooled."""
    limits = {"max_items": 10**6, "max_bytes": 10**10, "policy": "refuseNewest"} | limits
    expected = {}
    for message in messages:
        items = items_for(message, DEVICE, 30)
        spool.put(items, **limits)
        expected |= {item_key(i.item): i.item for i in items}
    return expected


def sent_once_each(calls, expected):
    """Every spooled item was sent in exactly one BatchWriteItem (``calls``: the sort keys of each)."""
    sent = Counter(sk for batch in calls for sk in batch)
    return sent == Counter(sk for _, sk in expected)


def spool_at_once(spool, messages):
    """Like spool_frames, in one transaction: the same rows, in the same order, without a durable
    commit (fsync) per message. For a backlog that is only the starting point of a test."""
    items = [item for message in messages for item in items_for(message, DEVICE, 30)]
    admission = spool.put(items, max_items=10**6, max_bytes=10**10, policy="refuseNewest")
    assert admission.accepted == len(items)
    return {item_key(i.item): i.item for i in items}


def make_sender(spool, table, factory, counters=None, **over):
    return Sender(spool, lambda: config(tableName=table, **over), counters or Counters(), client_factory=factory)


def test_drains_everything_exactly_once(aws_env, table, tmp_path):
    spool = Spool(tmp_path / "spool.sqlite3")
    expected = spool_frames(spool, frames(120))
    recorder = None

    def factory(cfg):
        nonlocal recorder
        recorder = RecordingClient(make_client(cfg))
        return recorder

    counters = Counters()
    before = time.time()
    drain(make_sender(spool, table, factory, counters), spool)
    after = time.time()
    stored = assert_stored_as_spooled(aws_env.client(), table, expected)
    assert all(before - 0.01 <= float(i["sentAt"]["N"]) <= after + 0.01 for i in stored.values())
    assert counters.get("itemsWritten") == 120
    assert recorder.violations == []
    assert sent_once_each(recorder.calls, expected)
    assert all(len(batch) <= 25 for batch in recorder.calls)
    assert [len(b) for b in recorder.calls] == [25, 25, 25, 25, 20]


class UnprocessedThenThrottle(RecordingClient):
    """Call 1 and 2: only the first half reaches DynamoDB, the rest comes back as UnprocessedItems.
    Call 3: throttled. Call 4: written, then the response is lost (read timeout). Then normal."""

    def __init__(self, inner, state):
        super().__init__(inner)
        self.state = state

    def forward(self, table, requests):
        self.state["n"] += 1
        n = self.state["n"]
        self.state["sent"].extend(r["PutRequest"]["Item"]["sk"]["S"] for r in requests)
        if n in (1, 2) and len(requests) > 1:
            half = len(requests) // 2
            response = self.inner.batch_write_item(RequestItems={table: requests[:half]})
            response["UnprocessedItems"] = {table: requests[half:]}
            return response
        if n == 3:
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
                              "BatchWriteItem")
        if n == 4:
            self.inner.batch_write_item(RequestItems={table: requests})
            raise ReadTimeoutError(endpoint_url="http://127.0.0.1")
        return self.inner.batch_write_item(RequestItems={table: requests})


def test_unprocessed_items_throttling_and_lost_responses_still_exactly_once(aws_env, table, tmp_path):
    spool = Spool(tmp_path / "spool.sqlite3")
    expected = spool_frames(spool, frames(100))
    state = {"n": 0, "sent": []}
    clients = []

    def factory(cfg):
        clients.append(UnprocessedThenThrottle(make_client(cfg), state))
        return clients[-1]

    counters = Counters()
    drain(make_sender(spool, table, factory, counters), spool)
    assert_stored_as_spooled(aws_env.client(), table, expected)
    assert counters.get("unprocessedRetries") > 0
    assert counters.get("throttled") == 1
    assert counters.get("networkErrors") == 1
    assert len(state["sent"]) > len(expected)  # items really were sent more than once
    assert all(c.violations == [] for c in clients)


def test_same_frames_sent_twice_are_one_item_each(aws_env, table, tmp_path):
    spool = Spool(tmp_path / "spool.sqlite3")
    messages = frames(30)
    expected = spool_frames(spool, messages)
    spool_frames(spool, messages)  # still spooled: the spool keeps one row per key
    assert spool.depth()[0] == 30
    sender = make_sender(spool, table, make_client)
    drain(sender, spool)
    spool_frames(spool, messages[:10])  # already written: written again, same items
    drain(sender, spool)
    assert_stored_as_spooled(aws_env.client(), table, expected)


def test_an_idle_sender_sends_a_partial_batch_at_once_a_busy_one_lets_it_fill(aws_env, table, tmp_path):
    spool = Spool(tmp_path / "spool.sqlite3")
    first = spool_frames(spool, frames(2))
    sender = make_sender(spool, table, make_client, flushIntervalS=300.0)
    assert sender.step() == 0.0  # nothing in flight: sent now, not in 300 s
    assert_stored_as_spooled(aws_env.client(), table, first)
    assert spool.depth()[0] == 0

    spool_frames(spool, frames(5)[2:])
    sender._inflight.add(-1)  # as if another sender thread had a batch in flight
    assert sender.step() > 0  # waits for the batch to fill (or flushIntervalS)
    assert spool.depth()[0] == 3
    sender._inflight.discard(-1)
    assert sender.step() == 0.0
    assert spool.depth()[0] == 0


def test_a_batch_never_holds_the_same_key_twice():
    rows = [SpooledItem(1, "a", {}, 0.0), SpooledItem(2, "b", {}, 0.0), SpooledItem(3, "a", {}, 0.0)]
    assert [r.seq for r in _distinct(rows)] == [1, 2]


def test_item_dynamodb_refuses_is_isolated_and_set_aside(aws_env, table, tmp_path):
    spool = Spool(tmp_path / "spool.sqlite3")
    good = frames(10)
    bad = items_for(frames(1, prefix="bad")[0], DEVICE, 30)[0]
    bad.item["maxScore"] = {"N": "not-a-number"}
    spool_frames(spool, good[:5])
    spool.put([bad], max_items=100, max_bytes=10**9, policy="refuseNewest")
    spool_frames(spool, good[5:])
    counters = Counters()
    drain(make_sender(spool, table, make_client, counters), spool)
    assert_stored_as_spooled(aws_env.client(), table, {item_key(i.item): i.item for m in good
                                                       for i in items_for(m, DEVICE, 30)})
    assert counters.get("itemsRejected") == 1
    assert spool.rejected_count() == 1


def test_oversized_message_is_stored_truncated(aws_env, table, tmp_path):
    from tests.dynamo_writer.test_items import huge_message

    spool = Spool(tmp_path / "spool.sqlite3")
    (item,) = items_for(huge_message(), DEVICE, 30)
    assert item.truncated
    spool.put([item], max_items=10, max_bytes=10**9, policy="refuseNewest")
    drain(make_sender(spool, table, make_client), spool)
    (stored,) = scan_all(aws_env.client(), table)
    assert stored["truncated"] == {"BOOL": True}
    assert len(stored["detections"]["L"]) == int(stored["detectionsStored"]["N"]) > 0


class CredentialsServer:
    """The token exchange service's container-credentials protocol (what boto3 calls on a device)."""

    def __init__(self, port, token):
        self.port, self.token, self.requests = port, token, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.headers.get("Authorization"))
                if self.headers.get("Authorization") != outer.token:
                    self.send_response(401)
                    self.end_headers()
                    return
                body = json.dumps({
                    "AccessKeyId": "local", "SecretAccessKey": "local", "Token": "session",
                    "Expiration": (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_credentials_endpoint_down_items_stay_spooled_then_arrive(monkeypatch, tmp_path, ddb_local, table):
    clear_aws_env(monkeypatch, tmp_path)
    port = free_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", ddb_local.endpoint)
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"http://127.0.0.1:{port}/2016-11-01/credentialprovider/")
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "tes-token")
    # botocore tries a credentials endpoint three times, 1 s apart, for each new client: with this one
    # down on purpose that is waiting, not the writer's behaviour (every step still fails the same way).
    monkeypatch.setattr(ContainerMetadataFetcher, "SLEEP_TIME", 0)
    spool = Spool(tmp_path / "spool.sqlite3")
    expected = spool_frames(spool, frames(40))
    counters = Counters()
    sender = make_sender(spool, table, make_client, counters)
    for _ in range(5):
        sender.step(force=True)
    assert spool.depth()[0] == 40
    assert counters.get("networkErrors") + counters.get("credentialErrors") >= 5
    server = CredentialsServer(port, "tes-token")
    try:
        drain(sender, spool)
    finally:
        server.close()
    assert_stored_as_spooled(ddb_local.client(), table, expected)
    assert "tes-token" in server.requests


def test_dynamodb_killed_during_drain_and_restarted(aws_env, monkeypatch, tmp_path):
    db = DynamoDBLocal(tmp_path / "ddb", in_memory=False)  # -dbPath: the table survives the kill
    db.start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", db.endpoint)
        name = unique_table()
        create_table(db.client(), name)
        spool = Spool(tmp_path / "spool.sqlite3")
        expected = spool_at_once(spool, frames(600))
        counters = Counters()
        sender = make_sender(spool, name, make_client, counters, backoffMaxS=0.5)
        sender.start()
        try:
            wait_until(lambda: counters.get("itemsWritten") >= 100, what="the drain to start")
            db.kill()
            wait_until(lambda: counters.get("networkErrors") >= 2, what="the sender to notice the outage")
            left = spool.depth()[0]
            assert 0 < left < 600
            db.start()
            wait_until(lambda: spool.depth()[0] == 0, timeout=300, what="the backlog to drain")
        finally:
            sender.stop()
        assert_stored_as_spooled(db.client(), name, expected)
    finally:
        db.stop()


class OverlapChecker(RecordingClient):
    """Flags a key that is in two batches in flight at the same time."""

    def __init__(self, inner):
        super().__init__(inner)
        self.lock = threading.Lock()
        self.inflight = set()
        self.max_concurrent = 0
        self.concurrent = 0

    def forward(self, table, requests):
        keys = {r["PutRequest"]["Item"]["sk"]["S"] for r in requests}
        with self.lock:
            if keys & self.inflight:
                self.violations.append(f"in two batches at once: {sorted(keys & self.inflight)}")
            self.inflight |= keys
            self.concurrent += 1
            self.max_concurrent = max(self.max_concurrent, self.concurrent)
        try:
            return self.inner.batch_write_item(RequestItems={table: requests})
        finally:
            with self.lock:
                self.inflight -= keys
                self.concurrent -= 1


def test_concurrent_sender_threads_write_each_item_once(aws_env, table, tmp_path):
    spool = Spool(tmp_path / "spool.sqlite3")
    expected = spool_at_once(spool, frames(1000))
    checker = None
    lock = threading.Lock()

    def factory(cfg):
        nonlocal checker
        with lock:
            checker = checker or OverlapChecker(make_client(cfg))
        return checker

    counters = Counters()
    sender = make_sender(spool, table, factory, counters, senderThreads=4)
    sender.start()
    try:
        wait_until(lambda: spool.depth()[0] == 0, timeout=300, what="the drain")
    finally:
        sender.stop()
    assert checker.violations == []
    assert counters.get("itemsWritten") == 1000
    assert sent_once_each(checker.calls, expected)
    assert_stored_as_spooled(aws_env.client(), table, expected)
