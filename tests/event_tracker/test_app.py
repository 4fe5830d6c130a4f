"""EventTracker on the fake nucleus: detections in, events out (start, updates, end) with zones and lines;
events ended by the timer; IoT Core gets start and end; live settings; what a peer sends wrong."""

from __future__ import annotations

import json

import pytest
from awsiot.greengrasscoreipc.model import ConfigurationValidityStatus

from event_tracker import app as app_module
from smartcam import topics
from smartcam.contracts import EventReceipt, Health, Receipts, TrackEvent
from tests.event_tracker.component import T0, detection, walk

DOOR = [[0.4, 0.5], [0.6, 0.5], [0.6, 0.9], [0.4, 0.9]]
GATE = [[0.2, 0.6], [0.8, 0.6]]  # drawn left to right: "in" is downwards on the screen
ZONES = {"cam0": {"zones": [{"name": "door", "polygon": DOOR}], "lines": [{"name": "gate", "points": GATE}]}}
WALKER = (0.47, 0.10, 0.53, 0.30)  # feet at y 0.30, walking down at 0.2 a second: through the door, over the gate


def walk_down(tracker, seconds: float = 3.5, fps: float = 10.0, start: float = 0.0) -> None:
    for i in range(round(seconds * fps) + 1):
        at = start + i / fps
        tracker.frame(at, [walk(WALKER, (0.0, 0.2), at - start)])


def test_a_walk_through_a_zone_and_over_a_line_is_one_event_from_start_to_end(started):
    tracker = started(cameras=ZONES)
    walk_down(tracker)  # 36 frames, 0 to 3.5 s
    tracker.clock.now += 10.5
    tracker.app.tick()
    events = tracker.events()
    assert [(e.kind, e.sequence) for e in events] == [("start", 0), ("update", 1), ("update", 2), ("update", 3),
                                                      ("end", 4)]
    assert len({e.event_id for e in events}) == 1 and events[0].event_id == f"cam0.{round(T0 * 1000)}.1"
    start, entered, crossed, left, end = events
    assert start.last_seen == pytest.approx(T0 + 0.2)  # confirmed by the third detection
    assert start.first_seen == T0 and start.zones == [] and start.request_id == "req-1"
    # entering (second detection with the feet inside), crossing and leaving each send an update at once
    assert [z.zone for z in entered.zones] == ["door"] and entered.zones[0].entered == pytest.approx(T0 + 1.2)
    assert [(line.line, line.crossed_in, line.crossed_out) for line in crossed.lines] == [("gate", 1, 0)]
    assert crossed.last_seen == pytest.approx(T0 + 1.6)
    assert left.zones[0].left == pytest.approx(T0 + 3.2)
    assert end.end_reason == "unseen" and end.frames == 36 and end.duration_s == pytest.approx(3.5)
    assert end.path[0][0] == T0 and end.path[-1][0] == pytest.approx(T0 + 3.5) and len(end.path) <= 32
    assert end.snapshot is not None and end.snapshot.frame_id.startswith("cam0-")
    # IoT Core: the start and the end, as published locally
    assert tracker.iot_events() == [start, end]
    counters = tracker.app.telemetry.counters
    assert (counters["eventsStarted"], counters["updatesSent"], counters["eventsEnded"]) == (1, 3, 1)
    assert counters["detectionsSeen"] == 36


