"""Data capture in the EventTracker component (fake nucleus, real ring, real stores): what the policy
picks is copied out of the ring and sent to the writer until receipted, live configuration, restarts."""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

from smartcam import topics
from smartcam.contracts import MAX_CAPTURE_PREDICTIONS, CaptureReceipt, DataCapture, Receipts
from smartcam.frames import frame_as_jpeg
from smartcam.handoff import new_instance
from tests.event_tracker.component import (
    T0,
    WRITER,
    Tracker,
    configuration,
    detection,
    detections_of,
    start_tracker,
)

STANDING = (0.3, 0.3, 0.4, 0.7)
ON = {"enabled": True, "uncertainMin": 0.3, "uncertainMax": 0.6, "newTracks": True, "sampleRate": 0.0,
      "maxPerHour": 30, "maxPerDay": 200, "cameras": [], "maxPendingMb": 100}


def tracker_with(work: Path, frame_root: Path, seed: int = 1, **capture: Any) -> Tracker:
    return start_tracker(work, frame_root, configuration(dataCapture={**ON, **capture}), rng=random.Random(seed))


def captures(tracker: Tracker) -> list[DataCapture]:
    return tracker.nucleus.parsed(DataCapture, topics.DATA_CAPTURES)


def receipt(tracker: Tracker, frame_ids: list[str], outcome: str = "stored", instance: str | None = None) -> None:
    tracker.nucleus.send(topics.RECEIPTS, Receipts(
        stage=WRITER, instance=instance or tracker.writer_instance, at=T0, receipts=[],
        captures=[CaptureReceipt(frame_id=f, outcome=outcome) for f in frame_ids] or None))


def folder(work: Path) -> Path:
    return work / "captures"


def test_the_frame_a_new_track_is_confirmed_on_is_captured_with_the_models_predictions(work, frame_root):
    tracker = tracker_with(work, frame_root)
    refs = [tracker.frame(i / 10, [STANDING], candidates=[detection((0.6, 0.1, 0.7, 0.3), 0.2)]) for i in range(5)]
    assert [e.kind for e in tracker.events()] == ["start"]
    [capture] = captures(tracker)
    confirmed = refs[2]  # confirmHits 3
    assert (capture.frame_id, capture.reasons, capture.camera_id) == (confirmed.frame_id, ["new_track"], "cam0")
    assert (capture.width, capture.height, capture.captured_at, capture.request_id) == (320, 240, T0 + 0.2, "req-1")
    assert [d.score for d in capture.detections] == [0.9] and [d.score for d in capture.candidates] == [0.2]
    assert capture.best_score == 0.9 and capture.model.name == "test-ssd"
    jpeg = Path(capture.path)
    assert jpeg.parent == folder(work) and jpeg.read_bytes() == frame_as_jpeg(confirmed, frame_root)
    assert capture.bytes == len(jpeg.read_bytes()) and oct(jpeg.stat().st_mode & 0o777) == "0o640"
    assert tracker.app.telemetry.counters["capturesTaken"] == 1
    assert tracker.app.telemetry.counters["capturesNewTrack"] == 1


def test_an_uncertain_frame_is_captured_and_a_sure_one_is_not(work, frame_root):
    tracker = tracker_with(work, frame_root, newTracks=False)
    tracker.frame(0.0, [STANDING])  # 0.9: sure
    unsure = tracker.frame(0.1, [], candidates=[detection(STANDING, 0.45)])
    taken = [(c.frame_id, c.reasons, c.best_score) for c in captures(tracker)]
    assert taken == [(unsure.frame_id, ["uncertain"], 0.45)]


def test_the_hourly_bound_holds_and_what_it_keeps_back_is_counted(work, frame_root):
    tracker = tracker_with(work, frame_root, newTracks=False, sampleRate=1.0, maxPerHour=3, maxPerDay=10)
    for i in range(8):
        tracker.frame(i / 10, [STANDING])
    assert len(captures(tracker)) == 3
    assert tracker.app.telemetry.counters["capturesOverBudget"] == 5
    tracker.frame(3600.0, [STANDING])  # the next clock hour (T0 is on the hour: 1764900000 = 490250 h)
    assert len(captures(tracker)) == 4


def test_the_policy_changes_live_and_an_invalid_change_keeps_the_last_good_one(work, frame_root):
    tracker = start_tracker(work, frame_root, configuration(), rng=random.Random(1))  # the recipe: off
    for i in range(4):
        tracker.frame(i / 10, [STANDING])
    assert captures(tracker) == [] and not list(folder(work).iterdir())

    tracker.nucleus.update(dataCapture={**ON, "newTracks": False, "sampleRate": 1.0, "maxPerHour": 5})
    taken = tracker.frame(0.4, [STANDING])  # from the next frame on
    assert [c.frame_id for c in captures(tracker)] == [taken.frame_id]

    tracker.nucleus.update(dataCapture={**ON, "uncertainMin": 0.8, "uncertainMax": 0.2})  # refused
    assert "uncertainMin must not exceed uncertainMax" in (tracker.live.refused or "")
    assert tracker.live.current.data_capture.sample_rate == 1.0  # the last good one stays in force
    tracker.frame(0.5, [STANDING])
    assert len(captures(tracker)) == 2
    assert tracker.app.health().state == "degraded"


