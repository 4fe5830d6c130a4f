"""Faults during a capture, on the real runtime with DynamoDB Local: nothing lost, nothing stored twice,
every frame accounted for. No tolerances.

Every image of the e2e camera shows one person, so every captured frame must end as exactly one
`person` item. For each fault (SIGKILL of each component and of the runtime daemon, SIGSTOP of the
writer for 30 s, a full disk under the writer's spool for 10 s, DynamoDB unreachable) a test asserts:
- the capture's final status accounts for every frame captured: `accounting` adds up to
  `frames_captured`, and every frame is `stored` (nothing lost, dropped, expired, refused or pending);
- DynamoDB holds exactly one `person` item for each captured frame of the request, and nothing else.

The hand-offs that make this hold are described in docs/architecture.md ("Nothing lost across
restarts"): outboxes on the producing side, receipts from the consuming side.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from local_device.store import items_for_request, stored_keys
from smartcam.contracts import CaptureStatus
from tests.e2e.helpers import CAMERA, WRITER, Pipeline

pytestmark = pytest.mark.integration

FPS = 5.0
WRITE_FAILED = "write failed, items stay spooled"  # what DynamoWriter's sender logs when a write fails


def wait_until(condition: Callable[[], bool], timeout: float = 120.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout:g} s")
        time.sleep(0.2)




def start_capture(pipeline: Pipeline, frames: int, stored_before_fault: int) -> str:
    request_id = pipeline.operator.capture(CAMERA, frames, FPS, pipeline.new_request())
    wait_until(lambda: len(stored_frames(pipeline, request_id)) >= stored_before_fault, timeout=120,
               what=f"{stored_before_fault} frames of {request_id} stored")
    return request_id


def stored_frames(pipeline: Pipeline, request_id: str) -> list[str]:
    """Frame ids of the request's items in DynamoDB, one per item (duplicates kept)."""
    try:
        items = items_for_request(pipeline.store, pipeline.thing, request_id)
    except Exception:
        return []
    return [frame for frame, _ in stored_keys(items)]


def assert_every_frame_stored_once(pipeline: Pipeline, final: CaptureStatus, timeout: float = 180.0,
                                   observed_throughout: bool = True) -> None:
    """``observed_throughout``: the pipeline's observer was connected for the whole capture (not so
    after a restart of the runtime: a new observer sees only the frames sent again after it)."""
    accounting = final.accounting
    assert accounting is not None, f"final status without accounting: {final}"
    captured = final.frames_captured or 0
    assert captured > 0
    assert accounting.total() == captured, f"accounting {accounting} does not add up to {captured} frames"
    assert accounting.stored == captured, f"not every frame stored: {accounting}"
    request_id = final.request_id
    assert request_id is not None
    wait_until(lambda: len(stored_frames(pipeline, request_id)) >= captured, timeout=timeout,
               what=f"{captured} items of {request_id} in DynamoDB")
    # The table holds one item per (frame, label): stored twice cannot show in it. What shows is which
    # items are there (one `person` item per captured frame, nothing else) and what each holds (what
    # inference sent for its frame, however often the frame went round after the fault).
    items = items_for_request(pipeline.store, pipeline.thing, request_id)
    keys = stored_keys(items)
    assert {label for _, label in keys} == {"person"}
    assert len(keys) == captured, f"{len(keys)} items for {captured} captured frames"
    sent = [f for _, f in pipeline.observer.frames(request_id)]
    print(f"\n{request_id}: {captured} captured, {accounting}, {len(keys)} items, "
          f"{sum(1 for f in sent if f.resent)} frames sent again")  # the counts the fault's report quotes
    published = {f.frame_id for f in sent}
    if not observed_throughout:
        assert published <= {frame for frame, _ in keys}  # whatever it saw sent again is stored
    elif published:  # the observer was connected throughout: what is stored is exactly what was captured
        assert {frame for frame, _ in keys} == published
    inferred: dict[str, set[float]] = {}
    for _, message in pipeline.observer.detections(request_id):
        if not message.detections:
            continue
        inferred.setdefault(message.frame.frame_id, set()).add(round(message.detections[0].score, 6))
    for item in items:
        if item["frameId"] in inferred:  # the observer saw its detections
            assert round(float(item["detections"][0]["score"]), 6) in inferred[item["frameId"]], item["frameId"]


def kill_and_wait_restart(pipeline: Pipeline, component: str) -> None:
    old_pid = pipeline.runtime.kill_component(component)
    new = pipeline.runtime.wait_component_process(component, timeout=180, not_pid=old_pid)
    assert new.pid != old_pid


@pytest.mark.parametrize("component", ["smartcam.SsdInference", WRITER])
def test_a_downstream_component_killed_mid_capture(pipeline: Pipeline, component: str) -> None:
    request_id = start_capture(pipeline, frames=40, stored_before_fault=5)
    kill_and_wait_restart(pipeline, component)
    final = pipeline.operator.wait_final(request_id, timeout=240)
    assert final.state == "finished" and final.frames_captured == 40, final
    assert_every_frame_stored_once(pipeline, final)


