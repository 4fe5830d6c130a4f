"""Shared helpers of the camera ingest tests: real media made from a real photo, the fake nucleus
with the capture tests' readers, and a V4L2 capture test double."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import cv2
import matplotlib
import numpy as np

from camera_ingest.app import CameraIngestApp
from camera_ingest.settings import CameraIngestConfig
from smartcam import topics
from smartcam.config import LiveConfig
from smartcam.contracts import CaptureStatus, FrameReceipt, FrameRef, Outcome, Receipts, parse
from tests.support.fake_nucleus import FakeNucleus, wait_until

THING = "test-thing"
PHOTO = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
TERMINAL = {"rejected", "finished", "error"}
INFERENCE = "smartcam.SsdInference"
WRITER = "smartcam.DynamoWriter"


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


def config_dict(folder: Path, **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "cameras": [
            # Off: these tests count every frame taken (the pans of a tiny photo are mostly one big change,
            # which the gate keeps back as a change of light); test_session.py and test_cameras.py run it.
            {"id": "cam0", "source": {"type": "folder", "path": str(folder), "fps": 120}, "jpegQuality": 80,
             "motion": {"enabled": False}},
        ],
        "ring": {"frames": 50, "megabytes": 16},
        "limits": {"maxDurationS": 5, "maxFrames": 100, "maxFps": 120, "defaultFps": 30},
        "reconnect": {"attempts": 2, "initialBackoffS": 0.01, "maxBackoffS": 0.02},
        "progressIntervalS": 3600,
        "healthIntervalS": 3600,
        # No pipeline sends receipts here: a final status goes out when its capture ends, every frame
        # pending. The tests of the receipts set their own.
        "accountWithinS": 0,
        "accessControl": {"aws.greengrass.ipc.pubsub": {}},
    }
    base.update(over)
    return base


class IngestNucleus(FakeNucleus):
    """The fake nucleus, with what the capture tests read and send in their own words."""

    live: LiveConfig[CameraIngestConfig]  # the component's configuration, as build_app made it

    def send_local_json(self, message: dict[str, Any]) -> None:
        self.send(topics.LOCAL_CAPTURE_COMMANDS, message)

    def send_local_binary(self, payload: bytes) -> None:
        self.send_binary(topics.LOCAL_CAPTURE_COMMANDS, payload)

    def statuses(self) -> list[CaptureStatus]:
        return self.parsed(CaptureStatus, topics.LOCAL_CAPTURE_STATUS)

    def iot_statuses(self) -> list[CaptureStatus]:
        return [parse(CaptureStatus, p) for p in self.iot_payloads(topics.iot_capture_status(THING))]

    def frames(self) -> list[FrameRef]:
        """Every FrameRef published, each resend included."""
        return self.parsed(FrameRef, topics.FRAMES)

    def first_sends(self) -> list[FrameRef]:
        return [ref for ref in self.frames() if not ref.resent]

    def resends(self) -> list[FrameRef]:
        return [ref for ref in self.frames() if ref.resent]

    def send_receipts(self, stage: str, instance: str, decided: list[tuple[FrameRef, Outcome]]) -> None:
        """One Receipts message of ``stage`` (run ``instance``) on smartcam/receipts."""
        receipts = [FrameReceipt(frame_id=ref.frame_id, camera_id=ref.camera_id, request_id=ref.request_id,
                                 outcome=outcome, items=1 if outcome == "stored" else 0) for ref, outcome in decided]
        self.send(topics.RECEIPTS, Receipts(stage=stage, instance=instance, at=time.time(), receipts=receipts))

    def statuses_of(self, request_id: str) -> list[CaptureStatus]:
        return [s for s in self.statuses() if s.request_id == request_id]

    def wait_for_status(self, request_id: str, state: str, containing: str = "", timeout: float = 60.0
                        ) -> CaptureStatus:
        """The first status of ``request_id`` in ``state`` whose reason contains ``containing``."""
        found: list[CaptureStatus] = []

        def seen() -> bool:
            found[:] = [s for s in self.statuses_of(request_id)
                        if s.state == state and containing in (s.reason or "")]
            return bool(found)

        wait_until(seen, timeout, f"a {state} status of {request_id}")
        return found[0]

    def wait_for_terminal(self, request_id: str, timeout: float = 60.0) -> CaptureStatus:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for status in self.statuses():
                if status.request_id == request_id and status.state in TERMINAL:
                    return status
            time.sleep(0.01)
        raise AssertionError(f"no terminal status for {request_id}: {self.statuses()}")

    def wait_until(self, predicate: Any, timeout: float = 60.0) -> None:
        wait_until(predicate, timeout)


def build_app(configuration: dict[str, Any], frame_root: Path, **kwargs: Any) -> tuple[CameraIngestApp, IngestNucleus]:
    harness = IngestNucleus(configuration, "smartcam.CameraIngest")
    live = harness.live = LiveConfig(harness.ipc, CameraIngestConfig)
    app = CameraIngestApp(harness.ipc, live, thing=THING, frame_root=frame_root, **kwargs)
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
