#!/usr/bin/env python3
"""Benchmark of smartcam.DynamoWriter against DynamoDB Local (AWS's engine, in memory).

    .venv/bin/python scripts/bench.py writer [--items 6000] [--out docs/bench/writer.json]

Every item is one frame with one label (one DynamoDB item of ~400 bytes). Measured, each on a
fresh table:
- direct: the items pre-built, BatchWriteItem of 25 in a loop (no spool): the engine's ceiling
  for one client thread;
- through the spool, sustained: detections messages go through the component's Receiver (contract
  validation, item building, SQLite WAL commit with synchronous=FULL, one transaction per message)
  while the Sender thread drains the spool; items/s from the first message to an empty spool,
  plus the receiving side's own rate and its commit latency;
- backlog drain: the spool is filled first (DynamoDB "down"), then the Sender drains it;
- spool alone: put + peek + ack without DynamoDB (the spool's own ceiling).
The spool's overhead is 1 - (items/s through the spool) / (items/s direct).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks.results import (
    BacklogDrain,
    Direct,
    RoundsItemsPerS,
    SpoolAlone,
    ThroughSpool,
    WriterMachine,
    WriterResult,
    WriterResults,
    WriterRound,
)
from dynamo_writer.dynamo import create_table_if_missing, make_client
from dynamo_writer.items import items_for
from dynamo_writer.receiver import Receiver
from dynamo_writer.sender import Sender
from dynamo_writer.settings import DynamoWriterConfig
from dynamo_writer.spool import Spool
from local_greengrass.standins.dynamodb_local import DynamoDBLocal
from repo_layout import REPO_ROOT as REPO
from smartcam.contracts import Detections
from smartcam.telemetry import Counters

DEVICE = "bench-thing"
LIMITS = {"max_items": 10**8, "max_bytes": 10**12, "policy": "refuseNewest"}


def messages(count: int, prefix: str) -> list[dict[str, Any]]:
    start = time.time()
    return [Detections.model_validate({
        "frame": {"frame_id": f"{prefix}{i:07d}", "camera_id": "cam1", "slot": i % 64,
                  "sequence": i, "captured_at": start + i / 30, "captured_monotonic_ns": i,
                  "width": 640, "height": 480, "format": "bgr8"},
        "detections": [{"label": "person", "class_id": 1, "score": 0.87,
                        "box": {"x1": 0.1, "y1": 0.2, "x2": 0.3, "y2": 0.6}}],
        "model": {"name": "ssd_mobilenet_v1", "version": "1", "backend": "dlr"},
        "latency": {"read_ms": 1.2, "preprocess_ms": 4.5, "infer_ms": 31.0, "postprocess_ms": 2.1},
        "inferred_at": start + i / 30 + 0.04,
    }).to_message() for i in range(count)]


def new_table(db: DynamoDBLocal) -> str:
    name = f"bench-{uuid.uuid4().hex[:10]}"
    create_table_if_missing(db.client(), name)
    return name


def settings(table: str) -> DynamoWriterConfig:
    # per-frame detections items: the writer stores only events by default
    return DynamoWriterConfig.model_validate({"tableName": table, "store": "detections", "flushIntervalS": 0.2,
                                              "backoffBaseS": 0.05})


def count_items(db: DynamoDBLocal, table: str) -> int:
    client, total, kwargs = db.client(), 0, {"TableName": table, "Select": "COUNT"}
    while True:
        page = client.scan(**kwargs)
        total += page["Count"]
        if "LastEvaluatedKey" not in page:
            return total
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def bench_direct(db: DynamoDBLocal, msgs: list[dict[str, Any]]) -> Direct:
    table = new_table(db)
    items = [items_for(Detections.model_validate(m), DEVICE, 30)[0].item for m in msgs]
    client = make_client(settings(table))
    cpu = time.process_time()
    started = time.perf_counter()
    for i in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[i:i + 25]]
        response = client.batch_write_item(RequestItems={table: batch})
        assert not response.get("UnprocessedItems")
    elapsed = time.perf_counter() - started
    cpu_ms = (time.process_time() - cpu) * 1000
    assert count_items(db, table) == len(items)
    return Direct(items=len(items), seconds=round(elapsed, 3), items_per_s=round(len(items) / elapsed, 1),
                  cpu_ms_per_item=round(cpu_ms / len(items), 3))


def bench_through_spool(db: DynamoDBLocal, msgs: list[dict[str, Any]], workdir: Path) -> ThroughSpool:
    table = new_table(db)
    cfg = settings(table)
    spool = Spool(workdir / f"{table}.sqlite3")
    counters = Counters()
    sender = Sender(spool, lambda: cfg, counters)
    receiver = Receiver(spool, lambda: cfg, counters, DEVICE, sender.wake)
    commit_ms: list[float] = []
    sender.start()
    cpu = time.process_time()
    started = time.perf_counter()
    for message in msgs:
        t0 = time.perf_counter()
        receiver.on_message("smartcam/detections", message)
        commit_ms.append((time.perf_counter() - t0) * 1000)
    received = time.perf_counter() - started
    while spool.depth()[0]:
        time.sleep(0.005)
    elapsed = time.perf_counter() - started
    cpu_ms = (time.process_time() - cpu) * 1000
    sender.stop()
    spool.close()
    assert count_items(db, table) == len(msgs) == counters.get("itemsWritten")
    commit_ms.sort()
    return ThroughSpool(
        items=len(msgs), seconds=round(elapsed, 3), items_per_s=round(len(msgs) / elapsed, 1),
        cpu_ms_per_item=round(cpu_ms / len(msgs), 3),  # receiving + sending, all threads
        receive_items_per_s=round(len(msgs) / received, 1),
        receive_ms_p50=round(statistics.median(commit_ms), 3),
        receive_ms_p99=round(commit_ms[int(len(commit_ms) * 0.99) - 1], 3),
    )


def bench_backlog(db: DynamoDBLocal, msgs: list[dict[str, Any]], workdir: Path) -> BacklogDrain:
    table = new_table(db)
    cfg = settings(table)
    spool = Spool(workdir / f"{table}.sqlite3")
    counters = Counters()
    receiver = Receiver(spool, lambda: cfg, counters, DEVICE, lambda: None)
    for message in msgs:  # DynamoDB unreachable: everything waits in the spool
        receiver.on_message("smartcam/detections", message)
    backlog = spool.depth()
    sender = Sender(spool, lambda: cfg, counters)
    cpu = time.process_time()
    started = time.perf_counter()
    sender.start()
    while spool.depth()[0]:
        time.sleep(0.005)
    elapsed = time.perf_counter() - started
    cpu_ms = (time.process_time() - cpu) * 1000
    sender.stop()
    spool.close()
    assert count_items(db, table) == len(msgs)
    return BacklogDrain(backlog_items=backlog[0], backlog_bytes=backlog[1], seconds=round(elapsed, 3),
                        items_per_s=round(backlog[0] / elapsed, 1), cpu_ms_per_item=round(cpu_ms / backlog[0], 3))


def bench_spool_alone(msgs: list[dict[str, Any]], workdir: Path) -> SpoolAlone:
    spool = Spool(workdir / "alone.sqlite3")
    items = [items_for(Detections.model_validate(m), DEVICE, 30) for m in msgs]
    started = time.perf_counter()
    for batch in items:
        spool.put(batch, **LIMITS)
    put_s = time.perf_counter() - started
    started = time.perf_counter()
    while rows := spool.peek(25):
        spool.ack(r.seq for r in rows)
    drain_s = time.perf_counter() - started
    spool.close()
    return SpoolAlone(items=len(items), put_items_per_s=round(len(items) / put_s, 1),
                      peek_ack_items_per_s=round(len(items) / drain_s, 1))


def best_of(rounds: list[WriterRound], spool_alone: SpoolAlone) -> WriterResults:
    """The best round of each measurement, every round's rate, and the spool's overhead."""
    direct = max((r.direct for r in rounds), key=lambda m: m.items_per_s)
    through_spool = max((r.through_spool for r in rounds), key=lambda m: m.items_per_s)
    return WriterResults(
        direct=direct,
        through_spool=through_spool,
        backlog_drain=max((r.backlog_drain for r in rounds), key=lambda m: m.items_per_s),
        spool_alone=spool_alone,
        rounds_items_per_s=RoundsItemsPerS(
            direct=[r.direct.items_per_s for r in rounds],
            through_spool=[r.through_spool.items_per_s for r in rounds],
            backlog_drain=[r.backlog_drain.items_per_s for r in rounds],
        ),
        spool_overhead=round(1 - through_spool.items_per_s / direct.items_per_s, 3),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3, help="each measurement this often, interleaved")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "bench" / "writer.json")
    args = parser.parse_args()
    for name in ("AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN"):
        os.environ.pop(name, None)
    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="writer-bench-") as tmp:
        work = Path(tmp)
        db = DynamoDBLocal(work / "ddb")
        db.start()
        dummy = "bench"  # DynamoDB Local with -sharedDb accepts any credentials
        os.environ.update({"AWS_ENDPOINT_URL_DYNAMODB": db.endpoint, "AWS_ACCESS_KEY_ID": dummy,
                           "AWS_SECRET_ACCESS_KEY": dummy, "AWS_REGION": "us-east-1"})
        try:
            bench_direct(db, messages(3000, "warm"))  # JIT warm-up of the engine
            rounds = [  # interleaved, so a change in machine load hits all alike
                WriterRound(
                    direct=bench_direct(db, messages(args.items, f"d{r}-")),
                    through_spool=bench_through_spool(db, messages(args.items, f"s{r}-"), work),
                    backlog_drain=bench_backlog(db, messages(args.items, f"b{r}-"), work),
                )
                for r in range(args.rounds)
            ]
            results = best_of(rounds, bench_spool_alone(messages(args.items, "a"), work))
        finally:
            db.stop()
    report = WriterResult(
        benchmark="smartcam.DynamoWriter into DynamoDB Local (in memory, -sharedDb)",
        command=f"scripts/bench.py writer --items {args.items} --rounds {args.rounds}",
        note="best of the rounds per measurement; all rounds in results.rounds_items_per_s",
        machine=WriterMachine(cpus=os.cpu_count(), python=platform.python_version(),
                              loadavg_1m_start=round(load_at_start, 2),
                              loadavg_1m_end=round(os.getloadavg()[0], 2),
                              note="the machine is shared with other jobs; the load average shows how much"),
        target_items_per_s_through_spool=1000,
        results=results,
    )
    report.write(args.out)
    print(report.to_json(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