@pytest.mark.parametrize("hints", [True, False])
def test_the_candidates_of_a_half_hidden_walker_keep_their_event_going(started, hints):
    """From 1.5 s on the walker is half hidden: SsdInference finds them only below its scoreThreshold and
    sends them as candidates (score 0.3), beside a passer-by's result. With the candidates their event goes
    on until they are gone (2.5 s), the frames counted; without them it stops at the last result."""
    tracker = started()
    passer_by = (0.05, 0.1, 0.11, 0.3)
    for i in range(26):
        at = i / 10
        walker = walk(WALKER, (0.0, 0.2), at)
        if at < 1.5:
            tracker.frame(at, [walker])
        else:
            tracker.frame(at, [passer_by], candidates=[detection(walker, score=0.3)] if hints else [])
    tracker.clock.now += 10.5
    tracker.app.tick()
    ends = [e for e in tracker.events() if e.kind == "end"]
    [walked] = [e for e in ends if e.first_seen == T0]
    assert walked.end_reason == "unseen"
    if hints:
        assert walked.last_seen == pytest.approx(T0 + 2.5) and walked.frames == 26
        assert walked.path[-1][0] == pytest.approx(T0 + 2.5)  # the path follows them while half hidden
    else:
        assert walked.last_seen == pytest.approx(T0 + 1.4) and walked.frames == 15
    assert len(ends) == 2  # the walker and the passer-by; a candidate alone starts nothing
    assert tracker.app.telemetry.counters["detectionsSeen"] == 26  # messages, as before


def test_updates_are_rate_limited_by_capture_time(started):
    tracker = started(updateIntervalS=5)
    for i in range(121):  # someone standing for 12 s at 10 fps
        tracker.frame(i / 10, [(0.3, 0.3, 0.4, 0.7)])
    updates = [e for e in tracker.events() if e.kind == "update"]
    assert [round(e.last_seen - T0, 1) for e in updates] == [5.2, 10.2]  # 5 s after the start (0.2 s), then again
    assert [e.sequence for e in updates] == [1, 2]


def test_the_timer_ends_an_event_unseen_for_end_after_s_and_not_sooner(started):
    tracker = started(tracking={"endAfterS": 10})
    for i in range(5):
        tracker.frame(i / 10, [(0.3, 0.3, 0.4, 0.7)])
    tracker.clock.now += 9.9  # no frame comes: a motion gate holds them back
    tracker.app.tick()
    assert [e.kind for e in tracker.events()] == ["start"]
    tracker.clock.now += 0.2
    tracker.app.tick()
    [_, end] = tracker.events()
    assert end.kind == "end" and end.end_reason == "unseen" and end.last_seen == pytest.approx(T0 + 0.4)
    tracker.clock.now += 60
    tracker.app.tick()
    assert len(tracker.events()) == 2  # ended once


def test_frames_arriving_late_from_a_busy_pipeline_do_not_end_their_event(started):
    """The timer runs on the camera's clock (the last frame's capture time plus the time since it arrived):
    frames that all arrive 3 s after capture keep an event of endAfterS 2 going."""
    tracker = started(tracking={"endAfterS": 2})
    for i in range(30):
        tracker.frame(i / 10, [(0.3, 0.3, 0.4, 0.7)], lag=3.0)
        tracker.clock.now += 0.09
        tracker.app.tick()
    assert [e.kind for e in tracker.events()] == ["start"]
    tracker.clock.now += 2.0
    tracker.app.tick()
    assert [e.kind for e in tracker.events()] == ["start", "end"]


def test_one_leaving_and_another_entering_later_are_two_events_with_ids_of_their_own(started):
    tracker = started(tracking={"endAfterS": 2})
    for i in range(10):
        tracker.frame(i / 10, [walk((0.1, 0.3, 0.2, 0.7), (0.05, 0), i / 10)])
    for i in range(10):
        tracker.frame(5 + i / 10, [walk((0.6, 0.3, 0.7, 0.7), (-0.05, 0), i / 10)])
    assert [(e.kind, e.track_id) for e in tracker.events()] == [("start", 1), ("end", 1), ("start", 2)]
    first, _, second = tracker.events()
    assert first.event_id != second.event_id and second.event_id == f"cam0.{round((T0 + 5) * 1000)}.2"


def test_cameras_are_tracked_apart(started):
    tracker = started()
    for i in range(3):
        tracker.frame(i / 10, [(0.3, 0.3, 0.4, 0.7)])
        tracker.frame(i / 10 + 0.01, [(0.3, 0.3, 0.4, 0.7)], camera_id="cam1")
    assert sorted((e.camera_id, e.track_id) for e in tracker.events()) == [("cam0", 1), ("cam1", 1)]


