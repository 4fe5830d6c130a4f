"""MQTT test client: send a capture command to one thing, several, or the whole fleet, and print capture
status, detection summaries and writer reports as they arrive, until every target finished or timeout.

Exit status: 0 every target finished; 1 a target rejected the command or failed; 2 bad input, no
connection, or refused by the broker (IoT policy / ACL); 3 timed out.
"""

from __future__ import annotations

import argparse
import json
import queue
import re
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fleet.mqtt import Endpoint, Message, MqttConnection, MqttError
from smartcam import topics
from smartcam.contracts import CaptureCommand, CaptureStatus, ContractError, parse

FINAL_STATES = {"finished": 0, "rejected": 1, "error": 1}
THING_NAME = re.compile(r"[a-zA-Z0-9:_-]{1,128}")
TOPIC_KINDS = (("capture/status", "status"), ("detections", "detections"), ("writer", "writer"))


class UsageError(ValueError):
    pass


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mqtt-client", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    connection = parser.add_argument_group("connection (mutual TLS)")
    connection.add_argument("--endpoint", required=True, help="IoT data endpoint (aws iot describe-endpoint "
                                                              "--endpoint-type iot:Data-ATS) or 127.0.0.1")
    connection.add_argument("--port", type=int, default=8883, help="MQTT over TLS port (default 8883)")
    connection.add_argument("--ca", type=Path, help="CA bundle (AmazonRootCA1.pem; the test CA locally)")
    connection.add_argument("--cert", type=Path, required=True, help="operator or device certificate")
    connection.add_argument("--key", type=Path, required=True, help="its private key")
    connection.add_argument("--client-id", help="MQTT client id (default operator-<random>)")
    targets = parser.add_argument_group("target").add_mutually_exclusive_group(required=True)
    targets.add_argument("--thing", action="append", help="core device thing name (repeatable)")
    targets.add_argument("--fleet", action="store_true", help="every device (smartcam/fleet/capture)")
    parser.add_argument("--expect", type=int,
                        help="with --fleet: stop once this many devices reached a final status")
    command = parser.add_argument_group("capture command (smartcam.contracts.CaptureCommand)")
    command.add_argument("--action", default="capture", choices=["capture", "start", "stop", "snapshot"],
                         help="capture: a bounded capture; start/stop: continuous; snapshot: one frame")
    command.add_argument("--camera-id", help="a camera id from the device's configuration (required unless --raw)")
    command.add_argument("--frames", type=int, help="capture this many frames")
    command.add_argument("--duration", type=float, dest="duration_s", help="capture for this many seconds")
    command.add_argument("--fps", type=float, help="frames per second (the device bounds it)")
    command.add_argument("--interval", type=float, dest="interval_s",
                         help="with start: seconds between frames instead of fps")
    command.add_argument("--no-motion-gate", dest="motion_gate", action="store_const", const=False,
                         help="capture/start: every frame goes on to the model, even where nothing moves "
                              "(the camera's motion gate is off for this request)")
    command.add_argument("--request-id", help="default: a new random id")
    command.add_argument("--raw", metavar="PAYLOAD",
                         help="send PAYLOAD exactly as given instead of a command built from the options above, "
                              "e.g. to see how a device refuses bad input")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the results")
    parser.add_argument("--connect-timeout", type=float, default=30.0, help="seconds to wait for the connection")
    args = parser.parse_args(argv)
    if args.raw is None and args.camera_id is None:
        parser.error("--camera-id is required (unless --raw)")
    return args


def raw_request_id(payload: str) -> str:
    """The request id a raw payload carries, if any; else only statuses naming no request count (what a device
    answers to a payload it cannot parse)."""
    try:
        value = json.loads(payload)
    except ValueError:
        return ""
    request_id = value.get("request_id") if isinstance(value, dict) else None
    return request_id if isinstance(request_id, str) else ""


def build_command(args: argparse.Namespace) -> CaptureCommand:
    fields = {"action": args.action, "camera_id": args.camera_id,
              "request_id": args.request_id or uuid.uuid4().hex[:16]}
    for name in ("frames", "duration_s", "fps", "interval_s", "motion_gate"):
        if getattr(args, name) is not None:
            fields[name] = getattr(args, name)
    try:
        return parse(CaptureCommand, fields)
    except ContractError as error:
        raise UsageError(f"invalid capture command: {error}") from error


