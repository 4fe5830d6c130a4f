"""The sender against DynamoDB Local (AWS's engine): faults injected around a real client."""

import json
import logging
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.utils import ContainerMetadataFetcher

import dynamo_writer.sender as sender_module
import dynamo_writer.spool as spool_module
from dynamo_writer.dynamo import make_client
from dynamo_writer.items import items_for
from dynamo_writer.sender import Sender, _distinct
from dynamo_writer.settings import DynamoWriterConfig
from dynamo_writer.spool import Spool, SpooledItem
from local_greengrass.standins.dynamodb_local import DynamoDBLocal, free_port
from smartcam.telemetry import Counters
from tests.dynamo_writer.helpers import (
    DEVICE,
    FakeTime,
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


def bad_item(frame_id: str) -> Any:
    """A spool item DynamoDB refuses (ValidationException): a number that is not one."""
    bad = items_for(frames(1, prefix=frame_id)[0], DEVICE, 30)[0]
    bad.item["maxScore"] = {"N": "not-a-number"}
    return bad


def test_a_refused_batch_goes_one_by_one_up_to_its_last_item_and_no_further(aws_env, table, tmp_path):
    spool = Spool(tmp_path / "spool.sqlite3")
    good = frames(10)
    expected = spool_frames(spool, good[:5])
    spool.put([bad_item("bad")], max_items=100, max_bytes=10**9, policy="refuseNewest")
    recorder = RecordingClient(make_client(config(tableName=table)))
    counters = Counters()
    sender = make_sender(spool, table, lambda _cfg: recorder, counters)
    assert sender.step(force=True) == 0.0  # refused as a whole: no reason to back off
    expected |= spool_frames(spool, good[5:])  # more items arrive meanwhile
    assert [sender.step(force=True) for _ in range(7)] == [0.0] * 7
    # The batch, each of its items alone (the bad one set aside), then a batch of the items after it.
    assert [len(batch) for batch in recorder.calls] == [6, 1, 1, 1, 1, 1, 1, 5]
    assert spool.depth()[0] == 0 and spool.rejected_count() == 1 and counters["itemsRejected"] == 1
    # A batch of two: the good one written, the bad one set aside (never the other way round).
    expected |= spool_frames(spool, frames(1, prefix="pair")[:1])
    spool.put([bad_item("bad2")], max_items=100, max_bytes=10**9, policy="refuseNewest")
    drain(sender, spool)
    assert [len(batch) for batch in recorder.calls[8:]] == [2, 1, 1]
    assert_stored_as_spooled(aws_env.client(), table, expected)
    assert spool.rejected_count() == 2 and recorder.violations == []


class Scripted(RecordingClient):
    """Call n does ``script[n]``: "half" (the second half comes back unprocessed), an error code, or, once
    the script is done, a normal write."""

    def __init__(self, inner: Any, script: list[str]) -> None:
        super().__init__(inner)
        self.script = script

    def forward(self, table: str, requests: list[dict[str, Any]]) -> dict[str, Any]:
        action = self.script.pop(0) if self.script else "write"
        if action == "half":
            half = len(requests) // 2
            response = self.inner.batch_write_item(RequestItems={table: requests[:half]})
            response["UnprocessedItems"] = {table: requests[half:]}
            return response
        if action != "write":
            raise ClientError({"Error": {"Code": action, "Message": f"injected {action}"}}, "BatchWriteItem")
        return self.inner.batch_write_item(RequestItems={table: requests})


def test_failures_are_counted_backed_off_and_cleared_by_a_success(aws_env, table, tmp_path, caplog):
    spool = Spool(tmp_path / "spool.sqlite3")
    expected = spool_frames(spool, frames(10))
    client = Scripted(make_client(config(tableName=table)), ["half", "ProvisionedThroughputExceededException",
                                                              "ProvisionedThroughputExceededException",
                                                              "InternalServerError"])
    counters = Counters()
    written: list[tuple[str, str]] = []
    sender = Sender(spool, lambda: config(tableName=table), counters, client_factory=lambda _cfg: client,
                    on_written=lambda rows: written.extend(item_key(r.item) for r in rows))
    with caplog.at_level(logging.WARNING, logger="dynamo_writer.sender"):
        assert sender.step(force=True) > 0  # half of it unprocessed: backs off
        assert (sender.consecutive_failures, sender.last_error) == (1, "5 UnprocessedItems")
        assert len(written) == 5 and spool.depth()[0] == 5  # the written half left the spool
        for failures in (2, 3):
            assert sender.step(force=True) > 0
            assert sender.consecutive_failures == failures
        assert sender.last_error == "ProvisionedThroughputExceededException: injected " \
                                    "ProvisionedThroughputExceededException"
        assert sender.step(force=True) > 0
        assert (sender.consecutive_failures, counters["serviceErrors"], counters["throttled"]) == (4, 1, 2)
        assert sender.step(force=True) == 0.0
    assert (sender.consecutive_failures, sender.last_error) == (0, None)
    warned = [r.getMessage() for r in caplog.records if r.name == "dynamo_writer.sender"]
    assert len(warned) == 2  # the same throttling twice in a row is logged once
    assert sorted(written) == sorted(expected)
    assert_stored_as_spooled(aws_env.client(), table, expected)


def test_on_written_hears_of_each_item_once_when_dynamodb_has_it(aws_env, table, tmp_path):
    spool = Spool(tmp_path / "spool.sqlite3")
    expected = spool_frames(spool, frames(100))
    state: dict[str, Any] = {"n": 0, "sent": []}
    written: Counter[tuple[str, str]] = Counter()
    sender = Sender(spool, lambda: config(tableName=table), Counters(),
                    client_factory=lambda cfg: UnprocessedThenThrottle(make_client(cfg), state),
                    on_written=lambda rows: written.update(item_key(r.item) for r in rows))
    drain(sender, spool)
    assert len(state["sent"]) > len(expected)  # sent more than once, heard of once
    assert written == Counter(list(expected))
    assert_stored_as_spooled(aws_env.client(), table, expected)


class Nesting(RecordingClient):
    """The first BatchWriteItem runs another step while it is in flight (as a second sender thread would)."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.sender: Sender | None = None
        self.nested: list[float] = []

    def forward(self, table: str, requests: list[dict[str, Any]]) -> dict[str, Any]:
        if self.sender is not None and not self.nested:
            self.nested.append(-1.0)
            self.nested[0] = self.sender.step()
        return self.inner.batch_write_item(RequestItems={table: requests})


def test_while_a_batch_is_in_flight_the_next_full_batch_goes_at_once(aws_env, table, tmp_path):
    spool = Spool(tmp_path / "spool.sqlite3")
    expected = spool_frames(spool, frames(60))
    client = Nesting(make_client(config(tableName=table)))
    sender = make_sender(spool, table, lambda _cfg: client, flushIntervalS=300.0, minRequestIntervalS=0)
    client.sender = sender
    assert sender.step() == 0.0
    assert client.nested == [0.0]  # the nested step sent without waiting for flushIntervalS
    assert [len(batch) for batch in client.calls] == [25, 25]
    assert sender.step() == 0.0  # the rest: nothing in flight, a partial batch goes at once
    assert [len(batch) for batch in client.calls] == [25, 25, 10]
    assert sorted(sk for batch in client.calls for sk in batch) == sorted(sk for _, sk in expected)
    assert_stored_as_spooled(aws_env.client(), table, expected)


@pytest.mark.parametrize(("age", "wait"), [(0.25, 0.25), (0.5 - 0.0004, 0.001), (0.5, None), (0.75, None)])
def test_while_a_batch_is_in_flight_a_partial_batch_fills_for_at_most_flush_interval(tmp_path, monkeypatch, age,
                                                                                     wait):
    """flushIntervalS 0.5: a partial batch waits what is left of it, counted from its oldest item, at least
    1 ms; once that old it goes."""
    clock = FakeTime(1000.0)
    monkeypatch.setattr(spool_module, "time", clock)
    monkeypatch.setattr(sender_module, "time", clock)
    spool = Spool(tmp_path / "spool.sqlite3")
    for message in frames(2):  # the oldest at 1000.0, the other 0.2 s later
        spool.put(items_for(message, DEVICE, 30), max_items=100, max_bytes=10**9, policy="refuseNewest")
        clock.now += 0.2
    clock.now = 1000.0 + age
    calls: list[int] = []

    class Client:
        def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
            calls.append(len(RequestItems["unit-table"]))
            return {"UnprocessedItems": {}}

    sender = Sender(spool, lambda: config(flushIntervalS=0.5), Counters(), client_factory=lambda _cfg: Client())
    sender._inflight.add(-1)  # as if another sender thread had a batch in flight
    delay = sender.step()
    if wait is None:
        assert (delay, calls) == (0.0, [2])
    else:
        assert (delay, calls) == (wait, [])
    spool.close()


def test_an_empty_spool_waits_flush_interval_or_until_woken(tmp_path):
    spool = Spool(tmp_path / "spool.sqlite3")
    sender = Sender(spool=spool, settings=lambda: config(flushIntervalS=0.5), counters=Counters(),  # all by name
                    client_factory=lambda _cfg: None)
    assert sender.step() == 0.5
    with pytest.raises(TypeError):
        sender.step(True)  # force is said by name: step(True) reads as anything
    spool.close()


def test_the_client_is_kept_renewed_when_its_settings_change_and_after_a_credential_error(aws_env, table, tmp_path):
    spool = Spool(tmp_path / "spool.sqlite3")
    made: list[float] = []
    script = ["UnrecognizedClientException", "ProvisionedThroughputExceededException"]

    def factory(cfg: DynamoWriterConfig) -> Any:
        made.append(cfg.request_timeout_s)
        return Scripted(make_client(cfg), script)

    settings = {"cfg": config(tableName=table, requestTimeoutS=2)}
    sender = Sender(spool, lambda: settings["cfg"], Counters(), client_factory=factory)
    expected = spool_frames(spool, frames(3))
    drain(sender, spool)
    assert made == [2, 2]  # the credential error renewed it, the throttling did not
    expected |= spool_frames(spool, frames(6)[3:])
    drain(sender, spool)
    assert made == [2, 2]
    settings["cfg"] = config(tableName=table, requestTimeoutS=3)
    expected |= spool_frames(spool, frames(9)[6:])
    drain(sender, spool)
    assert made == [2, 2, 3]
    assert_stored_as_spooled(aws_env.client(), table, expected)


def test_a_missing_table_is_created_only_when_configured(aws_env, tmp_path):
    spool = Spool(tmp_path / "spool.sqlite3")
    name = unique_table()
    expected = spool_frames(spool, frames(3))
    counters = Counters()
    sender = make_sender(spool, name, make_client, counters)  # createTableIfMissing: false
    assert sender.step(force=True) > 0
    assert sender.last_error.startswith("ResourceNotFoundException") and counters["serviceErrors"] == 1
    assert name not in aws_env.client().list_tables()["TableNames"]
    drain(make_sender(spool, name, make_client, createTableIfMissing=True), spool)
    try:
        assert_stored_as_spooled(aws_env.client(), name, expected)
    finally:
        aws_env.client().delete_table(TableName=name)


# the threads ------------------------------------------------------------------------------------
class RecordingEvent(threading.Event):
    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        return super().wait(timeout)


def test_stop_gives_the_threads_30_s_in_all(tmp_path, monkeypatch):
    clock = FakeTime(1000.0)
    monkeypatch.setattr(sender_module, "time", clock)
    spool = Spool(tmp_path / "spool.sqlite3")
    sender = Sender(spool, lambda: config(senderThreads=2), Counters(), client_factory=lambda _cfg: None)
    sender.start()
    threads = list(sender._threads)
    joined: list[float | None] = []
    try:
        for thread in threads:
            def recording_join(timeout: float | None = None, join: Any = thread.join) -> None:
                joined.append(timeout)
                clock.now += 31  # as if this thread took the whole time
                join(timeout)

            monkeypatch.setattr(thread, "join", recording_join)
    finally:
        sender.stop()
    for thread in threads:
        threading.Thread.join(thread, 30)
    assert len(threads) == 2 and all(t.daemon for t in threads)  # never keep the process alive
    assert joined == [30.0, 0.0]
    spool.close()


def test_an_idle_thread_is_woken_at_once_by_new_items(aws_env, table, tmp_path):
    spool = Spool(tmp_path / "spool.sqlite3")
    sender = make_sender(spool, table, make_client, flushIntervalS=300.0)
    sender._wake = wake = RecordingEvent()
    sender.start()
    try:
        wait_until(lambda: wake.waits, 60, "the thread idle")
        expected = spool_frames(spool, frames(3))
        sender.wake()
        wait_until(lambda: spool.depth()[0] == 0, 60, "the items sent (not in flushIntervalS, 300 s)")
    finally:
        sender.stop()
    assert_stored_as_spooled(aws_env.client(), table, expected)


def test_the_threads_back_off_after_a_failure_and_survive_any_error(aws_env, table, tmp_path):
    spool = Spool(tmp_path / "spool.sqlite3")
    expected = spool_frames(spool, frames(3))
    made: list[int] = []

    def factory(cfg: DynamoWriterConfig) -> Any:
        made.append(1)
        if len(made) == 1:
            raise RuntimeError("not an AWS error: a bug, a full disk...")
        return Scripted(make_client(cfg), ["ProvisionedThroughputExceededException"])

    counters = Counters()
    sender = make_sender(spool, table, factory, counters)
    sender._stop = stop = RecordingEvent()
    sender.start()
    try:
        wait_until(lambda: spool.depth()[0] == 0, 60, "the items sent")
    finally:
        sender.stop()
    assert (counters["senderErrors"], counters["throttled"]) == (1, 1)
    backoffs = [w for w in stop.waits if w is not None]
    assert len(backoffs) == 2 and all(0 < w <= 0.2 for w in backoffs)  # backoffMaxS
    assert_stored_as_spooled(aws_env.client(), table, expected)


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
    sender = make_sender(spool, table, make_client, flushIntervalS=300.0, minRequestIntervalS=0)
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