def test_iot_events_can_be_turned_off_live(started):
    tracker = started()
    tracker.nucleus.update(iotEvents=False)
    for i in range(3):
        tracker.frame(i / 10, [(0.3, 0.3, 0.4, 0.7)])
    assert [e.kind for e in tracker.events()] == ["start"] and tracker.iot_events() == []


def test_a_zone_change_applies_from_the_next_frame_and_a_bad_one_is_refused_keeping_the_last_good(started):
    tracker = started()
    for i in range(5):
        tracker.frame(i / 10, [(0.45, 0.3, 0.55, 0.7)])  # feet at (0.5, 0.7): inside DOOR
    assert [e.kind for e in tracker.events()] == ["start"]

    crossing = [[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]]
    bad = {**tracker.nucleus.configuration, "cameras": {"cam0": {"zones": [{"name": "door", "polygon": crossing}]}}}
    tracker.nucleus.propose(bad)
    report = tracker.nucleus.reports()[-1]
    assert report.status == ConfigurationValidityStatus.REJECTED
    assert "cameras/cam0/zones/0/polygon: edges 0-1 and 2-3 cross: the polygon intersects itself" in report.message

    tracker.nucleus.update(cameras=ZONES)  # applied from the next frame: two inside enter the door
    for i in range(5, 7):
        tracker.frame(i / 10, [(0.45, 0.3, 0.55, 0.7)])
    entered = tracker.events()[-1]
    assert entered.kind == "update" and [z.zone for z in entered.zones] == ["door"]

    tracker.nucleus.update(cameras=bad["cameras"])  # a deployment whose validation did not run
    assert "intersects itself" in (tracker.live.refused or "")
    assert tracker.live.current.cameras["cam0"].zones[0].polygon == tuple(map(tuple, DOOR))
    health = tracker.app.health()
    assert health.state == "degraded" and "intersects itself" in (health.detail or "")
    for i in range(7, 30):  # leaves the door (feet at y 0.95): the last good zones still apply
        tracker.frame(i / 10, [(0.45, 0.55, 0.55, 0.95)])
    assert tracker.events()[-1].zones[0].left is not None


@pytest.mark.parametrize("payload", [
    b"not json",
    json.dumps({"schema": "smartcam.detections/1"}).encode(),
    json.dumps([1, 2, 3]).encode(),
    b"{" * 100_000,
    json.dumps({"schema": "smartcam.receipts/1", "stage": "x", "instance": "0" * 32, "at": 1,
                "receipts": [], "events": [{"event_id": "../../etc", "sequence": -1, "outcome": "stored"}]}).encode(),
])
def test_whatever_a_peer_sends_is_refused_and_counted_and_tracking_goes_on(started, payload):
    tracker = started()
    for topic in (topics.DETECTIONS, topics.RECEIPTS):
        tracker.nucleus.send_binary(topic, payload)
    assert tracker.app.telemetry.counters["messagesInvalid"] == 2
    for i in range(3):
        tracker.frame(i / 10, [(0.3, 0.3, 0.4, 0.7)])
    assert [e.kind for e in tracker.events()] == ["start"]


def test_receipts_of_other_stages_and_for_unknown_events_change_nothing(started):
    tracker = started()
    for i in range(3):
        tracker.frame(i / 10, [(0.3, 0.3, 0.4, 0.7)])
    [start] = tracker.events()
    tracker.receipt([("cam9.1.1", 10**18), (start.event_id, start.sequence)], instance=None)
    assert tracker.app.delivery.awaiting() == 0  # the real one settled; the unknown one did nothing
    tracker.frame(0.3, [(0.3, 0.3, 0.4, 0.7)])
    tracker.clock.now += 11
    tracker.app.tick()
    end = tracker.events()[-1]
    # SsdInference's receipts may not settle events, even when they name them
    tracker.nucleus.send(topics.RECEIPTS, Receipts(stage="smartcam.SsdInference", instance="a" * 32, at=T0,
                                                   receipts=[], events=[EventReceipt(
                                                       event_id=end.event_id, sequence=end.sequence,
                                                       outcome="stored")]))
    assert tracker.app.delivery.awaiting() == 1


