"""Faults during a capture, on the real runtime: a component killed with SIGKILL (the runtime restarts
it) and DynamoDB Local stopped and continued.

What "nothing lost" means here. Local pub/sub keeps nothing for a subscriber that is not there (as on
a real nucleus), so the guarantees are about what each stage accepted:
- every detections message published on smartcam/detections that the writer can have received is
  stored exactly once: all of them when inference or the camera is killed or DynamoDB is stopped;
  when the writer itself is killed, all published up to WRITER_MARGIN_S before the kill and all
  published after its new process reported RUNNING (messages published while no writer process was
  subscribed reach no one, so they may be missing; those the dead process committed to its spool
  are stored by the new one);
- nothing stored that was not published, and no (frame, label) item twice;
- when inference is killed, every frame published after the new process reported RUNNING is
  inferred and stored; frames published while it was down reach no inference process and are not
  stored (the capture status still counts them as captured);
- when the camera component is killed, the capture ends there (a new command is needed): the new
  process ends the request from its journal with `error` (interrupted) and an accounting that adds
  up to the frames captured, sends again the frames that had no receipt, every frame published is
  inferred and stored exactly once, and the next capture works.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable

import pytest

from local_device.observe import Operator
from tests.e2e.helpers import Pipeline

pytestmark = pytest.mark.integration

WRITER_MARGIN_S = 3.0  # a detections message is committed to the writer's spool well within this


def wait_until(condition: Callable[[], bool], timeout: float = 120.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout:g} s")
        time.sleep(0.2)


def start_capture(pipeline: Pipeline, frames: int, fps: float, seen_before_fault: int) -> str:
    request_id = pipeline.operator.capture("cam0", frames, fps, pipeline.new_request())
    wait_until(lambda: len(pipeline.observer.detections(request_id)) >= seen_before_fault,
               what=f"{seen_before_fault} detections of {request_id}")
    return request_id


def kill_and_wait_restart(pipeline: Pipeline, component: str) -> tuple[float, float]:
    """SIGKILL the component's process; returns (kill time, time its new process was seen RUNNING)."""
    killed_at = time.monotonic()
    old_pid = pipeline.runtime.kill_component(component)
    new = pipeline.runtime.wait_component_process(component, timeout=180, not_pid=old_pid)
    assert new.pid != old_pid
    return killed_at, time.monotonic()


def diagnose(pipeline: Pipeline) -> str:
    """Does a command from a NEW operator connection reach the component now? (Tells a lost
    broker subscription from a lost message.)"""
    probe = Operator(pipeline.runtime)
    try:
        request_id = probe.capture("cam0", 1, 2.0, pipeline.new_request())
        try:
            state = probe.wait_final(request_id, timeout=30).state
        except TimeoutError:
            state = "no answer either"
    finally:
        probe.close()
    log = pipeline.runtime.root / "logs" / "smartcam.CameraIngest.log"
    return (f"a second command from a new operator connection: {state}; "
            f"end of {log}:\n{log.read_text(errors='replace')[-1500:]}")


def assert_once(stored: list[tuple[str, str]], published: set[tuple[str, str]]) -> None:
    duplicates = [key for key, count in Counter(stored).items() if count > 1]
    assert not duplicates, f"stored twice: {duplicates}"
    assert set(stored) <= published, f"stored but never published: {set(stored) - published}"


