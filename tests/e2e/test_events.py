"""Events end to end, on OpenCV's real pedestrian video (vtest.avi): CameraIngest (motion gate on) ->
SsdInference -> EventTracker -> DynamoWriter -> the events table in DynamoDB Local and the snapshots in
the S3 stand-in, each event exactly once as of its last message, also when the tracker or the writer
is killed mid-capture.

What "exactly once" means here: every event EventTracker published for the capture ends (none stays
open), and the events table holds one item per event id whose `sequence` and `state` are those of the
event's `end` message; every snapshot an item names is in S3 (an item never names a missing object).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from local_device.overlay import LOCAL_SNAPSHOT_BUCKET
from local_device.store import EVENTS_TABLE, bucket_keys, events_for_request, table
from local_greengrass.standins.child import local_client
from smartcam.contracts import TrackEvent
from tests.camera_ingest.motion_frames import VTEST
from tests.e2e.helpers import Pipeline

pytestmark = pytest.mark.integration

CAMERA = "street"
TRACKER = "smartcam.EventTracker"
WRITER = "smartcam.DynamoWriter"
FPS = 5.0


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout:g} s")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def street(pipeline: Pipeline) -> Pipeline:
    """The module's pipeline with a second deployment: vtest.avi as camera `street` (motion gate on, as
    deployed by default) and events that end 3 s after their object was last seen."""
    assert VTEST.is_file(), f"{VTEST} is missing: scripts/setup-system installs it (Debian's opencv-doc)"
    camera = {"id": CAMERA, "source": {"type": "file", "path": str(VTEST), "fps": 10}, "width": 768,
              "height": 576, "loop": True}
    pipeline.redeploy(camera=camera, extra={TRACKER: {"tracking": {"endAfterS": 3}}})
    return pipeline


def events_of(pipeline: Pipeline, request_id: str) -> dict[str, list[TrackEvent]]:
    """Every message of the events whose first frame belongs to ``request_id``, by event id."""
    found: dict[str, list[TrackEvent]] = {}
    for event in pipeline.observer.events():
        if event.request_id == request_id:
            found.setdefault(event.event_id, []).append(event)
    return found


def ended(messages: list[TrackEvent]) -> TrackEvent | None:
    return next((m for m in messages if m.kind == "end"), None)


def stored_events(pipeline: Pipeline, request_id: str) -> list[dict[str, Any]]:
    events = table(pipeline.runtime.dynamodb_endpoint(), EVENTS_TABLE)
    return events_for_request(events, pipeline.runtime.thing_name(), request_id)


def s3_objects(pipeline: Pipeline) -> set[str]:
    return bucket_keys(local_client("s3", pipeline.runtime.status()["standins"]["s3"]), LOCAL_SNAPSHOT_BUCKET)


def assert_every_event_stored_once_as_it_ended(pipeline: Pipeline, request_id: str) -> dict[str, TrackEvent]:
    wait_until(lambda: bool(events_of(pipeline, request_id)), 120, "a first event")
    wait_until(lambda: all(ended(m) for m in events_of(pipeline, request_id).values()), 180,
               "every event of the capture to end")
    ends = {event_id: ended(messages) for event_id, messages in events_of(pipeline, request_id).items()}

    def stored_as_ended() -> bool:
        items = stored_events(pipeline, request_id)
        return {(i["event_id"], int(i["sequence"])) for i in items} == {(e, m.sequence) for e, m in ends.items() if m}

    wait_until(stored_as_ended, 180, "every event stored as of its end message")
    items = stored_events(pipeline, request_id)
    assert sorted(i["event_id"] for i in items) == sorted(ends)  # one item per event, no other
    assert {i["state"] for i in items} == {"ended"}
    for item in items:
        assert item["end_reason"] == ends[item["event_id"]].end_reason  # type: ignore[union-attr]
    objects = s3_objects(pipeline)
    with_snapshot = [i for i in items if "snapshot" in i]
    assert with_snapshot, "no event has a snapshot"
    for item in with_snapshot:
        assert {item["snapshot"]["key"], item["snapshot"]["crop_key"]} <= objects
    return {event_id: message for event_id, message in ends.items() if message}


def test_vtest_becomes_person_events_stored_once_with_snapshots(street: Pipeline) -> None:
    request_id = street.operator.capture(CAMERA, 60, FPS, street.new_request())
    final = street.operator.wait_final(request_id, timeout=240)
    assert final.state == "finished"
    ends = assert_every_event_stored_once_as_it_ended(street, request_id)
    assert any(e.label == "person" and e.duration_s > 1.0 for e in ends.values())
    assert {e.end_reason for e in ends.values()} == {"unseen"}


@pytest.mark.parametrize("component", [TRACKER, WRITER])
def test_events_survive_a_kill_mid_capture(street: Pipeline, component: str) -> None:
    request_id = street.operator.capture(CAMERA, 80, FPS, street.new_request())
    wait_until(lambda: any(m.kind == "start" for ms in events_of(street, request_id).values() for m in ms), 120,
               "an event to start")
    killed = street.runtime.kill_component(component)
    street.runtime.wait_component_process(component, not_pid=killed)
    final = street.operator.wait_final(request_id, timeout=240)
    assert final.state == "finished"
    ends = assert_every_event_stored_once_as_it_ended(street, request_id)
    if component == TRACKER:
        assert "restarted" in {e.end_reason for e in ends.values()}  # the open ones were ended, not left open
