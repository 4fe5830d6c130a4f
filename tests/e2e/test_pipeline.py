"""The whole pipeline on the local Greengrass runtime: an operator's MQTT command -> CameraIngest ->
frames -> SsdInference -> detections -> DynamoWriter -> DynamoDB Local, checked item by item."""

from __future__ import annotations

from collections import Counter

import pytest

from local_device.listeners import runtime_listeners
from tests.e2e.helpers import CAMERA, Pipeline

pytestmark = pytest.mark.integration


def test_mqtt_capture_is_stored_item_by_item(pipeline: Pipeline) -> None:
    capture = pipeline.run_capture(frames=8, fps=4)

    assert capture.final is not None and capture.final.state == "finished", capture.final
    assert capture.final.frames_captured == 8
    frame_ids = [f.frame_id for f in capture.frames]
    assert len(frame_ids) == 8 and len(set(frame_ids)) == 8
    assert [f.sequence for f in capture.frames] == list(range(capture.frames[0].sequence,
                                                              capture.frames[0].sequence + 8))
    # Every frame was inferred once and shows the one person of its photo.
    assert sorted(m.frame.frame_id for m in capture.detections) == sorted(frame_ids)
    for message in capture.detections:
        assert [d.label for d in message.detections] == ["person"], message.frame.frame_id
    # Every frame id of the request stored exactly once, as a `person` item matching what was sent.
    assert Counter(capture.stored) == Counter((frame_id, "person") for frame_id in frame_ids)
    frames = {f.frame_id: f for f in capture.frames}
    inferred = {m.frame.frame_id: m for m in capture.detections}
    for item in capture.items:
        frame, message = frames[item["frameId"]], inferred[item["frameId"]]
        assert item["device"] == pipeline.thing
        assert item["cameraId"] == CAMERA
        assert item["requestId"] == capture.request_id
        assert int(item["sequence"]) == frame.sequence
        assert float(item["capturedAt"]) == pytest.approx(frame.captured_at, abs=1e-3)
        assert int(item["count"]) == 1
        assert float(item["detections"][0]["score"]) == pytest.approx(message.detections[0].score, abs=1e-6)
        assert float(item["detections"][0]["score"]) >= 0.5
        # Every stage time of the message is stored, and the times run in order.
        latency = message.latency
        assert {k: float(v) for k, v in item["latencyMs"].items()} == pytest.approx(
            {"queue": latency.queue_ms, "read": latency.read_ms, "preprocess": latency.preprocess_ms,
             "infer": latency.infer_ms, "postprocess": latency.postprocess_ms}, abs=1e-3)
        assert float(item["capturedAt"]) < float(item["inferredAt"]) <= float(item["sentAt"]) + 0.001


@pytest.mark.parametrize("payload", [
    b"this is not json",
    b'{"schema": "smartcam.capture/1", "action": "explode", "camera_id": "cam0", "request_id": "bad-action"}',
    b'{"schema": "smartcam.capture/1", "action": "capture", "camera_id": "nope", "frames": 2, '
    b'"request_id": "bad-camera"}',
    b'{"schema": "smartcam.capture/1", "action": "capture", "camera_id": "cam0", "frames": 999999, '
    b'"request_id": "bad-frames"}',
    b'{"schema": "smartcam.capture/1", "action": "capture", "camera_id": "cam0", "frames": 2, "fps": "fast", '
    b'"request_id": "bad-fps"}',
], ids=["not-json", "unknown-action", "unknown-camera", "too-many-frames", "wrong-type"])
def test_bad_command_is_rejected_and_the_pipeline_keeps_working(pipeline: Pipeline, payload: bytes) -> None:
    request_id = None if payload.startswith(b"this") else payload.split(b'"request_id": "')[1].split(b'"')[0].decode()
    before = len(pipeline.operator.statuses)
    pipeline.operator.send(payload)

    if request_id is None:
        rejected = pipeline.operator.wait_for(lambda s: s.state == "rejected" and s.request_id is None,
                                              after=before)
    else:
        rejected = pipeline.operator.wait_final(request_id)
    assert rejected.state == "rejected"
    assert rejected.reason

    capture = pipeline.run_capture(frames=2, fps=4)
    assert capture.final is not None and capture.final.state == "finished"
    assert Counter(capture.stored) == Counter((f.frame_id, "person") for f in capture.frames)
    assert len(capture.frames) == 2


def test_redeployed_score_threshold_applies_without_restart(pipeline: Pipeline) -> None:
    before_pid = pipeline.runtime.component_process("smartcam.SsdInference").pid
    baseline = pipeline.run_capture(frames=6, fps=4)
    scores = sorted({round(m.detections[0].score, 4) for m in baseline.detections})
    assert len(scores) >= 2, f"the three photos should score differently: {scores}"
    # Between the lowest-scoring photo and the rest: that photo's detections must disappear.
    threshold = round((scores[0] + scores[1]) / 2, 4)

    pipeline.redeploy(score_threshold=threshold)
    try:
        after = pipeline.run_capture(frames=6, fps=4)
        assert pipeline.runtime.component_process("smartcam.SsdInference").pid == before_pid
        kept = [d.score for m in after.detections for d in m.detections]
        assert kept and min(kept) >= threshold
        empty = [m for m in after.detections if not m.detections]
        assert empty, "frames of the lowest-scoring photo should have no detection above the new threshold"
        assert all(float(d["score"]) >= threshold for item in after.items for d in item["detections"])
        assert Counter(after.stored) == Counter((m.frame.frame_id, "person") for m in after.detections
                                                if m.detections)
    finally:
        pipeline.redeploy()


def test_nothing_listens_beyond_loopback(pipeline: Pipeline) -> None:
    """`ss -ltnp` while the whole pipeline runs: every listener of the runtime's processes (daemon,
    components, mosquitto, DynamoDB Local, the S3 server, the credentials endpoint) is on a loopback address."""
    listeners = runtime_listeners(pipeline.runtime.root)
    ports = {listener.port for listener in listeners}
    standins = pipeline.runtime.status()["standins"]
    endpoints = [int(standins["dynamodb"].rsplit(":", 1)[1]), int(standins["s3"].rsplit(":", 1)[1]),
                 int(standins["iot_core"]["port"])]
    assert set(endpoints) <= ports, f"the stand-ins' ports {endpoints} not among the listeners seen: {listeners}"
    assert all(listener.loopback for listener in listeners), [str(x) for x in listeners if not x.loopback]
