"""Data captures through the writer: received into the durable spool (a CaptureReceipt out), then three
objects each in the S3 stand-in exactly once, also when the sender is killed between S3 taking an
object and the spool recording it (the event spool's kill -9 tests, for captures)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dynamo_writer.capture_receiver import CaptureReceiver
from dynamo_writer.capture_sender import CaptureSender
from dynamo_writer.capture_spool import CaptureSpool
from dynamo_writer.ground_truth import capture_keys
from dynamo_writer.snapshots import SnapshotCopier, make_s3_client
from repo_layout import REPO_ROOT
from smartcam.contracts import CapturePredictions, CaptureReceipt, DataCapture, Detection, ModelInfo, parse
from smartcam.telemetry import Counters
from tests.dynamo_writer.helpers import BASE_TIME, DEVICE, config, jpeg

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).with_name("capture_sender_process.py")
CAPTURES = 6


class Receipts:
    def __init__(self) -> None:
        self.captures: list[CaptureReceipt] = []

    def add_capture(self, receipt: CaptureReceipt) -> None:
        self.captures.append(receipt)


def data_capture(source: Path, n: int, **over: Any) -> tuple[DataCapture, bytes]:
    """Capture ``n`` as EventTracker sends it, its JPEG in ``source`` (EventTracker's captures folder)."""
    frame_id = f"cam1-ab-{n}"
    picture = jpeg(64, 48, seed=n)
    source.mkdir(parents=True, exist_ok=True)
    (source / f"{frame_id}.jpg").write_bytes(picture)
    person = Detection.model_validate({"label": "person", "class_id": 1, "score": 0.5,
                                       "box": {"x1": 0.25, "y1": 0.25, "x2": 0.5, "y2": 1.0}})
    fields = {"frame_id": frame_id, "camera_id": "cam1", "captured_at": BASE_TIME + n, "width": 64, "height": 48,
              "reasons": ["uncertain"], "best_score": 0.5, "detections": [person],
              "model": ModelInfo(name="ssd", version="1", backend="onnxruntime"),
              "path": str(source / f"{frame_id}.jpg"), "bytes": len(picture), "sent_at": BASE_TIME + n, **over}
    return DataCapture.model_validate(fields), picture


class Rig:
    def __init__(self, tmp_path: Path, bucket: str | None, *, s3_client_factory: Any = make_s3_client,
                 **settings: Any) -> None:
        self.source = tmp_path / "tracker"
        self.source.mkdir(parents=True, exist_ok=True)
        self.spool = CaptureSpool(tmp_path / "spool.sqlite3")
        self.copier = SnapshotCopier(self.source, tmp_path / "captures")
        self.cfg = config(snapshotBucket=bucket, **settings) if bucket else config(**settings)
        self.counters = Counters()
        self.receipts = Receipts()
        self.sender = CaptureSender(self.spool, self.copier, lambda: self.cfg, self.counters,
                                    s3_client_factory=s3_client_factory)
        self.receiver = CaptureReceiver(self.spool, lambda: self.cfg, self.counters, DEVICE, lambda: None,
                                        copier=self.copier, receipts=self.receipts)

    def drain(self) -> None:
        for _ in range(100):
            if self.sender.step() is None:
                return
        raise AssertionError(f"captures not drained: {self.sender.last_error}")

    def outcomes(self) -> list[tuple[str, str]]:
        return [(r.frame_id, r.outcome) for r in self.receipts.captures]


def bucket_objects(s3: Any, bucket: str) -> dict[str, bytes]:
    client = s3.client()
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {key: client.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


def assert_each_capture_once(objects: dict[str, bytes], bucket: str, pictures: dict[str, bytes]) -> None:
    """Three objects per capture and no other; the manifest parts concatenate to one line per capture."""
    assert len(objects) == 3 * len(pictures)
    images = {k.rsplit("/", 1)[1].removesuffix(".jpg"): v for k, v in objects.items() if k.endswith(".jpg")}
    assert images == pictures
    for frame_id in pictures:
        keys = capture_keys("captures", DEVICE, "cam1", BASE_TIME, frame_id)  # same UTC day for all
        assert {keys.image, keys.predictions, keys.manifest} <= set(objects)
    parts = sorted(k for k in objects if k.endswith(".manifest.jsonl"))
    manifest = b"".join(objects[k] for k in parts).decode().splitlines()
    assert len(manifest) == len(pictures)
    for line in manifest:
        source = json.loads(line)["source-ref"]
        assert source.startswith(f"s3://{bucket}/captures/{DEVICE}/cam1/")
        assert source.removeprefix(f"s3://{bucket}/") in objects
    for key in (k for k in objects if k.endswith(".predictions.json")):
        predictions = parse(CapturePredictions, objects[key])
        assert predictions.image.removeprefix(f"s3://{bucket}/") in objects


def test_captures_reach_s3_as_three_objects_each_and_a_resent_one_changes_nothing(s3_env, bucket, tmp_path):
    rig = Rig(tmp_path, bucket)
    pictures = {}
    for n in range(CAPTURES):
        capture, picture = data_capture(rig.source, n)
        pictures[capture.frame_id] = picture
        assert rig.receiver.on_message("smartcam/data-captures", capture.to_message()) == "stored"
    assert rig.outcomes() == [(f, "stored") for f in pictures]
    assert rig.spool.depth() == (CAPTURES, sum(len(p) for p in pictures.values()))
    rig.drain()
    objects = bucket_objects(s3_env, bucket)
    assert_each_capture_once(objects, bucket, pictures)
    assert rig.counters["capturesUploaded"] == CAPTURES and rig.spool.depth() == (0, 0)
    assert not list((tmp_path / "captures").rglob("*.jpg"))  # the copies are deleted once in S3

    again, _ = data_capture(rig.source, 0)  # EventTracker did not get the receipt and sends it again
    assert rig.receiver.on_message("smartcam/data-captures", again.to_message()) == "duplicate"
    assert rig.outcomes()[-1] == (again.frame_id, "stored")
    rig.drain()
    assert rig.counters["capturesUploaded"] == CAPTURES and bucket_objects(s3_env, bucket) == objects
    rig.spool.close()


def test_a_capture_that_cannot_be_stored_is_receipted_lost_with_the_reason(s3_env, bucket, tmp_path):
    rig = Rig(tmp_path, bucket, maxSpoolCaptures=1)
    first, _ = data_capture(rig.source, 1)
    assert rig.receiver.on_message("t", first.to_message()) == "stored"
    full, _ = data_capture(rig.source, 2)
    assert rig.receiver.on_message("t", full.to_message()) == "lost"  # the spool holds maxSpoolCaptures
    elsewhere = tmp_path / "elsewhere"
    outside, _ = data_capture(elsewhere, 3)
    assert rig.receiver.on_message("t", outside.to_message()) == "lost"  # not in EventTracker's folder
    wrong, _ = data_capture(rig.source, 4, bytes=5)
    assert rig.receiver.on_message("t", wrong.to_message()) == "lost"  # not the JPEG the message describes
    details = [r.detail for r in rig.receipts.captures[1:]]
    assert "maxSpoolCaptures" in details[0] and "not in the snapshot folder" in details[1] and "bytes" in details[2]
    assert rig.receiver.on_message("t", b'{"schema": "smartcam.data-capture/1"}') is None  # no receipt
    assert rig.counters["capturesInvalid"] == 1 and len(rig.receipts.captures) == 4
    no_bucket = Rig(tmp_path / "b", None)
    capture, _ = data_capture(no_bucket.source, 5)
    assert no_bucket.receiver.on_message("t", capture.to_message()) == "lost"
    assert "snapshotBucket" in (no_bucket.receipts.captures[0].detail or "")
    for r in (rig, no_bucket):
        r.spool.close()


def test_a_jpeg_copy_that_vanished_finishes_the_capture_without_objects(s3_env, bucket, tmp_path):
    rig = Rig(tmp_path, bucket)
    capture, _ = data_capture(rig.source, 1)
    rig.receiver.on_message("t", capture.to_message())
    for copy in rig.spool.copies():
        copy.unlink()
    rig.drain()
    assert rig.counters["capturesMissing"] == 1 and rig.spool.depth() == (0, 0)
    assert bucket_objects(s3_env, bucket) == {}
    rig.spool.close()


def test_at_start_copies_no_capture_names_are_deleted(s3_env, bucket, tmp_path):
    rig = Rig(tmp_path, bucket)
    capture, _ = data_capture(rig.source, 1)
    rig.receiver.on_message("t", capture.to_message())
    stray = tmp_path / "captures" / "cam1-zz-9" / "cam1-zz-9.jpg"  # copied, then a crash before the commit
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"\xff\xd8\xff")
    rig.receiver.start()
    assert not stray.exists() and rig.spool.copies() and all(p.exists() for p in rig.spool.copies())
    rig.spool.close()


# kill -9 between S3 taking an object and the spool recording it -------------------------------------
def spool_captures(tmp_path: Path, bucket: str) -> dict[str, bytes]:
    rig = Rig(tmp_path, bucket)
    pictures = {}
    for n in range(CAPTURES):
        capture, picture = data_capture(rig.source, n)
        pictures[capture.frame_id] = picture
        assert rig.receiver.on_message("t", capture.to_message()) == "stored"
    rig.spool.close()
    return pictures


def sender_process(spool_path: Path, bucket: str, *extra: str) -> tuple[int, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT / "components" / "Runtime"), str(REPO_ROOT / "components" / "DynamoWriter")])
    done = subprocess.run([sys.executable, str(SCRIPT), str(spool_path), bucket, *extra], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("calls", [1, 2, 3, 7, 3 * CAPTURES])  # the image, predictions, manifest, mid-way, last
def test_killed_after_s3_took_an_object_before_the_spool_knew_each_capture_is_still_once(s3_env, bucket, tmp_path,
                                                                                         calls):
    pictures = spool_captures(tmp_path, bucket)
    spool_path = tmp_path / "spool.sqlite3"
    code, out = sender_process(spool_path, bucket, "--die-after-calls", str(calls))
    assert code == -signal.SIGKILL, out
    spool = CaptureSpool(spool_path)
    assert spool.depth()[0] == CAPTURES - (calls - 1) // 3  # the capture of the killing call stays pending
    code, out = sender_process(spool_path, bucket)
    assert code == 0, out
    # Only the object whose record the kill prevented is put again, not the capture's earlier ones.
    assert f"drained after {3 * CAPTURES - calls + 1} calls" in out
    assert spool.depth() == (0, 0)
    assert_each_capture_once(bucket_objects(s3_env, bucket), bucket, pictures)
    assert not list((tmp_path / "captures").rglob("*.jpg"))
    spool.close()


def test_s3_unreachable_keeps_the_capture_spooled_and_it_goes_once_s3_is_back(s3_env, bucket, tmp_path, monkeypatch):
    rig = Rig(tmp_path, bucket)
    capture, picture = data_capture(rig.source, 1)
    rig.receiver.on_message("t", capture.to_message())
    endpoint = os.environ["AWS_ENDPOINT_URL_S3"]
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")  # nothing listens there
    rig.sender = CaptureSender(rig.spool, rig.copier, lambda: rig.cfg, rig.counters,
                               s3_client_factory=make_s3_client)
    assert rig.sender.step() > 0 and rig.sender.last_error.startswith("s3 ")
    assert rig.spool.depth()[0] == 1 and rig.counters["networkErrors"] == 1
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)  # the client was dropped: the next one reads it again
    rig.drain()
    assert rig.sender.last_error is None
    assert_each_capture_once(bucket_objects(s3_env, bucket), bucket, {capture.frame_id: picture})
    rig.spool.close()