def plan(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """(topics to publish the command to, topic filters to watch)."""
    if args.fleet:
        return [topics.FLEET_CAPTURE_COMMANDS], [f"smartcam/+/{suffix}" for suffix, _ in TOPIC_KINDS]
    for thing in args.thing:
        if THING_NAME.fullmatch(thing) is None:
            raise UsageError(f"{thing!r} is not a thing name (letters, digits, :_- ; no MQTT wildcards)")
    commands = [topics.iot_capture_commands(thing) for thing in args.thing]
    watched = [f"smartcam/{thing}/{suffix}" for thing in args.thing for suffix, _ in TOPIC_KINDS]
    return commands, watched


def classify(topic: str) -> tuple[str, str] | None:
    """(thing, kind) of a results topic."""
    for suffix, kind in TOPIC_KINDS:
        match = re.fullmatch(rf"smartcam/([^/]+)/{suffix}", topic)
        if match:
            return match[1], kind
    return None


class Progress:
    """Which targets reached a final capture status for our request."""

    def __init__(self, request_id: str, things: list[str] | None, expect: int | None) -> None:
        self.request_id = request_id
        self.things = things
        self.expect = expect
        self.final: dict[str, str] = {}

    def observe(self, thing: str, status: CaptureStatus) -> None:
        if status.request_id in (None, self.request_id) and status.state in FINAL_STATES:
            self.final[thing] = status.state

    @property
    def done(self) -> bool:
        if self.things is not None:
            return all(thing in self.final for thing in self.things)
        return self.expect is not None and len(self.final) >= self.expect

    def exit_status(self) -> int:
        if not self.done and (self.things is not None or self.expect is not None or not self.final):
            return 3
        return max((FINAL_STATES[state] for state in self.final.values()), default=0)


def describe(message: Message) -> tuple[str, str, Any] | None:
    found = classify(message.topic)
    if found is None:
        return None
    thing, kind = found
    try:
        payload: Any = json.loads(message.payload)
    except ValueError:
        payload = message.payload.decode(errors="replace")
    return thing, kind, payload


def run(args: argparse.Namespace, echo: Callable[[str], None] = print) -> int:
    if args.raw is not None:
        payload, request_id = args.raw.encode(), raw_request_id(args.raw)
    else:
        command = build_command(args)
        payload, request_id = command.to_bytes(), command.request_id or ""
    command_topics, watched = plan(args)
    endpoint = Endpoint(args.endpoint, args.port, args.ca, args.cert, args.key)
    progress = Progress(request_id, None if args.fleet else list(args.thing), args.expect)
    connection = MqttConnection(endpoint, args.client_id or f"operator-{uuid.uuid4().hex[:12]}")
    connection.connect(args.connect_timeout)
    try:
        for topic_filter in watched:
            connection.subscribe(topic_filter)
        for topic in command_topics:
            connection.publish(topic, payload)
            echo(f"sent      {topic}: {payload.decode(errors='replace')}")
        deadline = time.monotonic() + args.timeout
        while not progress.done:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                message = connection.messages.get(timeout=min(remaining, 1.0))
            except queue.Empty:
                continue
            handle(message, progress, echo)
    finally:
        connection.close()
    status = progress.exit_status()
    if status == 3:
        waiting = [t for t in (progress.things or []) if t not in progress.final]
        missing = f"; no final status from {', '.join(waiting)}" if waiting else ""
        echo(f"timed out after {args.timeout:g} s{missing}")
    return status


def handle(message: Message, progress: Progress, echo: Callable[[str], None]) -> None:
    described = describe(message)
    if described is None:
        return
    thing, kind, payload = described
    echo(f"{kind:9} {thing}: {json.dumps(payload, separators=(',', ':'))}")
    if kind == "status":
        try:
            progress.observe(thing, parse(CaptureStatus, message.payload))
        except ContractError as error:
            echo(f"warning   {thing}: status does not follow smartcam.capture-status/1: {error}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args, echo=lambda line: print(line, flush=True))
    except (UsageError, MqttError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
