"""The writer's data captures at their edges: what S3 has is recorded object by object, the spool's
bounds, forgetting uploaded captures, the bucket made once, long reasons, a spool that cannot write."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from botocore.exceptions import ClientError

from dynamo_writer.capture_receiver import CAPTURE_MEMORY_S, PRUNE_INTERVAL_S, CaptureReceiver
from dynamo_writer.capture_spool import CaptureSpool
from dynamo_writer.snapshots import make_s3_client
from smartcam.telemetry import Counters
from tests.dynamo_writer.helpers import BASE_TIME, DEVICE, Clock, config
from tests.dynamo_writer.test_captures import Receipts, Rig, bucket_objects, data_capture

pytestmark = pytest.mark.integration


class FailingPuts:
    """An S3 client whose PutObject of keys ending in ``suffix`` fails (once per ``fail`` left)."""

    def __init__(self, inner: Any, suffix: str, fail: int = 1) -> None:
        self.inner, self.suffix, self.fail = inner, suffix, fail
        self.puts: list[str] = []
        self.created = 0

    def put_object(self, **kwargs: Any) -> Any:
        if kwargs["Key"].endswith(self.suffix) and self.fail:
            self.fail -= 1
            raise ClientError({"Error": {"Code": "InternalError", "Message": "try again"}}, "PutObject")
        self.puts.append(kwargs["Key"])
        return self.inner.put_object(**kwargs)

    def create_bucket(self, **kwargs: Any) -> Any:
        self.created += 1
        return self.inner.create_bucket(**kwargs)


def test_what_s3_took_is_recorded_object_by_object_and_only_the_rest_is_put_again(s3_env, bucket, tmp_path):
    clients: list[FailingPuts] = []

    def factory(cfg: Any) -> FailingPuts:
        clients.append(FailingPuts(make_s3_client(cfg), ".predictions.json"))
        return clients[-1]

    rig = Rig(tmp_path, bucket, s3_client_factory=factory)
    capture, _ = data_capture(rig.source, 1)
    rig.receiver.on_message("t", capture.to_message())
    assert rig.sender.step() > 0  # the JPEG went, the predictions failed
    held = rig.spool.held(capture.frame_id)
    assert held is not None and held.uploaded == 1 and rig.sender.last_error.startswith("s3 InternalError")
    rig.drain()
    assert [key.rsplit(".", 1)[0].rsplit("/", 1)[1] for client in clients for key in client.puts] == [
        capture.frame_id, f"{capture.frame_id}.predictions", f"{capture.frame_id}.manifest"]  # the JPEG once
    done = rig.spool.held(capture.frame_id)
    assert done is not None and done.uploaded == 3 and done.image_copy is None and rig.spool.depth() == (0, 0)
    rig.spool.close()


def test_the_bucket_is_made_once_when_asked_and_never_otherwise(s3_env, s3_local, tmp_path):
    clients: list[FailingPuts] = []

    def factory(cfg: Any) -> FailingPuts:
        clients.append(FailingPuts(make_s3_client(cfg), "never"))
        return clients[-1]

    made = "captures-made-here"
    rig = Rig(tmp_path, made, s3_client_factory=factory, createBucketIfMissing=True)
    for n in range(3):
        capture, _ = data_capture(rig.source, n)
        rig.receiver.on_message("t", capture.to_message())
    rig.drain()
    assert sum(c.created for c in clients) == 1 and len(bucket_objects(s3_local, made)) == 9
    other = Rig(tmp_path / "other", "captures-not-made", s3_client_factory=factory)
    capture, _ = data_capture(other.source, 1)
    other.receiver.on_message("t", capture.to_message())
    assert other.sender.step() > 0 and other.sender.last_error.startswith("s3 NoSuchBucket")
    assert sum(c.created for c in clients) == 1
    for r in (rig, other):
        r.spool.close()


def test_a_capture_whose_jpeg_does_not_fit_max_capture_mb_is_lost(tmp_path):
    rig = Rig(tmp_path, "bucket-1")
    first, _ = data_capture(rig.source, 1)
    rig.cfg = config(snapshotBucket="bucket-1", maxCaptureMB=(first.bytes + 10) / 1024 / 1024)
    assert rig.receiver.on_message("t", first.to_message()) == "stored"
    second, _ = data_capture(rig.source, 2)
    assert rig.receiver.on_message("t", second.to_message()) == "lost"
    assert "maxCaptureMB" in (rig.receipts.captures[-1].detail or "")
    rig.spool.close()


def test_uploaded_captures_are_forgotten_after_two_days_checked_hourly(tmp_path):
    wall, monotonic = Clock(), Clock(1000.0)
    rig = Rig(tmp_path / "rig", "bucket-1")
    spool = CaptureSpool(tmp_path / "spool.sqlite3", clock=wall)
    receiver = CaptureReceiver(spool, lambda: rig.cfg, Counters(), DEVICE, lambda: None, copier=rig.copier,
                               receipts=Receipts(), clock=monotonic)
    capture, _ = data_capture(rig.source, 1)
    assert receiver.on_message("t", capture.to_message()) == "stored"
    spool.finish(capture.frame_id)  # uploaded at BASE_TIME
    wall.now = BASE_TIME + CAPTURE_MEMORY_S - 1
    monotonic.now += PRUNE_INTERVAL_S
    assert receiver.prune_if_due() == 0 and spool.held(capture.frame_id) is not None  # remembered two days
    wall.now = BASE_TIME + CAPTURE_MEMORY_S + 1
    monotonic.now += PRUNE_INTERVAL_S - 0.1
    assert receiver.prune_if_due() == 0 and spool.held(capture.frame_id) is not None  # not an hour yet
    monotonic.now += 0.1
    assert receiver.prune_if_due() == 1 and spool.held(capture.frame_id) is None
    spool.close()
    rig.spool.close()


def test_a_long_reason_is_cut_to_what_a_receipt_carries(tmp_path):
    rig = Rig(tmp_path, "bucket-1")
    deep = tmp_path.joinpath(*["elsewhere-" + "x" * 60] * 20)  # a path of some 1,400 characters
    capture, _ = data_capture(deep, 1)
    assert rig.receiver.on_message("t", capture.to_message()) == "lost"
    assert len(rig.receipts.captures[0].detail or "") == 1024
    rig.spool.close()


def test_a_spool_that_cannot_write_receipts_nothing_keeps_no_copy_and_logs_it_once(tmp_path, caplog):
    rig = Rig(tmp_path, "bucket-1")
    rig.spool.close()
    full = CaptureSpool(tmp_path / "full.sqlite3", max_page_count=5)  # the schema and a little: a disk filling up
    receiver = CaptureReceiver(full, lambda: rig.cfg, rig.counters, DEVICE, lambda: None, copier=rig.copier,
                               receipts=rig.receipts)
    with caplog.at_level(logging.ERROR, logger="dynamo_writer.capture_receiver"):
        decisions = [receiver.on_message("t", data_capture(rig.source, n)[0].to_message()) for n in range(12)]
    stored = decisions.index("unavailable")
    assert stored >= 1 and decisions == ["stored"] * stored + ["unavailable"] * (12 - stored)
    assert len(rig.receipts.captures) == stored  # EventTracker sends the others again
    assert rig.copier.files() == full.copies()  # no copy of a capture the spool does not hold
    assert len([r for r in caplog.records if "not spooled" in r.getMessage()]) == 1  # the same reason, once
    full.close()