def test_a_receipt_settles_the_capture_and_deletes_its_jpeg_and_a_lost_one_is_counted(work, frame_root):
    tracker = tracker_with(work, frame_root, newTracks=False, sampleRate=1.0)
    first, second = (tracker.frame(i / 10, [STANDING]) for i in range(2))
    receipt(tracker, [first.frame_id])
    receipt(tracker, [second.frame_id], outcome="lost")
    assert tracker.app.captures.awaiting() == 0 and not list(folder(work).iterdir())
    assert tracker.app.telemetry.counters["capturesReceipted"] == 1
    assert tracker.app.telemetry.counters["capturesLost"] == 1


def test_a_new_writer_run_gets_what_was_not_receipted_at_once(work, frame_root):
    tracker = tracker_with(work, frame_root, newTracks=False, sampleRate=1.0)
    receipt(tracker, [])  # the writer's run announces itself
    first, second = (tracker.frame(i / 10, [STANDING]) for i in range(2))
    receipt(tracker, [first.frame_id])
    tracker.writer_starts()
    assert [c.frame_id for c in captures(tracker)] == [first.frame_id, second.frame_id, second.frame_id]
    assert tracker.app.telemetry.counters["capturesResent"] == 1


def test_a_restart_sends_again_what_was_not_receipted_deletes_stray_jpegs_and_keeps_the_budget(work, frame_root):
    tracker = tracker_with(work, frame_root, newTracks=False, sampleRate=1.0, maxPerHour=2)
    kept = tracker.frame(0.0, [STANDING])
    settled = tracker.frame(0.1, [STANDING])
    receipt(tracker, [settled.frame_id])
    tracker.app.stop()
    stray = folder(work) / "cam0-gone-9.jpg"  # written, then a crash before its capture was kept
    stray.write_bytes(b"\xff\xd8\xff")

    again = tracker_with(work, frame_root, newTracks=False, sampleRate=1.0, maxPerHour=2)
    assert [c.frame_id for c in captures(again)] == [kept.frame_id]  # sent again at start
    assert sorted(p.name for p in folder(work).iterdir()) == [f"{kept.frame_id}.jpg"]
    again.frame(0.2, [STANDING])
    assert len(captures(again)) == 1  # two this hour already, before the restart
    assert again.app.telemetry.counters["capturesOverBudget"] == 1


def test_only_the_cameras_named_are_captured(work, frame_root):
    tracker = tracker_with(work, frame_root, newTracks=False, sampleRate=1.0, cameras=["cam1"])
    tracker.frame(0.0, [STANDING])
    other = tracker.frame(0.1, [STANDING], camera_id="cam1")
    assert [c.frame_id for c in captures(tracker)] == [other.frame_id]


def test_a_frame_the_ring_recycled_is_not_captured(work, frame_root):
    tracker = start_tracker(work, frame_root, configuration(dataCapture={**ON, "newTracks": False, "sampleRate": 1.0}),
                            rng=random.Random(1), ring_capacity=1)
    ref = tracker.ring.write(tracker.pixels, captured_at=T0, captured_monotonic_ns=1)
    tracker.ring.write(tracker.pixels, captured_at=T0 + 0.1, captured_monotonic_ns=2)
    tracker.nucleus.send(topics.DETECTIONS, detections_of(ref, [detection(STANDING)]))
    assert captures(tracker) == []
    assert tracker.app.telemetry.counters["capturesExpired"] == 1


def test_a_writer_run_whose_announcement_was_missed_gets_what_awaits_at_its_first_message(work, frame_root):
    tracker = tracker_with(work, frame_root, newTracks=False, sampleRate=1.0)
    receipt(tracker, [])  # the writer's first run announces itself
    first, second = (tracker.frame(i / 10, [STANDING]) for i in range(2))
    receipt(tracker, [first.frame_id], instance=new_instance())  # a new run, heard first by a receipt
    # Everything waiting goes again at once (before the receipt settles the first: the writer takes it as a
    # duplicate), and only the second still waits.
    assert [c.frame_id for c in captures(tracker)] == [first.frame_id, second.frame_id] * 2
    assert tracker.app.captures.awaiting() == 1


