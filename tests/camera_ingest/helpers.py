"""Shared helpers of the camera ingest tests: real media made from a real photo, a mocked
Greengrass IPC client whose stream callbacks we can drive, and a V4L2 capture test double."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import cv2
import matplotlib
import numpy as np
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import (
    BinaryMessage,
    GetConfigurationResponse,
    IoTCoreMessage,
    JsonMessage,
    MessageContext,
    MQTTMessage,
    SubscriptionResponseMessage,
)

from camera_ingest.app import CameraIngestApp
from camera_ingest.settings import CameraIngestConfig
from smartcam import topics
from smartcam.config import LiveConfig
from smartcam.contracts import CaptureStatus, FrameRef, parse
from smartcam.ipc import Ipc

THING = "test-thing"
PHOTO = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
TERMINAL = {"rejected", "finished", "error"}


def photo() -> np.ndarray:
    image = cv2.imread(str(PHOTO))
    assert image is not None, PHOTO
    return image


def pan_frames(count: int, size: tuple[int, int]) -> list[np.ndarray]:
    """``count`` frames of ``size`` (w, h) panning across the photo, each one different."""
    source = photo()
    width, height = size
    frames = []
    for i in range(count):
        shifted = np.roll(source, shift=i * 7, axis=1)[i % 20 : i % 20 + 560, :]
        frames.append(cv2.resize(shifted, (width, height), interpolation=cv2.INTER_AREA))
    return frames


def make_video(path: Path, count: int = 30, size: tuple[int, int] = (320, 240), fps: float = 30.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for frame in pan_frames(count, size):
        writer.write(frame)
    writer.release()
    return path


def make_folder(path: Path, count: int = 4, size: tuple[int, int] = (160, 120)) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(pan_frames(count, size)):
        cv2.imwrite(str(path / f"img-{i:03d}.jpg"), frame)
    return path


def config_dict(frame_root: Path, folder: Path, **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "cameras": [
            {"id": "cam0", "source": {"type": "folder", "path": str(folder), "fps": 120}, "jpegQuality": 80},
        ],
        "frameRoot": str(frame_root),
        "ring": {"frames": 50, "megabytes": 16},
        "limits": {"maxDurationS": 5, "maxFrames": 100, "maxFps": 120, "defaultFps": 30},
        "reconnect": {"attempts": 2, "initialBackoffS": 0.01, "maxBackoffS": 0.02},
        "progressIntervalS": 3600,
        "healthIntervalS": 3600,
        "accessControl": {"aws.greengrass.ipc.pubsub": {}},
    }
    base.update(over)
    return base


class IpcHarness:
    """Ipc over MagicMock(spec=GreengrassCoreIPCClientV2): records publishes, keeps the stream
    callbacks so tests deliver real IoTCoreMessage / SubscriptionResponseMessage objects."""

    def __init__(self, configuration: dict[str, Any]) -> None:
        self.client = MagicMock(spec=GreengrassCoreIPCClientV2)
        self.configuration = configuration
        self.client.get_configuration.side_effect = lambda **_: GetConfigurationResponse(
            component_name="smartcam.CameraIngest", value=self.configuration
        )
        self.iot_handlers: dict[str, Any] = {}
        self.local_handlers: dict[str, Any] = {}
        self.config_handlers: list[Any] = []
        self.client.subscribe_to_iot_core.side_effect = self._subscribe_iot
        self.client.subscribe_to_topic.side_effect = self._subscribe_local
        self.client.subscribe_to_configuration_update.side_effect = self._subscribe_config
        self.ipc = Ipc(self.client)
        self._lock = threading.Lock()

    def _subscribe_iot(self, *, topic_name: str, on_stream_event: Any, **_: Any) -> tuple[None, MagicMock]:
        self.iot_handlers[topic_name] = on_stream_event
        return None, MagicMock()

    def _subscribe_local(self, *, topic: str, on_stream_event: Any, **_: Any) -> tuple[None, MagicMock]:
        self.local_handlers[topic] = on_stream_event
        return None, MagicMock()

    def _subscribe_config(self, *, on_stream_event: Any, **_: Any) -> tuple[None, MagicMock]:
        self.config_handlers.append(on_stream_event)
        return None, MagicMock()

    # delivering messages ------------------------------------------------------------------
    def send_iot(self, topic: str, payload: bytes) -> None:
        self.iot_handlers[topic](IoTCoreMessage(message=MQTTMessage(topic_name=topic, payload=payload)))

    def send_local_json(self, message: dict[str, Any]) -> None:
        topic = topics.LOCAL_CAPTURE_COMMANDS
        event = SubscriptionResponseMessage(
            json_message=JsonMessage(message=message, context=MessageContext(topic=topic))
        )
        self.local_handlers[topic](event)

    def send_local_binary(self, payload: bytes) -> None:
        topic = topics.LOCAL_CAPTURE_COMMANDS
        event = SubscriptionResponseMessage(
            binary_message=BinaryMessage(message=payload, context=MessageContext(topic=topic))
        )
        self.local_handlers[topic](event)

    # what was published ------------------------------------------------------------------
    def local_messages(self, topic: str) -> list[dict[str, Any]]:
        found = []
        for call in list(self.client.publish_to_topic.call_args_list):
            if call.kwargs["topic"] == topic:
                found.append(call.kwargs["publish_message"].json_message.message)
        return found

    def iot_payloads(self, topic: str) -> list[bytes]:
        return [
            call.kwargs["payload"]
            for call in list(self.client.publish_to_iot_core.call_args_list)
            if call.kwargs["topic_name"] == topic
        ]

    def statuses(self) -> list[CaptureStatus]:
        return [parse(CaptureStatus, m) for m in self.local_messages(topics.LOCAL_CAPTURE_STATUS)]

    def iot_statuses(self) -> list[CaptureStatus]:
        return [parse(CaptureStatus, p) for p in self.iot_payloads(topics.iot_capture_status(THING))]

    def frames(self) -> list[FrameRef]:
        return [parse(FrameRef, m) for m in self.local_messages(topics.FRAMES)]

    def wait_for_terminal(self, request_id: str, timeout: float = 60.0) -> CaptureStatus:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for status in self.statuses():
                if status.request_id == request_id and status.state in TERMINAL:
                    return status
            time.sleep(0.01)
        raise AssertionError(f"no terminal status for {request_id}: {self.statuses()}")

    def wait_until(self, predicate: Any, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.01)
        raise AssertionError("condition not met in time")


def build_app(configuration: dict[str, Any], **kwargs: Any) -> tuple[CameraIngestApp, IpcHarness]:
    harness = IpcHarness(configuration)
    live = LiveConfig(harness.ipc, CameraIngestConfig)
    app = CameraIngestApp(harness.ipc, live, thing=THING, **kwargs)
    return app, harness


class FakeV4l2Capture:
    """Stands in for cv2.VideoCapture(index, cv2.CAP_V4L2): delivers frames at ``fps`` like a
    camera, records what it was asked, and can 'unplug' after a number of frames."""

    instances: list[FakeV4l2Capture] = []

    def __init__(
        self,
        index: int,
        api: int,
        *,
        fps: float = 60.0,
        size: tuple[int, int] = (320, 240),
        fail_after: int | None = None,
        opens: bool = True,
    ) -> None:
        self.args = (index, api)
        self.period = 1.0 / fps
        self.frames = pan_frames(5, size)
        self.fail_after = fail_after
        self.opened = opens
        self.grabbed = 0
        self.props: dict[int, float] = {}
        self.released = False
        self._next = time.monotonic()
        FakeV4l2Capture.instances.append(self)

    def isOpened(self) -> bool:
        return self.opened

    def set(self, prop: int, value: float) -> bool:
        self.props[prop] = value
        return True

    def get(self, prop: int) -> float:
        return self.props.get(prop, 0.0)

    def grab(self) -> bool:
        if self.fail_after is not None and self.grabbed >= self.fail_after:
            return False
        now = time.monotonic()
        if self._next > now:
            time.sleep(self._next - now)
        self._next = max(self._next + self.period, time.monotonic())
        self.grabbed += 1
        return True

    def retrieve(self) -> tuple[bool, np.ndarray]:
        return True, self.frames[self.grabbed % len(self.frames)]

    def release(self) -> None:
        self.released = True
