"""minRequestIntervalS: how the sender batches a stream of items, on a fake clock with a fake client.

The sender thread's loop is played by hand: a new item wakes it (steps at once), a returned delay is
slept on the fake clock, and each BatchWriteItem takes no time. What is asserted is when each request
started and how many items it carried.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from botocore.exceptions import ClientError

import dynamo_writer.sender as sender_module
import dynamo_writer.spool as spool_module
from dynamo_writer.items import items_for
from dynamo_writer.sender import Sender
from dynamo_writer.spool import Spool
from smartcam.telemetry import Counters
from tests.dynamo_writer.helpers import DEVICE, FakeTime, config, frames

START = 1000.0
EPSILON = 1e-9


class FakeClient:
    """Records (start offset, items) of each request; call n raises ``failures[n]`` if there is one."""

    def __init__(self, clock: FakeTime, failures: dict[int, str] | None = None) -> None:
        self.clock = clock
        self.failures = failures or {}
        self.requests: list[tuple[float, int]] = []

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        (requests,) = RequestItems.values()
        self.requests.append((round(self.clock.now - START, 6), len(requests)))
        code = self.failures.get(len(self.requests))
        if code is not None:
            raise ClientError({"Error": {"Code": code, "Message": f"injected {code}"}}, "BatchWriteItem")
        return {"UnprocessedItems": {}}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime(START)
    monkeypatch.setattr(spool_module, "time", fake)
    monkeypatch.setattr(sender_module, "time", fake)
    return fake


def play(tmp_path: Any, clock: FakeTime, arrivals: list[list[float]], client: FakeClient | None = None,
         **settings: Any) -> list[tuple[float, int]]:
    """Items arrive at the given offsets (s; several at one offset arrive together, each its own frame);
    the sender steps as its thread would until all are sent. Returns the client's requests."""
    client = client or FakeClient(clock)
    spool = Spool(tmp_path / "spool.sqlite3")
    sender = Sender(spool, lambda: config(**settings), Counters(), client_factory=lambda _cfg: client)
    messages = iter(frames(sum(len(a) for a in arrivals)))
    queue = sorted(at for group in arrivals for at in group)
    next_step = math.inf
    for _ in range(10_000):
        if not queue and spool.depth()[0] == 0:
            break
        if queue and START + queue[0] <= next_step:
            clock.now = START + queue.pop(0)
            spool.put(items_for(next(messages), DEVICE, 30), max_items=10**6, max_bytes=10**10,
                      policy="refuseNewest")
            next_step = clock.now  # the receiver wakes the sender
        else:
            clock.now = next_step
            next_step = clock.now + sender.step()
    else:
        raise AssertionError("the sender never emptied the spool")
    spool.close()
    return client.requests


def gaps(requests: list[tuple[float, int]]) -> list[float]:
    return [b[0] - a[0] for a, b in itertools.pairwise(requests)]


def test_items_15_ms_apart_share_requests_at_least_the_interval_apart(tmp_path, clock):
    arrivals = [[n * 0.015] for n in range(40)]  # ~66 items/s
    requests = play(tmp_path, clock, arrivals)  # minRequestIntervalS: its default, 0.05
    assert config().min_request_interval_s == 0.05
    assert sum(n for _, n in requests) == 40
    assert requests[0] == (0.0, 1)  # the first item finds nothing to wait for
    assert all(n >= 3 for _, n in requests[1:-1])  # 3 or 4 items arrive per 50 ms
    assert all(gap >= 0.05 - EPSILON for gap in gaps(requests))
    assert len(requests) <= 14  # 0.585 s of items: at most one request per 50 ms, not 40


def test_an_item_that_wakes_the_sender_while_it_lingers_does_not_make_it_read_the_batch(tmp_path, clock, monkeypatch):
    peeks = []
    real_peek = Spool.peek

    def counting_peek(self: Spool, limit: int):
        peeks.append(limit)
        return real_peek(self, limit)

    monkeypatch.setattr(Spool, "peek", counting_peek)
    arrivals = [[n * 0.015] for n in range(40)]
    requests = play(tmp_path, clock, arrivals)
    assert sum(n for _, n in requests) == 40
    # the batch is read when it goes (and once more when the spool is found empty), not on each of 40 wakes
    assert len(peeks) <= len(requests) + 2


def test_no_item_waits_longer_than_the_interval(tmp_path, clock):
    arrivals = [[n * 0.015] for n in range(40)]
    requests = play(tmp_path, clock, arrivals)
    sent_at = [at for at, n in requests for _ in range(n)]  # items leave in arrival order
    waits = [sent - arrived[0] for sent, arrived in zip(sent_at, arrivals, strict=True)]
    # 1 ms: the shortest idle wait of the sender (when the clock lands a hair before the interval's end)
    assert max(waits) <= 0.05 + 0.001 + EPSILON and min(waits) >= 0


def test_items_100_ms_apart_each_go_at_once(tmp_path, clock):
    arrivals = [[n * 0.1] for n in range(10)]  # 10 items/s
    assert play(tmp_path, clock, arrivals) == [(round(n * 0.1, 6), 1) for n in range(10)]


def test_a_full_batch_goes_at_once_however_recent_the_previous_request(tmp_path, clock):
    arrivals = [[0.0], [0.001], [0.002], [0.003], [0.004], [0.005]]
    assert play(tmp_path, clock, arrivals, batchSize=5) == [(0.0, 1), (0.005, 5)]


def test_interval_0_sends_each_item_as_soon_as_nothing_is_in_flight(tmp_path, clock):
    arrivals = [[n * 0.015] for n in range(10)]
    assert play(tmp_path, clock, arrivals, minRequestIntervalS=0) == [(round(n * 0.015, 6), 1) for n in range(10)]


def test_a_retry_waits_for_its_backoff_only(tmp_path, clock):
    client = FakeClient(clock, failures={2: "ProvisionedThroughputExceededException"})
    requests = play(tmp_path, clock, [[0.0], [0.06]], client, backoffBaseS=0.01, backoffMaxS=0.01)
    assert [n for _, n in requests] == [1, 1, 1]
    assert requests[1][0] == 0.06
    assert requests[2][0] - requests[1][0] <= 0.01 + EPSILON  # backoffMaxS, not minRequestIntervalS


def test_a_refused_batch_goes_one_by_one_at_once(tmp_path, clock):
    client = FakeClient(clock, failures={1: "ValidationException"})
    requests = play(tmp_path, clock, [[0.0, 0.0, 0.0]], client, minRequestIntervalS=60)
    assert requests == [(0.0, 3), (0.0, 1), (0.0, 1), (0.0, 1)]  # isolated without lingering
