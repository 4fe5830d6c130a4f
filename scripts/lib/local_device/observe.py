"""Watching the pipeline from outside, the way a device's own peers see it.

- ``Operator``: an MQTT 5 connection with the operator certificate (fleet.mqtt, the MQTT test client's
  code path) that sends capture commands and collects the capture status replies.
- ``PipelineObserver``: joins the runtime over IPC with the identities of SsdInference and DynamoWriter
  (what `local-greengrass env` gives) and records every frame reference and detections message.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from awsiot import greengrasscoreipc
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

from fleet.mqtt import Endpoint, MqttConnection
from local_device.process import LocalRuntime
from smartcam import topics
from smartcam.contracts import CaptureCommand, CaptureStatus, ContractError, Detections, FrameRef, TrackEvent, parse
from smartcam.ipc import Ipc

FINAL = ("finished", "rejected", "error")
COMMAND_LISTENER_TIMEOUT_S = 120.0


OPERATOR_SESSION_EXPIRY_S = 900


def operator_connection(runtime: LocalRuntime, client_id: str, session_expiry_s: int = 0) -> MqttConnection:
    """A connected MQTT 5 client with the operator certificate of this runtime's broker."""
    creds = runtime.operator()
    connection = MqttConnection(Endpoint(creds.host, creds.port, creds.ca, creds.cert, creds.key),
                                client_id, session_expiry_s)
    connection.connect()
    return connection


def new_client_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class WriterReportFeed:
    """The writer's reports on IoT Core (``smartcam/<thing>/writer``), received with the operator's identity
    on a thread of its own; each payload goes to ``on_payload``, and one that breaks a contract is skipped."""

    def __init__(self, runtime: LocalRuntime, thing: str, on_payload: Callable[[bytes], None],
                 client_prefix: str = "reports") -> None:
        self.connection = operator_connection(runtime, new_client_id(client_prefix))
        self.connection.subscribe(topics.iot_writer_reports(thing))
        self._on_payload = on_payload
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="writer-reports", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                message = self.connection.messages.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self._on_payload(message.payload)
            except ContractError:
                continue

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.connection.close()


