"""Data capture for labeling end to end, on OpenCV's real pedestrian video (vtest.avi): CameraIngest (motion
gate on) -> SsdInference -> EventTracker's capture policy -> DynamoWriter -> the S3 stand-in.

Exactly once: every frame EventTracker captured (its DataCapture messages, resends folded) is receipted
``stored`` by the writer, counted once as spooled and once as uploaded in the writer's reports, and is in S3
as exactly one JPEG, one predictions file and one manifest part, and nothing else is under the camera's
prefix; the manifest parts concatenate to one Ground Truth line per frame, each naming a JPEG that is there.
The policy here takes every frame (sampleRate 1) up to its bound (maxPerHour = maxPerDay = 6): the bound is
what stops it. The camera id is new in each run, so the budget (kept in EventTracker's work folder across
runs of the runtime) and the S3 prefix start empty.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import pytest
from awsiot import greengrasscoreipc
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

from event_tracker.capture_policy import hour_of
from local_device.observe import WriterReportFeed
from local_device.overlay import LOCAL_SNAPSHOT_BUCKET
from local_greengrass.standins.child import local_client
from smartcam import topics
from smartcam.contracts import CapturePredictions, DataCapture, Receipts, WriterReport, parse
from smartcam.ipc import Ipc
from tests.camera_ingest.motion_frames import VTEST
from tests.e2e.helpers import Pipeline

pytestmark = pytest.mark.integration

TRACKER = "smartcam.EventTracker"
WRITER = "smartcam.DynamoWriter"
BOUND = 6
FRAMES, FPS = 20, 5.0
POLICY = {"enabled": True, "uncertainMin": 0.3, "uncertainMax": 0.6, "newTracks": True, "sampleRate": 1.0,
          "maxPerHour": BOUND, "maxPerDay": BOUND}
ATTRIBUTE = "smartcam-predictions"  # the writer's labelAttributeName by default


class Listener:
    """What the components report: the captures EventTracker publishes (heard as the writer), the writer's
    receipts (heard as the tracker) and its counters (its reports on IoT Core, heard as the operator)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self._lock = threading.Lock()
        self.captures: dict[str, DataCapture] = {}
        self.receipts: list[tuple[str, str]] = []
        self.reports: list[dict[str, int]] = []
        self._ipcs = [self._listen(pipeline, WRITER, topics.DATA_CAPTURES, self._on_capture),
                      self._listen(pipeline, TRACKER, topics.RECEIPTS, self._on_receipts)]
        self._feed = WriterReportFeed(pipeline.runtime, pipeline.thing, self._on_report, client_prefix="capture")

    def _on_report(self, payload: bytes) -> None:
        report = parse(WriterReport, payload)
        with self._lock:
            self.reports.append(dict(report.counters))

    def counted(self, name: str, since: int) -> int:
        """``name`` in the writer's latest report, less what it was in report number ``since``."""
        with self._lock:
            return self.reports[-1].get(name, 0) - self.reports[since].get(name, 0)

    @staticmethod
    def _listen(pipeline: Pipeline, component: str, topic: str, handler: Callable[[str, Any], None]) -> Ipc:
        env = pipeline.runtime.env(component)
        client = greengrasscoreipc.connect(ipc_socket=env["AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT"],
                                           authtoken=env["SVCUID"])
        ipc = Ipc(GreengrassCoreIPCClientV2(client=client))
        ipc.subscribe(topic, handler)
        return ipc

    def _on_capture(self, _topic: str, payload: Any) -> None:
        capture = parse(DataCapture, payload)
        with self._lock:
            self.captures[capture.frame_id] = capture  # a resend is the same capture

    def _on_receipts(self, _topic: str, payload: Any) -> None:
        receipts = parse(Receipts, payload)
        if receipts.stage == WRITER:
            with self._lock:
                self.receipts += [(r.frame_id, r.outcome) for r in receipts.captures or ()]

    def close(self) -> None:
        self._feed.close()
        for ipc in self._ipcs:
            ipc.close()


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout:g} s")
        time.sleep(0.5)


