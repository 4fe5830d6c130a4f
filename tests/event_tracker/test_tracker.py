"""The tracker on scripted boxes (misses, crossings, leaving and entering, snapshots, paths) and on a
synthetic crowd with occlusions, where identity switches are counted against the truth."""

from __future__ import annotations

import pytest

from benchmarks.tracking_scenes import crowd, score
from event_tracker.settings import TrackingSettings
from event_tracker.tracker import Observation, Snapshot, TrackState, observations, snapshot_quality
from smartcam.config import ConfigError, validate_config
from smartcam.contracts import MAX_PATH_POINTS, Detection
from smartcam.contracts import Box as ContractBox
from tests.event_tracker.helpers import PERSON, frame_times, person, run, tracker, walk


def walking_frames(count: int, velocity: tuple[float, float] = (0.05, 0.0), fps: float = 10.0,
                   start: tuple = PERSON, score: float = 0.9) -> list[tuple[float, list[Observation]]]:
    times = frame_times(count, fps)
    return [(t, [person(box, score)]) for t, box in zip(times, walk(start, velocity, times), strict=True)]


def test_a_track_is_confirmed_after_three_detections_and_numbered_from_one():
    result = run(tracker(), walking_frames(5))
    assert [len(step.started) for step in result.steps] == [0, 0, 1, 0, 0]
    assert [result.ids(i) for i in range(5)] == [set(), set(), {1}, {1}, {1}]
    assert result.steps[2].started[0].state == TrackState.CONFIRMED
    assert result.steps[2].started[0].first_seen == 0.0  # the event starts with the first detection


def test_a_one_frame_false_detection_never_becomes_a_track():
    frames = walking_frames(6)
    frames[1][1].append(person((0.7, 0.1, 0.75, 0.2), score=0.95))  # a flash on the wall, once
    t = tracker()
    result = run(t, frames)
    assert result.started() == [1]
    assert len(t.tracks) == 1


def test_identity_survives_five_missed_frames():
    frames = walking_frames(30)
    for index in range(10, 15):
        frames[index] = (frames[index][0], [])
    result = run(tracker(), frames)
    assert result.started() == [1] and result.ended() == []
    assert [track.id for track in result.steps[10].lost] == [1]
    assert all(result.ids(i) == set() for i in range(10, 15))
    assert all(result.ids(i) == {1} for i in range(15, 30))


def test_someone_who_stops_while_hidden_is_taken_up_again_where_they_were_last_seen():
    """Walking at a box width per second, hidden (behind a post) for 3 s in which they stop: their
    prediction moves on for lostCoastS only, and the box they were last seen in takes them back."""
    frames = walking_frames(20, velocity=(0.06, 0.0))
    last_box = frames[-1][1][0].box
    times = frame_times(61)[20:]
    frames += [(t, []) for t in times[:30]]  # hidden 3 s
    frames += [(t, [person(last_box)]) for t in times[30:]]  # there again, where they stopped
    result = run(tracker(), frames)
    assert result.started() == [1] and result.ended() == []
    assert all(result.ids(i) == {1} for i in range(50, 61))


def test_without_the_stop_and_the_last_box_that_person_would_be_a_second_event():
    frames = walking_frames(20, velocity=(0.06, 0.0))
    last_box = frames[-1][1][0].box
    times = frame_times(61)[20:]
    frames += [(t, []) for t in times[:30]] + [(t, [person(last_box)]) for t in times[30:]]
    coasting = tracker(lost_coast_s=60.0)
    coasting._recover = lambda frame, tracks, detections: ([], detections)  # the third round off
    assert run(coasting, frames).started() == [1, 2]


def test_two_people_crossing_keep_their_identities_with_the_low_score_detections_of_the_hidden_one():
    times = frame_times(40)
    left_to_right = walk((0.10, 0.40, 0.16, 0.70), (0.12, 0.0), times)
    right_to_left = walk((0.60, 0.38, 0.66, 0.68), (-0.12, 0.0), times)  # a bit farther: behind at the crossing
    frames = []
    for t, near, far in zip(times, left_to_right, right_to_left, strict=True):
        overlap = min(near[2], far[2]) - max(near[0], far[0])
        hidden_score = 0.3 if overlap > 0.02 else 0.9  # half hidden: the detector is unsure
        frames.append((t, [person(near, 0.9), person(far, hidden_score)]))
    result = run(tracker(), frames)
    walker_a = result.id_at(5, left_to_right[5])
    walker_b = result.id_at(5, right_to_left[5])
    assert {walker_a, walker_b} == {1, 2}
    assert result.id_at(39, left_to_right[39]) == walker_a
    assert result.id_at(39, right_to_left[39]) == walker_b
    assert result.started() == [1, 2] and result.ended() == []
    crossing = [i for i, (_, seen) in enumerate(frames) if seen[1].score < 0.5]
    assert crossing and all(len(result.steps[i].seen) == 2 for i in crossing)  # the low-score one kept too