class Operator:
    """A persistent MQTT session: an operator that connects again with ``client_id`` (e.g. after the
    runtime and its broker restarted) receives the statuses sent while it was away, as on IoT Core."""

    def __init__(self, runtime: LocalRuntime, client_id: str | None = None) -> None:
        self.thing = runtime.thing_name()
        self.client_id = client_id or new_client_id("operator")
        self.connection = operator_connection(runtime, self.client_id, OPERATOR_SESSION_EXPIRY_S)
        self.connection.subscribe(topics.iot_capture_status(self.thing))
        self.statuses: list[CaptureStatus] = []

    def send(self, command: CaptureCommand | dict[str, Any] | bytes) -> None:
        if isinstance(command, CaptureCommand):
            payload = command.to_bytes()
        elif isinstance(command, dict):
            payload = json.dumps(command).encode()
        else:
            payload = command
        # A command mosquitto delivered to nobody is lost: after a restart the component runs (RUNNING is
        # reported at process start, as by the nucleus) a moment before it has subscribed again.
        self.connection.publish_until_heard(topics.iot_capture_commands(self.thing), payload,
                                           timeout_s=COMMAND_LISTENER_TIMEOUT_S)

    def capture(self, camera_id: str, frames: int, fps: float, request_id: str | None = None) -> str:
        request_id = request_id or f"req-{uuid.uuid4().hex[:12]}"
        self.send(CaptureCommand(action="capture", camera_id=camera_id, frames=frames, fps=fps,
                                 request_id=request_id))
        return request_id

    def _drain(self, timeout: float) -> None:
        try:
            message = self.connection.messages.get(timeout=timeout)
        except queue.Empty:
            return
        self.statuses.append(parse(CaptureStatus, message.payload))

    def wait_final(self, request_id: str, timeout: float = 180.0,
                   on_status: Callable[[CaptureStatus], None] | None = None) -> CaptureStatus:
        deadline = time.monotonic() + timeout
        shown = 0
        while time.monotonic() < deadline:
            mine = [status for status in self.statuses if status.request_id == request_id]
            for status in mine[shown:]:
                if on_status:
                    on_status(status)
            shown = len(mine)
            for status in mine:
                if status.state in FINAL:
                    return status
            self._drain(0.5)
        raise TimeoutError(f"no final capture status for {request_id} within {timeout:g} s; "
                           f"got {[s.state for s in self.statuses if s.request_id == request_id]}")

    def wait_for(self, match: Callable[[CaptureStatus], bool], after: int = 0,
                 timeout: float = 120.0) -> CaptureStatus:
        """The first status (from index ``after`` on) that ``match`` accepts."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for status in self.statuses[after:]:
                if match(status):
                    return status
            self._drain(0.5)
        raise TimeoutError(f"no matching capture status within {timeout:g} s")

    def close(self) -> None:
        self.connection.close()


@dataclass
class Seen:
    frames: list[tuple[float, FrameRef]] = field(default_factory=list)  # (monotonic time seen, frame)
    detections: list[tuple[float, Detections]] = field(default_factory=list)
    events: list[tuple[float, TrackEvent]] = field(default_factory=list)


class PipelineObserver:
    def __init__(self, runtime: LocalRuntime) -> None:
        self._lock = threading.Lock()
        self._seen = Seen()
        self._ipcs: list[Ipc] = []
        for component, topic, handler in (("smartcam.SsdInference", topics.FRAMES, self._on_frame),
                                           ("smartcam.DynamoWriter", topics.DETECTIONS, self._on_detections),
                                           ("smartcam.DynamoWriter", topics.EVENTS, self._on_event)):
            env = runtime.env(component)
            client = greengrasscoreipc.connect(ipc_socket=env["AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT"],
                                               authtoken=env["SVCUID"])
            ipc = Ipc(GreengrassCoreIPCClientV2(client=client))
            ipc.subscribe(topic, handler)
            self._ipcs.append(ipc)

    def _on_frame(self, _topic: str, payload: Any) -> None:
        frame = parse(FrameRef, payload)
        with self._lock:
            self._seen.frames.append((time.monotonic(), frame))

    def _on_detections(self, _topic: str, payload: Any) -> None:
        message = parse(Detections, payload)
        with self._lock:
            self._seen.detections.append((time.monotonic(), message))

    def _on_event(self, _topic: str, payload: Any) -> None:
        message = parse(TrackEvent, payload)
        with self._lock:
            self._seen.events.append((time.monotonic(), message))

    def events(self) -> list[TrackEvent]:
        """Every TrackEvent message seen, in order (EventTracker's outbox may send one more than once)."""
        with self._lock:
            return [event for _, event in self._seen.events]

    def frames(self, request_id: str) -> list[tuple[float, FrameRef]]:
        with self._lock:
            return [(t, f) for t, f in self._seen.frames if f.request_id == request_id]

    def detections(self, request_id: str) -> list[tuple[float, Detections]]:
        with self._lock:
            return [(t, d) for t, d in self._seen.detections if d.frame.request_id == request_id]

    def wait_inferred(self, request_id: str, frames: int, timeout: float = 180.0, quiet: float = 10.0) -> int:
        """Wait until detections of ``frames`` frames of the request were seen, or none came for ``quiet``
        seconds (the rest were dropped or lost); returns of how many frames. Frames, not messages:
        SsdInference sends a frame's detections again until the writer receipts them."""
        deadline = time.monotonic() + timeout
        count, changed = -1, time.monotonic()
        while time.monotonic() < deadline:
            now = self._inferred(request_id)
            if now >= frames:
                return now
            if now != count:
                count, changed = now, time.monotonic()
            elif time.monotonic() - changed > quiet:
                return now
            time.sleep(0.25)
        return self._inferred(request_id)

    def _inferred(self, request_id: str) -> int:
        return len({message.frame.frame_id for _, message in self.detections(request_id)})

    def close(self) -> None:
        for ipc in self._ipcs:
            ipc.close()
