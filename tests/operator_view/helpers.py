"""Real frames in a real ring, and the messages a pipeline publishes about them, for OperatorView's tests."""

from __future__ import annotations

import http.client
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from operator_view.page_usage import PAGE_ID_HEADER
from smartcam.contracts import (
    Box,
    Detection,
    Detections,
    FrameRef,
    Health,
    ModelInfo,
    SnapshotRef,
    StageLatency,
    TrackEvent,
)
from smartcam.frames import FrameRing, ensure_private_dir, write_private_file

T0 = 1_780_000_000.0
WIDTH, HEIGHT = 64, 48


def image(shade: int = 128) -> np.ndarray:
    return np.full((HEIGHT, WIDTH, 3), shade, np.uint8)


def jpeg(shade: int = 128) -> bytes:
    ok, data = cv2.imencode(".jpg", image(shade))
    assert ok
    return data.tobytes()


def shade_of(data: bytes) -> int:
    """The one grey level of a flat JPEG (a flat image survives JPEG exactly)."""
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None and decoded.shape == (HEIGHT, WIDTH, 3)
    assert int(decoded.min()) == int(decoded.max())
    return int(decoded[0, 0, 0])


def write_frame(ring: FrameRing, at: float = T0, shade: int = 128) -> FrameRef:
    return ring.write(image(shade), captured_at=at, captured_monotonic_ns=int(at * 1e9))


def detections(frame: FrameRef, boxes: int = 1) -> Detections:
    found = [Detection(label="person", class_id=1, score=0.9, box=Box(x1=0.1, y1=0.2, x2=0.3, y2=0.6))
             for _ in range(boxes)]
    return Detections(frame=frame, detections=found, model=ModelInfo(name="ssd", version="1", backend="dlr"),
                      latency=StageLatency(read_ms=1, preprocess_ms=1, infer_ms=20, postprocess_ms=1),
                      inferred_at=frame.captured_at + 0.1)


def health(component: str = "smartcam.CameraIngest", state: str = "ok", at: float | None = None) -> Health:
    return Health(component=component, state=state, detail="fine", counters={"framesIn": 3},  # type: ignore[arg-type]
                  at=at if at is not None else time.time())


@dataclass(frozen=True)
class Snapshot:
    ref: SnapshotRef
    full: bytes
    crop: bytes


def write_snapshot(root: Path, event_id: str, frame_id: str = "cam0-abc-1") -> Snapshot:
    """A snapshot as EventTracker keeps it: ``<root>/<event id>/<frame id>.{full,crop}.jpg``."""
    folder = root / event_id
    ensure_private_dir(folder)
    full, crop = jpeg(200), jpeg(40)
    write_private_file(folder / f"{frame_id}.full.jpg", full)
    write_private_file(folder / f"{frame_id}.crop.jpg", crop)
    ref = SnapshotRef(frame_id=frame_id, captured_at=T0, score=0.9, box=Box(x1=0.1, y1=0.2, x2=0.3, y2=0.6),
                      path=str(folder / f"{frame_id}.full.jpg"), crop_path=str(folder / f"{frame_id}.crop.jpg"),
                      bytes=len(full) + len(crop))
    return Snapshot(ref, full, crop)


def event(event_id: str = "cam0.1.1", sequence: int = 0, kind: str = "start",
          snapshot: SnapshotRef | None = None) -> TrackEvent:
    return TrackEvent(event_id=event_id, kind=kind, sequence=sequence, camera_id="cam0", track_id=1,  # type: ignore[arg-type]
                      label="person", first_seen=T0, last_seen=T0 + sequence, duration_s=float(sequence),
                      best_score=0.9, frames=3 + sequence, path=[], snapshot=snapshot,
                      end_reason="unseen" if kind == "end" else None, sent_at=T0 + sequence)


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def request(port: int, path: str, method: str = "GET", headers: dict[str, str] | None = None) -> Reply:
    """One HTTP request to 127.0.0.1:``port`` (http.client: any method, any Host header)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, headers={"Host": f"127.0.0.1:{port}", **(headers or {})})
        response = connection.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def polled(port: int, page_id: str, *paths: str) -> None:
    """``paths`` requested as the page polls them: with its page id."""
    for path in paths:
        assert request(port, path, headers={PAGE_ID_HEADER: page_id}).status == 200