def test_a_low_score_detection_alone_neither_starts_nor_confirms_a_track():
    result = run(tracker(), walking_frames(10, score=0.4))
    assert result.started() == []


def test_one_leaving_and_another_entering_later_are_two_events():
    times = frame_times(80)
    leaving = walk((0.80, 0.40, 0.86, 0.70), (0.2, 0.0), times[:10])  # out of the frame after 1 s
    entering = walk((0.00, 0.40, 0.06, 0.70), (0.2, 0.0), times[:20])
    frames = [(t, [person(box)]) for t, box in zip(times[:10], leaving, strict=True)]
    frames += [(t, []) for t in times[10:60]]  # 5 s with nobody
    frames += [(t, [person(box)]) for t, box in zip(times[60:80], entering, strict=True)]
    result = run(tracker(end_after_s=3.0), frames)
    assert result.started() == [1, 2]
    assert result.ended() == [1]
    [ended] = [track for step in result.steps for track in step.ended]
    assert ended.end_reason == "unseen" and ended.last_seen == pytest.approx(0.9)
    assert ended.ended_at == pytest.approx(4.0)  # first frame more than 3 s after it was last seen
    assert ended.duration_s == pytest.approx(0.9)


def test_a_person_standing_still_behind_a_motion_gate_stays_one_event_if_it_ends_after_the_keep_alive():
    # a gated camera sends a keep-alive frame every 2 s while the person stands (shifting a little)
    times = [i * 2.0 for i in range(10)]
    standing = [(t, [person(box)]) for t, box in zip(times, walk(PERSON, (0.002, 0.0), times), strict=True)]
    result = run(tracker(end_after_s=5.0), standing)
    assert result.started() == [1] and result.ended() == []
    assert all(result.ids(i) == {1} for i in range(2, 10))
    # ending sooner than the keep-alive interval splits one person into an event per keep-alive frame
    split = run(tracker(end_after_s=1.5, confirm_hits=1), standing)
    assert split.started() == list(range(1, 11)) and split.ended() == list(range(1, 10))


def test_labels_do_not_mix_unless_asked():
    times = frame_times(10)
    boxes = walk(PERSON, (0.05, 0.0), times)
    flicker = [(t, [person(box, label="dog" if i % 4 == 0 else "person")]) for i, (t, box) in
               enumerate(zip(times, boxes, strict=True))]
    strict = run(tracker(), flicker)
    assert [track.label for step in strict.steps for track in step.started] == ["person"]  # no dog 3 frames in a row
    assert strict.ids(5) == {1} and strict.ids(4) == set()  # the dog frame misses the person, the next finds it
    mixed = tracker(class_aware=False)
    result = run(mixed, flicker)
    assert result.started() == [1]
    assert [track.label for track in mixed.tracks] == ["person"]  # the label with the highest summed score


def test_a_frame_older_than_the_last_is_ignored():
    t = tracker()
    run(t, walking_frames(5))
    step = t.update(0.2, [person(PERSON)])
    assert step.stale and step.seen == ()
    assert t.update(0.4, [person(PERSON)]).stale  # the same capture time again: a resent frame


def test_expire_ends_tracks_when_no_frames_come():
    t = tracker(end_after_s=5.0)
    run(t, walking_frames(5))  # last detected at 0.4 s
    assert t.expire(5.0).ended == ()
    ended = t.expire(5.5).ended
    assert [track.id for track in ended] == [1] and ended[0].end_reason == "unseen"
    assert t.tracks == ()
    assert t.expire(60.0).ended == ()  # ended once


