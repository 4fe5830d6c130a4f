#!/usr/bin/env python3
"""Benchmark of the local Greengrass IPC server with the real awsiotsdk client in two processes.

    .venv/bin/python scripts/bench.py ipc [--round-trips 2000] [--messages 20000] [--out docs/bench/ipc.json]

Round trip: process A publishes a small JSON message on bench/ping, process B echoes it on
bench/pong, A waits for it before the next one. One way: A publishes as fast as the client allows
(a window of async publishes), B checks that every message arrives once and in order (single-worker
executor) and reports the rate from A's first publish to B's last receive (CLOCK_MONOTONIC is
system-wide). The IPC server runs in this process, as in the runtime.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.results import IpcResult, IpcTargets, Machine, OneWay, RoundTrip, SampleMessage
from repo_layout import REPO_ROOT as REPO

PING, PONG, STREAM = "bench/ping", "bench/pong", "bench/stream"
WINDOW = 256
TARGET_P50_MS = 1.5
TARGET_MSGS_PER_S = 2500


def small_message(seq: int) -> dict[str, Any]:
    return {"seq": seq, "label": "person", "score": 0.87, "box": [0.12, 0.2, 0.55, 0.9], "frame": "f-000123"}


# worker side (child processes) ---------------------------------------------------------------------
def _client() -> Any:
    from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

    return GreengrassCoreIPCClientV2(executor=concurrent.futures.ThreadPoolExecutor(max_workers=1))


def _json_publish(client: Any, topic: str, message: dict[str, Any]) -> concurrent.futures.Future:
    from awsiot.greengrasscoreipc.model import JsonMessage, PublishMessage

    message_shape = PublishMessage(json_message=JsonMessage(message=message))
    return client.publish_to_topic_async(topic=topic, publish_message=message_shape)


def _say(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def role_echo(count: int) -> None:
    client = _client()
    done = threading.Event()
    seen = {"n": 0}

    def on_ping(event: Any) -> None:
        _json_publish(client, PONG, event.json_message.message)
        seen["n"] += 1
        if seen["n"] >= count:
            done.set()

    client.subscribe_to_topic(topic=PING, on_stream_event=on_ping)
    _say(ready=True)
    done.wait(600)
    time.sleep(0.2)
    client.close()


def role_pinger(count: int, warmup: int) -> None:
    client = _client()
    pongs: queue.Queue[int] = queue.Queue()
    client.subscribe_to_topic(topic=PONG, on_stream_event=lambda e: pongs.put(e.json_message.message["seq"]))
    samples: list[float] = []
    mismatched = 0
    for seq in range(warmup + count):
        start = time.perf_counter()
        _json_publish(client, PING, small_message(seq))
        got = pongs.get(timeout=30)
        elapsed = time.perf_counter() - start
        mismatched += got != seq
        if seq >= warmup:
            samples.append(elapsed * 1000)
    client.close()
    _say(samples_ms=samples, mismatched=mismatched)


def role_receiver(count: int) -> None:
    client = _client()
    state = {"received": 0, "in_order": True, "next": 0, "last": 0.0}
    done = threading.Event()

    def on_message(event: Any) -> None:
        seq = event.json_message.message["seq"]
        if seq != state["next"]:
            state["in_order"] = False
        state["next"] = seq + 1
        state["received"] += 1
        if state["received"] >= count:
            state["last"] = time.monotonic()
            done.set()

    client.subscribe_to_topic(topic=STREAM, on_stream_event=on_message)
    _say(ready=True)
    finished = done.wait(600)
    client.close()
    _say(received=state["received"], in_order=state["in_order"], finished=finished, last=state["last"])


def role_sender(count: int) -> None:
    client = _client()
    window: list[concurrent.futures.Future] = []
    start = time.monotonic()
    for seq in range(count):
        window.append(_json_publish(client, STREAM, small_message(seq)))
        if len(window) >= WINDOW:
            for future in window:
                future.result(60)
            window.clear()
    for future in window:
        future.result(60)
    published = time.monotonic()
    client.close()
    _say(start=start, published=published)


# orchestration ---------------------------------------------------------------------------------------
class Worker:
    def __init__(self, role: str, socket_path: Path, token: str, *args: str) -> None:
        env = {**os.environ, "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT": str(socket_path), "SVCUID": token}
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--role", role, *args], stdout=subprocess.PIPE, text=True, env=env
        )

    def read(self, timeout: float = 600) -> dict[str, Any]:
        result: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None
        threading.Thread(target=lambda: result.put(self.process.stdout.readline()), daemon=True).start()
        line = result.get(timeout=timeout)
        if not line:
            raise RuntimeError(f"worker exited with {self.process.wait()}")
        return json.loads(line)

    def finish(self) -> None:
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run(round_trips: int, messages: int, warmup: int) -> IpcResult:
    from local_greengrass.configuration.store import ConfigStore
    from local_greengrass.ipc.server import IpcServer

    access = {"aws.greengrass.ipc.pubsub": {"bench:1": {"operations": ["*"], "resources": ["bench/*"]}}}
    config = ConfigStore()
    for name in ("bench.A", "bench.B"):
        config.set_component(name, {"accessControl": access})
    workdir = Path(tempfile.mkdtemp(prefix="ggbench-"))  # short path: sun_path holds 108 bytes
    server = IpcServer(workdir / "ipc.sock", config)
    server.start()
    try:
        token_a, token_b = server.add_component("bench.A"), server.add_component("bench.B")

        echo = Worker("echo", server.socket_path, token_b, "--count", str(round_trips + warmup))
        echo.read()
        pinger = Worker("pinger", server.socket_path, token_a, "--count", str(round_trips), "--warmup", str(warmup))
        rtt = pinger.read()
        pinger.finish()
        echo.finish()

        receiver = Worker("receiver", server.socket_path, token_b, "--count", str(messages))
        receiver.read()
        sender = Worker("sender", server.socket_path, token_a, "--count", str(messages))
        sent = sender.read()
        received = receiver.read()
        sender.finish()
        receiver.finish()
    finally:
        server.stop()
        os.rmdir(workdir)

    samples = rtt["samples_ms"]
    elapsed = received["last"] - sent["start"]
    rate = received["received"] / elapsed if received["finished"] and elapsed > 0 else 0.0
    p50 = statistics.median(samples)
    return IpcResult(
        command="make bench  (or: .venv/bin/python scripts/bench.py ipc)",
        when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        machine=Machine.here(),
        client=(
            f"awsiotsdk {metadata.version('awsiotsdk')} GreengrassCoreIPCClientV2, awscrt {metadata.version('awscrt')}"
        ),
        message=SampleMessage(**small_message(0)),
        round_trip=RoundTrip(
            count=len(samples),
            warmup=warmup,
            p50_ms=round(p50, 3),
            p90_ms=round(percentile(samples, 0.90), 3),
            p99_ms=round(percentile(samples, 0.99), 3),
            max_ms=round(max(samples), 3),
            mismatched=rtt["mismatched"],
        ),
        one_way=OneWay(
            messages=messages,
            received=received["received"],
            lost=messages - received["received"],
            in_order=received["in_order"],
            messages_per_s=round(rate),
            publisher_window=WINDOW,
        ),
        targets=IpcTargets(
            p50_round_trip_ms=TARGET_P50_MS,
            one_way_messages_per_s=TARGET_MSGS_PER_S,
            met=p50 <= TARGET_P50_MS
            and rate >= TARGET_MSGS_PER_S
            and received["received"] == messages
            and received["in_order"]
            and rtt["mismatched"] == 0,
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--round-trips", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "bench" / "ipc.json")
    parser.add_argument("--role", choices=["echo", "pinger", "receiver", "sender"], help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.role == "echo":
        role_echo(args.count)
    elif args.role == "pinger":
        role_pinger(args.count, args.warmup)
    elif args.role == "receiver":
        role_receiver(args.count)
    elif args.role == "sender":
        role_sender(args.count)
    else:
        result = run(args.round_trips, args.messages, args.warmup)
        result.write(args.out)
        print(result.model_dump_json(include={"round_trip", "one_way", "targets"}, indent=2))


if __name__ == "__main__":
    main()
