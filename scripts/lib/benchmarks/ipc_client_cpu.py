#!/usr/bin/env python3
"""CPU the awsiotsdk IPC client spends per local pub/sub message, as SsdInference sends and receives them.

    .venv/bin/python -m benchmarks.ipc_client_cpu [--messages 1500] [--rate 150] [--message detections|frame]

The repo's local IPC server runs in this process; a sender process publishes ``--messages`` contracts
(a Detections message with 3 detections and 2 candidates, or a FrameRef) through :class:`smartcam.ipc.Ipc`
``publish_nowait`` at ``--rate`` per second, a receiver process parses each with ``contracts.parse`` in its
subscription handler (one executor worker, as the components' main.py). Each reports its process CPU per
message (the sender's includes its pacing sleeps, ~10 us). Issue 15: the client's share of SsdInference's
CPU per frame, which no change in the component removes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess  # nosec B404
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from smartcam.contracts import Box, Contract, Detection, Detections, FrameRef, ModelInfo, StageLatency, parse
from smartcam.ipc import Ipc

TOPIC = "smartcam/bench-ipc-client"
MESSAGES: dict[str, type[Contract]] = {"detections": Detections, "frame": FrameRef}


def sample(kind: str) -> Contract:
    frame = FrameRef(frame_id="cam0-abcdef-12", camera_id="cam0", slot=3, sequence=12, captured_at=time.time(),
                     captured_monotonic_ns=time.monotonic_ns(), width=640, height=480, format="bgr8")
    if kind == "frame":
        return frame

    def person(i: int) -> Detection:
        return Detection(label="person", class_id=1, score=0.5 + i / 100,
                         box=Box(x1=0.1, y1=0.2, x2=0.3 + i / 100, y2=0.4))

    return Detections(frame=frame, detections=[person(i) for i in range(3)], candidates=[person(i) for i in range(2)],
                      model=ModelInfo(name="ssd", version="1.0.0", backend="dlr", variant="dlr-avx512"),
                      latency=StageLatency(queue_ms=1.2, read_ms=0.3, preprocess_ms=0.1, infer_ms=11.2,
                                           postprocess_ms=0.4),
                      inferred_at=time.time())


def _ipc() -> Ipc:
    from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

    return Ipc(GreengrassCoreIPCClientV2(executor=ThreadPoolExecutor(max_workers=1)))


def _say(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def role_sender(kind: str, count: int, rate: float) -> None:
    ipc, message = _ipc(), sample(kind)
    failures: list[BaseException] = []
    time.sleep(1.0)  # the receiver's subscription settles
    start, cpu = time.monotonic(), time.process_time()
    for i in range(count):
        ipc.publish_nowait(TOPIC, message, failures.append)
        delay = start + (i + 1) / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    time.sleep(0.5)  # the last answers come back
    _say(cpu_us_per_message=round((time.process_time() - cpu) / count * 1e6, 1), failures=len(failures))


def role_receiver(kind: str, count: int, rate: float) -> None:
    ipc, model = _ipc(), MESSAGES[kind]
    received, first_cpu, done = [0], [0.0], threading.Event()

    def handler(topic: str, payload: Any) -> None:
        if received[0] == 0:
            first_cpu[0] = time.process_time()
        parse(model, payload)
        received[0] += 1
        if received[0] >= count:
            done.set()

    ipc.subscribe(TOPIC, handler)
    _say(ready=True)
    done.wait(count / rate + 60)
    _say(cpu_us_per_message=round((time.process_time() - first_cpu[0]) / max(received[0], 1) * 1e6, 1),
         received=received[0])


def run(kind: str, count: int, rate: float) -> dict[str, Any]:
    from local_greengrass.configuration.store import ConfigStore
    from local_greengrass.ipc.server import IpcServer

    access = {"aws.greengrass.ipc.pubsub": {"bench:1": {"operations": ["*"], "resources": [TOPIC]}}}
    config = ConfigStore()
    for name in ("bench.Sender", "bench.Receiver"):
        config.set_component(name, {"accessControl": access})
    workdir = Path(tempfile.mkdtemp(prefix="ggcpu-"))  # short path: sun_path holds 108 bytes
    server = IpcServer(workdir / "ipc.sock", config)
    server.start()
    try:
        def spawn(role: str, name: str) -> subprocess.Popen[str]:
            env = {**os.environ, "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT": str(server.socket_path),
                   "SVCUID": server.add_component(name)}
            return subprocess.Popen(  # nosec B603
                [sys.executable, "-m", "benchmarks.ipc_client_cpu", "--role", role, "--message", kind,
                 "--messages", str(count), "--rate", str(rate)], stdout=subprocess.PIPE, text=True, env=env)

        receiver = spawn("receiver", "bench.Receiver")
        assert receiver.stdout is not None
        json.loads(receiver.stdout.readline())  # ready
        sender = spawn("sender", "bench.Sender")
        assert sender.stdout is not None
        sent = json.loads(sender.stdout.readline())
        got = json.loads(receiver.stdout.readline())
        sender.wait(60)
        receiver.wait(60)
    finally:
        server.stop()
        os.rmdir(workdir)
    return {"message": kind, "messages": count, "rate": rate, "sender": sent, "receiver": got}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1500)
    parser.add_argument("--rate", type=float, default=150.0, help="messages per second")
    parser.add_argument("--message", choices=sorted(MESSAGES), default="detections")
    parser.add_argument("--role", choices=("sender", "receiver"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role:
        (role_sender if args.role == "sender" else role_receiver)(args.message, args.messages, args.rate)
        return 0
    print(json.dumps(run(args.message, args.messages, args.rate)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