def test_captured_frames_reach_s3_once_each_with_their_manifest_line_within_the_bound(pipeline: Pipeline) -> None:
    assert VTEST.is_file(), f"{VTEST} is missing: scripts/setup-system installs it (Debian's opencv-doc)"
    camera_id = f"label{uuid.uuid4().hex[:6]}"
    camera = {"id": camera_id, "source": {"type": "file", "path": str(VTEST), "fps": 10}, "width": 768,
              "height": 576, "loop": True}
    pipeline.redeploy(camera=camera, extra={TRACKER: {"dataCapture": POLICY}})
    listener = Listener(pipeline)
    s3 = local_client("s3", pipeline.runtime.status()["standins"]["s3"])
    prefix = f"captures/{pipeline.thing}/{camera_id}/"

    def objects() -> list[str]:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=LOCAL_SNAPSHOT_BUCKET, Prefix=prefix)
        return [entry["Key"] for page in pages for entry in page.get("Contents", [])]

    try:
        wait_until(lambda: bool(listener.reports), 30, "a writer report before the capture")
        before = len(listener.reports) - 1
        request_id = pipeline.operator.capture(camera_id, FRAMES, FPS, pipeline.new_request())
        final = pipeline.operator.wait_final(request_id, timeout=120)
        assert final.state == "finished" and (final.frames_captured or 0) > BOUND
        wait_until(lambda: len(listener.captures) >= BOUND, 60, f"{BOUND} captures")
        wait_until(lambda: len(objects()) >= 3 * len(listener.captures), 60, "every capture's objects in S3")
        captures = dict(listener.captures)
        receipted = list(listener.receipts)
        # The writer's own counts, from its reports (every 5 s here): as many uploaded as captured, none lost.
        wait_until(lambda: listener.counted("capturesUploaded", before) >= len(captures), 30, "the writer's report")
        counted = {name: listener.counted(name, before) for name in ("capturesUploaded", "capturesSpooled",
                                                                      "capturesLost", "capturesMissing")}
    finally:
        listener.close()

    # Within the bound, per UTC hour (a run may straddle an hour; maxPerDay = maxPerHour bounds a day too).
    per_hour: dict[int, int] = {}
    for capture in captures.values():
        per_hour[hour_of(capture.captured_at)] = per_hour.get(hour_of(capture.captured_at), 0) + 1
    assert max(per_hour.values()) == BOUND and all(c.request_id == request_id for c in captures.values())
    assert all("random" in c.reasons for c in captures.values())
    assert any("new_track" in c.reasons for c in captures.values())  # the first people confirmed

    # What the tracker sent is what the writer receipted stored and counted, each frame once; nothing lost.
    assert sorted(set(receipted)) == sorted((frame_id, "stored") for frame_id in captures)
    assert counted == {"capturesUploaded": len(captures), "capturesSpooled": len(captures), "capturesLost": 0,
                       "capturesMissing": 0}

    # Exactly one JPEG, one predictions file and one manifest part per captured frame, nothing else.
    keys = objects()
    day = {frame_id: time.strftime("%Y-%m-%d", time.gmtime(c.captured_at)) for frame_id, c in captures.items()}
    expected = {f"{prefix}{day[f]}/{f}{suffix}" for f in captures for suffix in (".jpg", ".predictions.json",
                                                                                  ".manifest.jsonl")}
    assert sorted(keys) == sorted(expected)

    def body(key: str) -> bytes:
        return s3.get_object(Bucket=LOCAL_SNAPSHOT_BUCKET, Key=key)["Body"].read()

    manifest = b"".join(body(k) for k in sorted(keys) if k.endswith(".manifest.jsonl")).decode()
    lines = [json.loads(line) for line in manifest.splitlines()]
    assert len(lines) == len(captures)
    for line in lines:
        image_key = line["source-ref"].removeprefix(f"s3://{LOCAL_SNAPSHOT_BUCKET}/")
        frame_id = image_key.rsplit("/", 1)[1].removesuffix(".jpg")
        capture = captures[frame_id]
        picture = cv2.imdecode(np.frombuffer(body(image_key), np.uint8), cv2.IMREAD_COLOR)
        assert picture is not None and picture.shape[:2] == (576, 768)  # the camera's JPEG, whole
        label, metadata = line[ATTRIBUTE], line[f"{ATTRIBUTE}-metadata"]
        assert label["image_size"] == [{"width": 768, "height": 576, "depth": 3}]
        assert len(label["annotations"]) == len(metadata["objects"]) == len(capture.detections)
        for annotation in label["annotations"]:
            assert annotation["left"] + annotation["width"] <= 768 and annotation["top"] + annotation["height"] <= 576
        assert metadata["type"] == "groundtruth/object-detection" and metadata["human-annotated"] == "no"
        predictions = parse(CapturePredictions, body(image_key.removesuffix(".jpg") + ".predictions.json"))
        assert (predictions.detections, predictions.candidates) == (capture.detections, capture.candidates)