def test_camera_ingest_killed_mid_capture(pipeline: Pipeline) -> None:
    request_id = start_capture(pipeline, frames=60, fps=4, seen_before_fault=3)
    kill_and_wait_restart(pipeline, "smartcam.CameraIngest")
    final = pipeline.operator.wait_final(request_id, timeout=180)
    published = {f.frame_id for _, f in pipeline.observer.frames(request_id)}

    def all_inferred() -> bool:
        return {m.frame.frame_id for _, m in pipeline.observer.detections(request_id)} >= published

    wait_until(all_inferred, timeout=180, what=f"every frame of {request_id} inferred")
    capture = pipeline.collect(request_id, final)

    assert 3 <= len(capture.frames) < 60
    assert {f.frame_id for f in capture.frames} == published  # a resend names a frame sent before
    assert final.state == "error" and final.reason is not None
    assert final.reason.startswith("interrupted: CameraIngest restarted after"), final.reason
    assert final.frames_captured is not None and final.frames_captured >= len(capture.frames)
    assert final.accounting is not None and final.accounting.total() == final.frames_captured
    # Frames sent again after the restart may be inferred a second time; each is stored once.
    assert {m.frame.frame_id for m in capture.detections} == published
    assert_once(capture.stored, capture.published)
    assert Counter(capture.stored) == Counter((f.frame_id, "person") for f in capture.frames)
    assert not [s for s in pipeline.operator.statuses if s.request_id == request_id and s.state == "finished"]

    try:
        after = pipeline.run_capture(frames=4, fps=4)
    except TimeoutError as exc:
        pytest.fail(f"the restarted CameraIngest did not answer a new command ({exc}); {diagnose(pipeline)}")
    assert after.final is not None and after.final.state == "finished"
    assert not {f.frame_id for f in after.frames} & {f.frame_id for f in capture.frames}
    assert Counter(after.stored) == Counter((f.frame_id, "person") for f in after.frames)


def test_inference_killed_mid_capture(pipeline: Pipeline) -> None:
    request_id = start_capture(pipeline, frames=60, fps=5, seen_before_fault=3)
    _, back_at = kill_and_wait_restart(pipeline, "smartcam.SsdInference")
    final = pipeline.operator.wait_final(request_id, timeout=180)
    assert final.state == "finished" and final.frames_captured == 60
    pipeline.observer.wait_inferred(request_id, 60, timeout=180, quiet=30)
    capture = pipeline.collect(request_id, final)

    assert len(capture.frames) == 60
    assert_once(capture.stored, capture.published)
    assert set(capture.stored) == capture.published  # every published detection stored
    inferred = {m.frame.frame_id for m in capture.detections}
    after_restart = [f.frame_id for t, f in pipeline.observer.frames(request_id) if t > back_at + 1.0]
    assert after_restart, "the capture should outlast the restart"
    assert set(after_restart) <= inferred
    assert {(f, "person") for f in after_restart} <= set(capture.stored)


def test_writer_killed_mid_capture(pipeline: Pipeline) -> None:
    request_id = start_capture(pipeline, frames=60, fps=5, seen_before_fault=20)
    killed_at, back_at = kill_and_wait_restart(pipeline, "smartcam.DynamoWriter")
    final = pipeline.operator.wait_final(request_id, timeout=180)
    assert final.state == "finished"
    pipeline.observer.wait_inferred(request_id, final.frames_captured or 0, timeout=180, quiet=30)
    seen = pipeline.observer.detections(request_id)
    must = {(m.frame.frame_id, d.label) for t, m in seen
            if t <= killed_at - WRITER_MARGIN_S or t >= back_at + 1.0 for d in m.detections}
    capture = pipeline.collect(request_id, final, expected=lambda: must)

    assert_once(capture.stored, capture.published)
    assert must <= set(capture.stored), f"lost: {sorted(must - set(capture.stored))}"
    assert any(t <= killed_at - WRITER_MARGIN_S for t, _ in seen), "some detections should precede the kill"
    assert any(t >= back_at + 1.0 for t, _ in seen), "the capture should outlast the restart"


def test_dynamodb_stopped_and_continued_mid_capture(pipeline: Pipeline) -> None:
    java = pipeline.runtime.dynamodb_process()
    request_id = start_capture(pipeline, frames=30, fps=5, seen_before_fault=3)
    os.kill(java.pid, signal.SIGSTOP)
    try:
        final = pipeline.operator.wait_final(request_id, timeout=180)
        pipeline.observer.wait_inferred(request_id, final.frames_captured or 0, timeout=180, quiet=30)
        time.sleep(5)  # longer than the writer's request timeout: its requests fail and are retried
    finally:
        os.kill(java.pid, signal.SIGCONT)
    capture = pipeline.collect(request_id, final)

    assert final.state == "finished" and len(capture.frames) == 30
    assert len(capture.detections) == 30
    assert_once(capture.stored, capture.published)
    assert Counter(capture.stored) == Counter((f.frame_id, "person") for f in capture.frames)