def test_nothing_is_sent_again_before_the_writer_is_heard_then_after_the_first_back_off(work, frame_root):
    tracker = tracker_with(work, frame_root, newTracks=False, sampleRate=1.0)
    tracker.frame(0.0, [STANDING])
    tracker.clock.now += 60
    tracker.app.tick()
    assert len(captures(tracker)) == 1  # a writer that never spoke is not running: its announcement brings it
    receipt(tracker, [])  # its announcement: everything at once
    assert len(captures(tracker)) == 2
    for wait in (20, 40, 80, 160, 300, 300):  # then without a receipt: 10 s doubling, sent again at once: 20 s...
        tracker.clock.now += wait - 0.1
        tracker.app.tick()
        before = len(captures(tracker))
        tracker.clock.now += 0.2
        tracker.app.tick()
        assert len(captures(tracker)) == before + 1, wait  # ... up to 300 s
        tracker.clock.now -= 0.1


def test_a_stored_receipt_and_a_lost_one_are_told_apart(work, frame_root):
    tracker = tracker_with(work, frame_root, newTracks=False, sampleRate=1.0)
    first, second = (tracker.frame(i / 10, [STANDING]) for i in range(2))
    counters = tracker.app.telemetry.counters
    receipt(tracker, [first.frame_id], outcome="lost")
    assert (counters["capturesLost"], counters["capturesReceipted"]) == (1, 0)
    receipt(tracker, [second.frame_id])
    assert (counters["capturesLost"], counters["capturesReceipted"]) == (1, 1)


def test_the_jpegs_awaiting_the_writer_are_bounded_by_max_pending_mb(work, frame_root):
    probe = start_tracker(work / "probe", frame_root / "probe", configuration())
    size = len(frame_as_jpeg(probe.ring.write(probe.pixels, captured_at=T0, captured_monotonic_ns=1), probe.ring.root))
    two_jpegs_mb = 2 * size / 2**20  # exact: a division by a power of two
    tracker = start_tracker(work, frame_root, configuration(dataCapture={
        **ON, "newTracks": False, "sampleRate": 1.0, "maxPendingMb": two_jpegs_mb}), rng=random.Random(1))
    for i in range(3):
        tracker.frame(i / 10, [STANDING])
    assert len(captures(tracker)) == 2  # every frame's JPEG is the same size: two fill the bound exactly
    assert tracker.app.telemetry.counters["capturesSkippedFull"] == 1
    receipt(tracker, [c.frame_id for c in captures(tracker)])
    tracker.frame(0.3, [STANDING])
    assert len(captures(tracker)) == 3


def test_the_predictions_go_best_first_and_the_weakest_beyond_the_limit_are_left_out(work, frame_root):
    tracker = tracker_with(work, frame_root, newTracks=False, sampleRate=1.0)
    weak = [detection(STANDING, round(0.1 + n * 0.001, 3)) for n in range(MAX_CAPTURE_PREDICTIONS + 5)]
    tracker.frame(0.0, [detection(STANDING, 0.6), detection(STANDING, 0.9)], candidates=weak)
    [capture] = captures(tracker)
    assert [d.score for d in capture.detections] == [0.9, 0.6]
    scores = [d.score for d in capture.candidates]
    assert len(scores) == MAX_CAPTURE_PREDICTIONS and scores == sorted(scores, reverse=True)
    assert scores[0] == weak[-1].score and scores[-1] == weak[5].score


def test_without_an_injected_generator_the_sample_still_draws(work, frame_root):
    tracker = start_tracker(work, frame_root, configuration(dataCapture={**ON, "newTracks": False, "sampleRate": 1.0}))
    tracker.frame(0.0, [STANDING])
    assert [c.reasons for c in captures(tracker)] == [["random"]]


def test_a_reference_outside_the_ring_or_a_folder_that_cannot_be_written_is_counted_not_sent(work, frame_root):
    tracker = tracker_with(work, frame_root, newTracks=False, sampleRate=1.0)
    ref = tracker.ring.write(tracker.pixels, captured_at=T0, captured_monotonic_ns=1)
    elsewhere = ref.model_copy(update={"slot": tracker.ring.slots + 1})  # no such slot: refused by the reader
    tracker.nucleus.send(topics.DETECTIONS, detections_of(elsewhere, [detection(STANDING)]))
    assert captures(tracker) == [] and tracker.app.telemetry.counters["capturesFailed"] == 1
    shutil.rmtree(folder(work))
    folder(work).write_bytes(b"")  # a file where the folder was: the copy cannot be written
    tracker.frame(0.1, [STANDING])
    assert captures(tracker) == [] and tracker.app.telemetry.counters["capturesFailed"] == 2


def test_a_capture_that_could_not_be_published_stays_and_goes_with_the_writers_next_run(work, frame_root):
    tracker = tracker_with(work, frame_root, newTracks=False, sampleRate=1.0)
    publish = tracker.nucleus.client.publish_to_topic
    original = publish.side_effect
    publish.side_effect = ConnectionError("nucleus gone")
    taken = tracker.frame(0.0, [STANDING])
    publish.side_effect = original
    assert captures(tracker) == [] and tracker.app.captures.awaiting() == 1
    assert tracker.app.telemetry.counters["publishErrors"] >= 1
    tracker.writer_starts()
    assert [c.frame_id for c in captures(tracker)] == [taken.frame_id]
