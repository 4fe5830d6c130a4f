"""The end-to-end scenario, ONE definition run on every device of the ``device`` fixture (the
repo's local runtime and nucleus lite), so the two cannot drift apart. Everything is observed from
outside, as an operator would: MQTT to IoT Core (commands, status replies, per-frame detection
summaries) and the DynamoDB table.

1. a capture command -> frames -> detections -> items, each exactly once;
2. a bad command is rejected on the status topic, and the pipeline keeps working;
3. a configuration update (scoreThreshold) applies live, without restarting SsdInference.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter

import pytest

from local_device.observe import Operator
from local_device.store import stored_keys, wait_for_items
from nucleus_lite.devices import CAMERA, ScenarioDevice
from tests.nucleus_lite.conftest import pid_of
from tests.nucleus_lite.observe import Summary, SummaryWatcher

pytestmark = pytest.mark.integration


def capture(operator: Operator, watcher: SummaryWatcher, frames: int) -> tuple[str, list[Summary]]:
    request_id = operator.capture(CAMERA, frames, 5, f"scenario-{uuid.uuid4().hex[:10]}")
    final = operator.wait_final(request_id, timeout=180)
    assert final.state == "finished", final
    assert final.frames_captured == frames, final
    return request_id, watcher.wait(request_id, frames)


def stored(device: ScenarioDevice, request_id: str, summaries: list[Summary]) -> list[tuple[str, str]]:
    expected = {(s.frame_id, label) for s in summaries for label, n in s.labels.items() for _ in range(n)}
    items = wait_for_items(device.table(), device.thing_name(), request_id, lambda: expected, timeout=120)
    return stored_keys(items)


def test_capture_is_stored_exactly_once(device: ScenarioDevice, operator: Operator, watcher: SummaryWatcher) -> None:
    started = time.monotonic()
    request_id, summaries = capture(operator, watcher, frames=6)

    frame_ids = [s.frame_id for s in summaries]
    assert len(frame_ids) == 6 and len(set(frame_ids)) == 6, f"every frame inferred exactly once: {frame_ids}"
    for summary in summaries:  # every photo shows one person
        assert summary.labels == {"person": 1}, summary
    assert Counter(stored(device, request_id, summaries)) == Counter((f, "person") for f in frame_ids)
    print(f"\n{device.name}: capture of 6 frames stored in {time.monotonic() - started:.1f} s")


def test_bad_command_is_rejected_and_the_pipeline_keeps_working(
        device: ScenarioDevice, operator: Operator, watcher: SummaryWatcher) -> None:
    before = len(operator.statuses)
    operator.send(b'{"schema": "smartcam.capture/1", "action": "explode", "camera_id": "cam0", '
                  b'"request_id": "scenario-bad"}')
    rejected = operator.wait_for(lambda s: s.request_id == "scenario-bad", after=before)
    assert rejected.state == "rejected" and rejected.reason

    request_id, summaries = capture(operator, watcher, frames=2)
    assert Counter(stored(device, request_id, summaries)) == Counter((s.frame_id, "person") for s in summaries)


def test_configuration_update_applies_live(device: ScenarioDevice, operator: Operator, watcher: SummaryWatcher) -> None:
    pid = pid_of(device, "smartcam.SsdInference")
    _, baseline = capture(operator, watcher, frames=6)
    scores = sorted({round(score, 3) for s in baseline for score in s.scores})
    assert len(scores) >= 2, f"the three photos should score differently: {scores}"
    threshold = round((scores[0] + scores[1]) / 2, 4)  # between the lowest-scoring photo and the rest

    device.configure({"smartcam.SsdInference": {"scoreThreshold": threshold}})
    try:
        deadline = time.monotonic() + 60
        while True:  # the update reaches the component a moment after the deployment
            request_id, after = capture(operator, watcher, frames=6)
            kept = [score for s in after for score in s.scores]
            if (kept and min(kept) >= threshold) or time.monotonic() > deadline:
                break
        assert kept and min(kept) >= threshold, f"threshold {threshold} not applied: {kept}"
        assert any(not s.boxes for s in after), "the lowest-scoring photo should have no detection now"
        assert pid_of(device, "smartcam.SsdInference") == pid, "applied live, not by a restart"
        assert Counter(stored(device, request_id, after)) == Counter(
            (s.frame_id, "person") for s in after if s.boxes)
    finally:
        device.configure({"smartcam.SsdInference": {"scoreThreshold": 0.5}})


def test_nothing_of_the_nucleus_listens_beyond_loopback(device: ScenarioDevice) -> None:
    assert device.exposed_listeners() == []