def test_camera_ingest_killed_mid_capture(pipeline: Pipeline) -> None:
    request_id = start_capture(pipeline, frames=60, stored_before_fault=5)
    kill_and_wait_restart(pipeline, "smartcam.CameraIngest")
    # The capture ends with the process; the new one ends the request from its journal, once every
    # frame the old one captured has its receipt.
    final = pipeline.operator.wait_final(request_id, timeout=240)
    assert final.state == "error" and "restarted" in (final.reason or ""), final
    assert 5 <= (final.frames_captured or 0) < 60
    assert_every_frame_stored_once(pipeline, final)
    after = pipeline.operator.capture(CAMERA, 4, FPS, pipeline.new_request())
    next_final = pipeline.operator.wait_final(after, timeout=120)
    assert next_final.state == "finished" and next_final.frames_captured == 4
    assert_every_frame_stored_once(pipeline, next_final)


def test_writer_stopped_for_30_s(pipeline: Pipeline) -> None:
    request_id = start_capture(pipeline, frames=40, stored_before_fault=5)
    writer = pipeline.runtime.component_process(WRITER)
    assert writer is not None
    os.kill(writer.pid, signal.SIGSTOP)
    try:
        time.sleep(30)
    finally:
        os.kill(writer.pid, signal.SIGCONT)
    final = pipeline.operator.wait_final(request_id, timeout=240)
    assert final.state == "finished" and final.frames_captured == 40, final
    assert_every_frame_stored_once(pipeline, final)


@contextmanager
def disk_filled(folder: Path) -> Iterator[int]:
    """Fill the filesystem under ``folder`` to the last byte; the ballast goes at exit. Yields its size."""
    ballast = folder / "ballast.bin"
    written = 0
    try:
        fd = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            for chunk in (b"\0" * (1 << 20), b"\0" * 4096, b"\0" * 512):
                while True:
                    try:
                        written += os.write(fd, chunk)
                    except OSError as exc:
                        assert exc.errno == errno.ENOSPC, exc
                        break
        finally:
            os.close(fd)
        yield written
    finally:
        ballast.unlink(missing_ok=True)


def test_spool_disk_full_for_10_s(pipeline: Pipeline) -> None:
    if os.geteuid() != 0:
        pytest.skip("the full-disk fault fills a tmpfs mounted under the writer's spool: needs root")
    spool_disk = pipeline.runtime.root / "work" / WRITER
    assert pipeline.spool_disk_mounted, f"no tmpfs under {spool_disk}"
    log = pipeline.runtime.root / "logs" / f"{WRITER}.log"
    held_before = log.read_text(errors="replace").count("held in memory")
    request_id = start_capture(pipeline, frames=40, stored_before_fault=5)
    with disk_filled(spool_disk) as ballast:
        assert ballast > 0
        time.sleep(10)
    final = pipeline.operator.wait_final(request_id, timeout=240)
    assert final.state == "finished" and final.frames_captured == 40, final
    assert_every_frame_stored_once(pipeline, final)
    assert log.read_text(errors="replace").count("held in memory") > held_before, \
        "the writer never found the disk full: the fault was not exercised"


def test_dynamodb_unreachable_mid_capture(pipeline: Pipeline) -> None:
    java = pipeline.runtime.dynamodb_process()
    log = pipeline.runtime.root / "logs" / f"{WRITER}.log"
    request_id = start_capture(pipeline, frames=30, stored_before_fault=3)
    failed_before = log.read_text(errors="replace").count(WRITE_FAILED)
    os.kill(java.pid, signal.SIGSTOP)
    try:
        # The spool takes every frame meanwhile: the final status comes while DynamoDB is still down.
        final = pipeline.operator.wait_final(request_id, timeout=240)
        # The writer's requests time out (its requestTimeoutS): they fail, and are retried after SIGCONT.
        wait_until(lambda: log.read_text(errors="replace").count(WRITE_FAILED) > failed_before, timeout=120,
                   what="a write to DynamoDB to fail while it is stopped")
    finally:
        os.kill(java.pid, signal.SIGCONT)
    assert final.state == "finished" and final.frames_captured == 30, final
    assert_every_frame_stored_once(pipeline, final)


def test_runtime_daemon_killed_mid_capture(pipeline: Pipeline) -> None:
    """Last in the module: it restarts the whole runtime (as a device's nucleus restarts after a crash),
    which the modules after this one then use."""
    request_id = start_capture(pipeline, frames=60, stored_before_fault=5)
    pipeline.runtime.kill_daemon()
    pipeline.runtime.up(pipeline.document)
    pipeline.reconnect()
    # The daemon's watchdog ends every component (SIGTERM, then SIGKILL): CameraIngest ends the capture
    # as stopped if it can, else its next run ends it as interrupted. Either way the new process sends
    # the final status from its journal once the frames captured have their receipts, maybe before
    # the operator is connected again: its persistent session keeps the status for it.
    final = pipeline.operator.wait_final(request_id, timeout=240)
    reason = final.reason or ""
    assert (final.state, "component stopping" in reason) == ("finished", True) or \
        (final.state, "restarted" in reason) == ("error", True), final
    assert 5 <= (final.frames_captured or 0) < 60
    assert_every_frame_stored_once(pipeline, final, observed_throughout=False)