def test_stale_frames_are_ignored_and_counted(started):
    tracker = started()
    for i in range(5):
        tracker.frame(i / 10, [(0.3, 0.3, 0.4, 0.7)])
    tracker.frame(0.2, [(0.6, 0.3, 0.7, 0.7)])  # sent again after a restart upstream: older than the last
    assert tracker.app.telemetry.counters["framesStale"] == 1
    assert [e.kind for e in tracker.events()] == ["start"]


def test_a_frame_from_the_future_is_refused_so_it_cannot_stall_its_camera(started):
    tracker = started()
    tracker.frame(10**9, [(0.3, 0.3, 0.4, 0.7)])  # captured in 2057, by a clock gone wrong
    for i in range(3):
        tracker.frame(i / 10, [(0.3, 0.3, 0.4, 0.7)])
    assert tracker.app.telemetry.counters["framesFromTheFuture"] == 1
    assert [e.kind for e in tracker.events()] == ["start"]


def test_detections_of_too_many_cameras_are_refused(started, monkeypatch):
    monkeypatch.setattr(app_module, "MAX_TRACKED_CAMERAS", 2)
    tracker = started()
    for camera in ("cam1", "cam2", "cam3"):
        tracker.frame(0.1, [(0.3, 0.3, 0.4, 0.7)], camera_id=camera)
    assert tracker.app.telemetry.counters["camerasRefused"] == 1
    status = tracker.nucleus.on_iot(topics.iot_component_status("tracker-thing", "smartcam.EventTracker"))
    assert status and "camera cam3 refused" in status[-1]["detail"]


def test_a_clean_stop_ends_every_open_event_as_shutdown(started):
    tracker = started()
    for i in range(5):
        tracker.frame(i / 10, [(0.3, 0.3, 0.4, 0.7), (0.6, 0.3, 0.7, 0.7)])
    tracker.app.stop()
    ends = [e for e in tracker.events() if e.kind == "end"]
    assert sorted(e.track_id for e in ends) == [1, 2] and {e.end_reason for e in ends} == {"shutdown"}
    assert all(e.sequence == 1 for e in ends)


def test_health_counts_what_the_tracker_holds(started):
    tracker = started()
    for i in range(3):
        tracker.frame(i / 10, [detection((0.3, 0.3, 0.4, 0.7))])
    tracker.app.tick()  # the first tick publishes health
    [health] = tracker.nucleus.parsed(Health, topics.health("smartcam.EventTracker"))
    assert health.state == "ok" and health.component == "smartcam.EventTracker"
    assert "1 cameras, 1 open events, 1 events await the writer's receipts, 1 snapshots" in (health.detail or "")
    assert health.counters["eventsStarted"] == 1 and health.counters["snapshotsWritten"] == 1
    assert isinstance(tracker.events()[0], TrackEvent)


def test_status_messages_of_a_kind_are_at_most_one_per_status_min_interval(started):
    tracker = started(statusMinIntervalS=5)
    status_topic = topics.iot_component_status("tracker-thing", "smartcam.EventTracker")

    def refuse_at(now: float) -> None:
        tracker.clock.now = now
        tracker.nucleus.send(topics.DETECTIONS, {"not": "a detections message"})

    for now in (1000.0, 1001.0, 1004.999):
        refuse_at(now)
    refuse_at(1005.0)  # 5 s after the one sent
    sent = [Health.model_validate(m) for m in tracker.nucleus.on_iot(status_topic)]
    assert [h.counters for h in sent] == [{}, {"suppressed": 2}]
    assert all(h.detail.startswith("invalidMessage: message on smartcam/detections refused") for h in sent)
    tracker.nucleus.update(statusMinIntervalS=0)  # from the next report on
    refuse_at(1005.0)
    refuse_at(1005.0)
    assert len(tracker.nucleus.on_iot(status_topic)) == 4
    assert tracker.app.telemetry.counters["messagesInvalid"] == 6