def test_end_all_ends_confirmed_and_lost_tracks_and_drops_tentative_ones():
    t = tracker()
    frames = walking_frames(5)
    frames.append((0.5, [person((0.7, 0.1, 0.75, 0.3))]))  # a new, tentative one; the first is missed: lost
    run(t, frames)
    assert {track.state for track in t.tracks} == {TrackState.TENTATIVE, TrackState.LOST}
    ended = t.end_all(0.6, "tracker stopped").ended
    assert [(track.id, track.end_reason) for track in ended] == [(1, "tracker stopped")]
    assert t.tracks == ()


def test_the_snapshot_is_the_best_clear_detection_and_is_announced_when_it_changes():
    times = frame_times(8)
    sizes = [0.10, 0.12, 0.20, 0.21, 0.30, 0.30, 0.30, 0.30]  # walking towards the camera
    scores = [0.9, 0.9, 0.9, 0.9, 0.4, 0.9, 0.6, 0.9]
    frames = []
    for t, size, s in zip(times, sizes, scores, strict=True):
        frames.append((t, [person((0.4, 0.2, 0.4 + size / 3, 0.2 + size), s)]))
    result = run(tracker(low_score=0.1, snapshot_gain=1.2), frames)
    announced = [i for i, step in enumerate(result.steps) if step.snapshots]
    # confirmed at frame 2 with its best so far (frame 2); frame 3 is not 1.2 x better; frame 4 has a low
    # score (partly hidden) and never counts; frame 5 is the first clearly better one
    assert announced == [2, 5]
    snapshot = result.steps[-1].seen[0].snapshot  # the live track: its snapshot as of the last frame
    assert isinstance(snapshot, Snapshot) and snapshot.frame_id == "f5" and snapshot.at == pytest.approx(0.5)


def test_snapshot_quality_prefers_size_across_and_avoids_the_frame_edge():
    small_sure = snapshot_quality((0.4, 0.4, 0.45, 0.55), 0.95)
    twice_as_wide_unsure = snapshot_quality((0.4, 0.4, 0.5, 0.7), 0.4)
    assert small_sure > twice_as_wide_unsure  # area x score would pick the unsure one
    inside = snapshot_quality((0.3, 0.3, 0.5, 0.8), 0.9)
    at_the_edge = snapshot_quality((0.0, 0.3, 0.2, 0.8), 0.9)
    assert at_the_edge == pytest.approx(inside / 2)


def test_the_path_is_subsampled_bounded_and_spans_the_whole_track():
    t = tracker(path_points=8, path_interval_s=1.0, path_step=0.5, end_after_s=1.0)
    frames = walking_frames(200, velocity=(0.002, 0.0))  # 20 s, slow: a point per second by time
    run(t, frames)
    [track] = t.tracks
    assert 4 <= len(track.path) <= 8
    assert track.path[0].at == 0.0
    gaps = [b.at - a.at for a, b in zip(track.path, track.path[1:], strict=False)]
    assert min(gaps) >= 1.0
    [ended] = t.expire(30.0).ended
    assert ended.path[-1].at == pytest.approx(19.9)  # the last detection closes the path


def test_an_ended_path_holds_no_more_than_path_points_and_ends_with_the_last_detection():
    t = tracker(path_points=4, path_interval_s=1.0, path_step=0.5, end_after_s=1.0)
    times = [0.0, 1.0, 2.0, 3.0, 3.5]  # a point a second fills the path; 3.5 is too soon to be one
    run(t, [(at, [person(PERSON)]) for at in times])
    assert [point.at for point in t.tracks[0].path] == [0.0, 1.0, 2.0, 3.0]
    [ended] = t.expire(10.0).ended
    assert [point.at for point in ended.path] == [0.0, 1.0, 2.0, 3.5]  # bounded, and closed by the last one


def test_a_fast_mover_adds_path_points_by_distance():
    t = tracker(path_points=64, path_interval_s=10.0, path_step=0.05)
    run(t, walking_frames(20, velocity=(0.3, 0.0)))  # 0.03 per frame: a point every second frame
    [track] = t.tracks
    assert 9 <= len(track.path) <= 11


def test_observations_from_detection_contracts():
    detection = Detection(label="person", class_id=1, score=0.8, box=ContractBox(x1=0.1, y1=0.2, x2=0.3, y2=0.6))
    assert observations([detection]) == [Observation("person", 0.8, (0.1, 0.2, 0.3, 0.6))]
    weak = detection.model_copy(update={"score": 0.3})
    assert observations([detection], [weak]) == [Observation("person", 0.8, (0.1, 0.2, 0.3, 0.6)),
                                                 Observation("person", 0.3, (0.1, 0.2, 0.3, 0.6), candidate=True)]


def candidate(box, score: float) -> Observation:
    return Observation("person", score, box, candidate=True)


def test_a_candidate_continues_a_track_like_a_low_score_detection():
    """Half hidden from frame 10 on, the person is detected only weakly (SsdInference's candidates): the
    track goes on being seen instead of being lost."""
    frames = walking_frames(20)
    for index in range(10, 20):
        at, [seen] = frames[index]
        frames[index] = (at, [candidate(seen.box, 0.3)])
    result = run(tracker(), frames)
    assert result.started() == [1]
    assert all(result.ids(i) == {1} for i in range(2, 20)) and not any(step.lost for step in result.steps)
    assert result.steps[-1].seen[0].score == pytest.approx(0.3)


def test_a_candidate_never_starts_a_track_nor_becomes_a_snapshot_whatever_its_score():
    """An operator's scoreThreshold above highScore makes candidates of scores the tracker would call
    high: they are still no results, so they only continue tracks."""
    assert run(tracker(), [(t, [candidate(box, 0.95)]) for t, box in
                           zip(frame_times(10), walk(PERSON, (0.05, 0.0), frame_times(10)), strict=True)]
               ).started() == []
    frames = walking_frames(8, score=0.6)
    for index in range(4, 8):
        at, [seen] = frames[index]
        frames[index] = (at, [candidate(seen.box, 0.95)])
    result = run(tracker(), frames)
    assert result.started() == [1] and all(result.ids(i) == {1} for i in range(2, 8))
    assert result.steps[-1].seen[0].snapshot.frame_id in {"f0", "f1", "f2", "f3"}
    assert not any(step.snapshots for step in result.steps[4:])


def test_tracking_settings_are_strict_and_ordered():
    config = validate_config(TrackingSettings, {"endAfterS": 8, "confirmHits": 2, "classAware": False})
    assert config.end_after_s == 8.0 and config.confirm_hits == 2 and not config.class_aware
    with pytest.raises(ConfigError, match="ordered"):
        validate_config(TrackingSettings, {"lowScore": 0.6, "highScore": 0.5})
    with pytest.raises(ConfigError, match="confirmHits"):
        validate_config(TrackingSettings, {"confirmHits": 2.0})
    with pytest.raises(ConfigError, match="endAfterS"):
        validate_config(TrackingSettings, {"endAfterS": "5"})
    with pytest.raises(ConfigError, match="pathPoints"):  # an event carries at most MAX_PATH_POINTS
        validate_config(TrackingSettings, {"pathPoints": MAX_PATH_POINTS + 1})
    with pytest.raises(ConfigError, match="lostCoastS"):
        validate_config(TrackingSettings, {"lostCoastS": -0.5})
    assert validate_config(TrackingSettings, {"lostCoastS": 0}).lost_coast_s == 0.0
    assert TrackingSettings().end_after_s == 10.0  # well above the motion gate's 4 s keep-alive


# --- a crowd with occlusions, scored against the truth ----------------------------------------------

@pytest.mark.parametrize(("people", "fps", "seed"), [(10, 10.0, 4), (10, 5.0, 5), (20, 5.0, 6)])
def test_a_crowd_is_followed_with_few_identity_switches(people: int, fps: float, seed: int):
    scene = crowd(people, seconds=30, fps=fps, seed=seed)
    t = tracker()
    reported = []
    for frame in scene:
        step = t.update(frame.at, [Observation(*d) for d in frame.detections])
        reported.append([(track.id, track.box) for track in step.seen])
    result = score(scene, reported)
    person_frames = sum(len(frame.truth) for frame in scene)
    # the synthetic detector hides people behind nearer ones and misses 5 % of the rest: the limits leave
    # room for that, and fail when association or the lost-track handling breaks
    assert result.id_switches <= 0.005 * person_frames, result.summary()
    assert result.fragmentation <= 0.15 * result.people, result.summary()
    assert result.recall >= 0.8 and result.precision >= 0.97, result.summary()
