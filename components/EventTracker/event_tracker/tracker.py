"""Tracks of one camera from its detections, frame by frame, in the style of ByteTrack.

Each frame: every track's box is predicted to the frame's time (Kalman filter, constant velocity; a
track lost for more than ``lostCoastS`` stays where it is); then detections are matched by IoU in
three rounds:

1. high-score detections to every track, tentative ones included;
2. low-score detections to the confirmed and lost tracks still unmatched, at a stricter IoU: a person
   half hidden behind another is often detected weakly, and this keeps their identity instead of
   losing it (SsdInference reports only detections from its scoreThreshold, 0.5; the weaker ones, from
   its trackingScoreThreshold, 0.1, come as the message's ``candidates``, which are low-score detections
   whatever their score: on the real detections of OpenCV's vtest.avi they cut the person tracks from 42
   to 35);
3. high-score detections still unmatched to the tracks lost in the last few seconds and still
   unmatched, by IoU with the box each was last detected in (OC-SORT's observation-centric recovery):
   a person who stopped, or turned, while hidden behind a post shows up again where the prediction no
   longer is.

Unlike ByteTrack, which matches tentative tracks in a round of their own after the others, the first
round has them compete with the confirmed ones: a track needs ``confirmHits`` detections, and in the
frames before that a confirmed track of a person walking past would otherwise take the newcomer's
detection (at IoU 0.2) although the newcomer's own track overlaps it far better. On the synthetic
crowds of ``benchmarks.tracking_scenes`` this cut the identity switches by 40 to 50 %; letting low-score
detections also take up lost tracks (as Roboflow's ByteTrack does) removed a further tenth.

A high-score detection still unmatched starts a tentative track; ``confirmHits`` detections in a row
confirm it (its event starts), a miss before that drops it as noise. A confirmed track that is missed
is lost: it keeps being predicted and can be matched again with the same identity, until it has not
been detected for ``endAfterS`` seconds and ends (its event ends). Time is the frames' capture time,
so the tracker behaves the same at any frame rate and across the gaps a motion gate leaves.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

import numpy as np

from event_tracker import kalman
from event_tracker.assignment import assign, iou_matrix
from event_tracker.settings import TrackingSettings
from smartcam.contracts import Detection

Box = tuple[float, float, float, float]  # normalized corners x1, y1, x2, y2

# The third round takes up only tracks lost this recently: the box a track was last seen in stays where
# it is, and anyone walking through that spot later would otherwise continue someone else's event.
RECOVER_WITHIN_S = 4.0
# A box closer than this to the frame's edge is cut off by it: a poor snapshot of the object.
EDGE_MARGIN = 0.01
EDGE_PENALTY = 0.5


@dataclass(frozen=True, slots=True)
class Observation:
    """One detection in one frame. A ``candidate`` (one of SsdInference's weak detections below its
    scoreThreshold, not a result) is only ever a low-score detection, whatever its score: it can
    continue a confirmed or lost track, never start one or be its snapshot."""

    label: str
    score: float
    box: Box
    candidate: bool = False


def observations(detections: Iterable[Detection], candidates: Iterable[Detection] = ()) -> list[Observation]:
    """A frame's results and its candidates, as the tracker sees them."""
    return [Observation(d.label, d.score, (d.box.x1, d.box.y1, d.box.x2, d.box.y2)) for d in detections] + [
        Observation(d.label, d.score, (d.box.x1, d.box.y1, d.box.x2, d.box.y2), candidate=True) for d in candidates]


class TrackState(StrEnum):
    TENTATIVE = "tentative"
    CONFIRMED = "confirmed"
    LOST = "lost"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The detection chosen as the best picture of a track, and the frame it is in."""

    frame_id: str | None
    at: float
    box: Box
    score: float
    quality: float


@dataclass(frozen=True, slots=True)
class PathPoint:
    at: float
    box: Box


def snapshot_quality(box: Box, score: float) -> float:
    """How good a picture of the object this detection is: score x sqrt(area), halved when the box
    touches the frame's edge.

    The square root of the area is the object's size across, which is what a person looking at the
    snapshot needs; the area itself would let a box twice as large across win with a quarter of the
    score, and the largest boxes are often two people merged or an object cut by the edge. A box
    touching the edge shows part of the object only."""
    x1, y1, x2, y2 = box
    quality = score * math.sqrt(max(x2 - x1, 0.0) * max(y2 - y1, 0.0))
    if min(x1, y1) < EDGE_MARGIN or max(x2, y2) > 1 - EDGE_MARGIN:
        quality *= EDGE_PENALTY
    return quality


@dataclass(frozen=True, slots=True)
class Track:
    """One object followed across frames, as of one step. ``id`` is given at confirmation (0 while
    tentative), per tracker, counting from 1."""

    id: int
    label: str
    state: TrackState
    first_seen: float  # capture time of the first frame it was detected in
    last_seen: float  # ... and of the last one (an event ends then, even when the tracker decides later)
    box: Box  # the last detected box
    score: float  # the last detection's score
    best_score: float
    hits: int  # frames it was detected in
    snapshot: Snapshot | None
    path: tuple[PathPoint, ...]
    end_reason: str | None = None  # "unseen" for endAfterS without a detection, else end_all's reason
    ended_at: float | None = None  # when the tracker ended it

    @property
    def duration_s(self) -> float:
        return self.last_seen - self.first_seen

    @property
    def anchor(self) -> tuple[float, float]:
        """The bottom center of the last detected box: where a person stands."""
        x1, _, x2, y2 = self.box
        return ((x1 + x2) / 2, y2)


@dataclass(eq=False, slots=True)
class _LiveTrack:
    """The tracker's own, changing record of a track; :meth:`view` is what leaves the tracker."""

    label: str
    state: TrackState
    first_seen: float
    last_seen: float
    box: Box
    score: float
    best_score: float
    hits: int = 1
    id: int = 0
    snapshot: Snapshot | None = None
    path: list[PathPoint] = field(default_factory=list)
    end_reason: str | None = None
    ended_at: float | None = None
    label_scores: dict[str, float] = field(default_factory=dict)

    def view(self) -> Track:
        return Track(self.id, self.label, self.state, self.first_seen, self.last_seen, self.box, self.score,
                     self.best_score, self.hits, self.snapshot, tuple(self.path), self.end_reason, self.ended_at)


@dataclass(frozen=True)
class Step:
    """What one frame (or the passing of time) changed. ``seen``: confirmed tracks detected in it;
    ``started``: newly confirmed (events start); ``lost``: confirmed tracks missed for the first time;
    ``ended``: confirmed tracks that ended (events end); ``snapshots``: confirmed tracks whose best
    snapshot changed in this frame (copy its frame out of the ring now). ``stale``: the frame was not
    newer than one already tracked, and was ignored. Each track is a frozen view as of this step."""

    at: float
    started: tuple[Track, ...] = ()
    seen: tuple[Track, ...] = ()
    lost: tuple[Track, ...] = ()
    ended: tuple[Track, ...] = ()
    snapshots: tuple[Track, ...] = ()
    stale: bool = False


@dataclass(frozen=True)
class _Frame:
    """One frame's detections as the association rounds use them."""

    at: float
    frame_id: str | None
    seen: Sequence[Observation]
    boxes: np.ndarray  # (N, 4)
    predicted: np.ndarray  # (tracks, 4): the tracks' boxes predicted to ``at``


class Tracker:
    """The tracks of one camera. Call :meth:`update` for each inferred frame in capture order, and
    :meth:`expire` now and then when no frames come (a gated camera), so tracks end on time."""

    def __init__(self, settings: TrackingSettings, noise: kalman.BoxNoise | None = None) -> None:
        self.settings = settings  # replaceable between updates (live configuration)
        self._noise = noise or kalman.BoxNoise()
        self._tracks: list[_LiveTrack] = []
        self._mean = np.zeros((0, 2 * kalman.COORDINATES))
        self._spread = np.zeros((0, 3, kalman.COORDINATES))
        self._last_at: float | None = None
        self._last_id = 0

    @property
    def tracks(self) -> tuple[Track, ...]:
        """The live tracks, tentative, confirmed and lost, as they are now."""
        return tuple(track.view() for track in self._tracks)

    def update(self, at: float, seen: Sequence[Observation], frame_id: str | None = None) -> Step:
        """Track the detections ``seen`` in the frame captured at ``at`` (seconds, any fixed origin)."""
        if self._last_at is not None and at <= self._last_at:
            return Step(at, stale=True)
        dt = 0.0 if self._last_at is None else at - self._last_at
        self._last_at = at
        # Tracks unseen for too long by this frame's time are over before it is matched, whether or not
        # expire() ran in the gap: the same frames end the same tracks.
        ended = self._end_unseen(at)
        self._predict(at, dt)
        settings = self.settings
        frame = _Frame(at, frame_id, seen, np.array([o.box for o in seen], dtype=float).reshape(-1, 4),
                       kalman.states_to_boxes(self._mean))
        high = [i for i, o in enumerate(seen) if o.score >= settings.high_score and not o.candidate]
        low = [i for i, o in enumerate(seen)
               if settings.low_score <= o.score and (o.score < settings.high_score or o.candidate)]

        first, tracks_left, high_left = self._match(frame, list(range(len(self._tracks))), high, settings.match_iou)
        established = [t for t in tracks_left if self._tracks[t].state != TrackState.TENTATIVE]
        second, established_left, _ = self._match(frame, established, low, settings.low_match_iou)
        recovered, high_left = self._recover(frame, established_left, high_left)
        matched = first + second + recovered

        confirmed, found, snapshots = self._apply(frame, matched)
        lost = self._miss({t for t, _ in matched})
        newcomers = [i for i in high_left if seen[i].score >= settings.new_track_score]
        born_confirmed = self._start(frame, newcomers, snapshots)
        self._forget_ended()
        views: dict[int, Track] = {}
        return Step(at, _views(confirmed + born_confirmed, views), _views(found + born_confirmed, views),
                    _views(lost, views), _views(ended, views), _views(snapshots, views))

    def expire(self, at: float) -> Step:
        """End the tracks not detected for ``endAfterS`` by ``at`` (no frame: nothing is predicted)."""
        return Step(at, ended=_views(self._end_unseen(at), {}))

    def end_all(self, at: float, reason: str) -> Step:
        """End every track now (``reason``: the tracker stops, the camera's settings changed ...)."""
        ended = []
        for track in self._tracks:
            if track.state in (TrackState.CONFIRMED, TrackState.LOST):
                self._finish(track, at, reason)
                ended.append(track)
            track.state = TrackState.ENDED
        self._forget_ended()
        return Step(at, ended=_views(ended, {}))

    # --- one frame, in parts ------------------------------------------------------------------------

    def _predict(self, at: float, dt: float) -> None:
        if not self._tracks:
            return
        lost = np.array([track.state == TrackState.LOST for track in self._tracks])
        self._mean[lost, 6:8] = 0.0  # a lost box keeps its size: unobserved, a shrinking box would vanish
        # ... and stops where it is after lostCoastS: people stop and turn while hidden, and a box carried
        # on at its old velocity for seconds would be far from where they show up again.
        stopped = lost & np.array([at - track.last_seen > self.settings.lost_coast_s for track in self._tracks])
        self._mean[stopped, 4:6] = 0.0
        self._mean, self._spread = kalman.predict(self._mean, self._spread, dt, self._noise)

    def _match(
        self, frame: _Frame, tracks: list[int], detections: list[int], minimum: float
    ) -> tuple[list[tuple[int, int]], list[int], list[int]]:
        """Pairs (track index, detection index) among ``tracks`` and ``detections``, and those left of each."""
        if not tracks or not detections:
            return [], tracks, detections
        iou = iou_matrix(frame.predicted[tracks], frame.boxes[detections])
        if self.settings.class_aware:
            track_labels = [self._tracks[t].label for t in tracks]
            detection_labels = [frame.seen[d].label for d in detections]
            if len(set(track_labels + detection_labels)) > 1:
                same = np.array(track_labels)[:, None] == np.array(detection_labels)[None, :]
                iou = np.where(same, iou, 0.0)
        pairs, tracks_left, detections_left = assign(iou, minimum)
        return ([(tracks[r], detections[c]) for r, c in pairs], [tracks[r] for r in tracks_left],
                [detections[c] for c in detections_left])

    def _recover(self, frame: _Frame, tracks: list[int], detections: list[int]
                 ) -> tuple[list[tuple[int, int]], list[int]]:
        """The third round: lost tracks still unmatched take high-score detections that overlap the box
        they were last detected in, however far their prediction has drifted (a person who stopped
        behind a post, or turned, while unseen); such a track starts over from the detection, its old
        velocity forgotten. Returns the pairs and the detections left."""
        lost = [t for t in tracks if self._tracks[t].state == TrackState.LOST
                and frame.at - self._tracks[t].last_seen <= RECOVER_WITHIN_S]
        if not lost or not detections:
            return [], detections
        last_boxes = frame.predicted.copy()
        last_boxes[lost] = [self._tracks[t].box for t in lost]
        pairs, _, detections_left = self._match(replace(frame, predicted=last_boxes), lost, detections,
                                                self.settings.match_iou)
        if pairs:
            rows = [t for t, _ in pairs]
            self._mean[rows], self._spread[rows] = kalman.initiate(frame.boxes[[d for _, d in pairs]], self._noise)
        return pairs, detections_left

    def _apply(
        self, frame: _Frame, matched: list[tuple[int, int]]
    ) -> tuple[list[_LiveTrack], list[_LiveTrack], list[_LiveTrack]]:
        """Correct the matched tracks with their detections; (newly confirmed, matched, new best snapshot)."""
        if not matched:
            return [], [], []
        rows = np.array([t for t, _ in matched])
        detected = frame.boxes[[d for _, d in matched]]
        self._mean[rows], self._spread[rows] = kalman.update(self._mean[rows], self._spread[rows], detected,
                                                                 self._noise)
        started, found, snapshots = [], [], []
        for t, d in matched:
            track, observation = self._tracks[t], frame.seen[d]
            track.last_seen, track.box, track.score = frame.at, observation.box, observation.score
            track.best_score = max(track.best_score, observation.score)
            track.hits += 1
            if not self.settings.class_aware:
                _vote(track, observation)
            self._record_path(track, frame.at, observation.box)
            better = self._offer_snapshot(track, frame, observation)
            if track.state == TrackState.TENTATIVE and track.hits >= self.settings.confirm_hits:
                self._confirm(track)
                started.append(track)
                better = track.snapshot is not None  # the best of its tentative frames, announced now
            elif track.state == TrackState.LOST:
                track.state = TrackState.CONFIRMED
            if track.state == TrackState.CONFIRMED:
                found.append(track)
                if better:
                    snapshots.append(track)
        return started, found, snapshots

    def _miss(self, matched: set[int]) -> list[_LiveTrack]:
        """Unmatched tracks: a tentative one is dropped (noise, no event), a confirmed one is lost."""
        lost = []
        for t, track in enumerate(self._tracks):
            if t in matched:
                continue
            if track.state == TrackState.TENTATIVE:
                track.state = TrackState.ENDED
            elif track.state == TrackState.CONFIRMED:
                track.state = TrackState.LOST
                lost.append(track)
        return lost

    def _start(self, frame: _Frame, newcomers: list[int], snapshots: list[_LiveTrack]) -> list[_LiveTrack]:
        """New tentative tracks from the ``newcomers`` detections; those confirmed at once (confirmHits 1)."""
        if not newcomers:
            return []
        mean, spread = kalman.initiate(frame.boxes[newcomers], self._noise)
        self._mean = np.concatenate([self._mean, mean])
        self._spread = np.concatenate([self._spread, spread])
        started = []
        for d in newcomers:
            observation = frame.seen[d]
            track = _LiveTrack(observation.label, TrackState.TENTATIVE, frame.at, frame.at, observation.box,
                               observation.score, observation.score)
            _vote(track, observation)
            self._record_path(track, frame.at, observation.box)
            self._offer_snapshot(track, frame, observation)
            self._tracks.append(track)
            if self.settings.confirm_hits <= 1:
                self._confirm(track)
                started.append(track)
                if track.snapshot is not None:
                    snapshots.append(track)
        return started

    def _confirm(self, track: _LiveTrack) -> None:
        self._last_id += 1
        track.id = self._last_id
        track.state = TrackState.CONFIRMED

    def _end_unseen(self, at: float) -> list[_LiveTrack]:
        """End (and forget) the tracks undetected for more than endAfterS by ``at``; the confirmed or lost
        ones, whose events end."""
        ended = []
        for track in self._tracks:
            if at - track.last_seen > self.settings.end_after_s:
                if track.state != TrackState.TENTATIVE:
                    self._finish(track, at, "unseen")
                    ended.append(track)
                track.state = TrackState.ENDED
        self._forget_ended()
        return ended

    def _finish(self, track: _LiveTrack, at: float, reason: str) -> None:
        track.end_reason, track.ended_at = reason, at
        if track.path[-1].at < track.last_seen:
            if len(track.path) >= self.settings.path_points:
                track.path.pop()  # the last detection replaces the newest point: the path stays bounded
            track.path.append(PathPoint(track.last_seen, track.box))

    def _forget_ended(self) -> None:
        keep = [t for t, track in enumerate(self._tracks) if track.state != TrackState.ENDED]
        if len(keep) == len(self._tracks):
            return
        self._tracks = [self._tracks[t] for t in keep]
        self._mean, self._spread = self._mean[keep], self._spread[keep]

    # --- per track ----------------------------------------------------------------------------------

    def _record_path(self, track: _LiveTrack, at: float, box: Box) -> None:
        settings = self.settings
        if track.path:
            last = track.path[-1]
            moved = math.dist(_center(last.box), _center(box))
            if at - last.at < settings.path_interval_s and moved < settings.path_step:
                return
        track.path.append(PathPoint(at, box))
        if len(track.path) > settings.path_points:
            track.path[:] = track.path[::2]

    def _offer_snapshot(self, track: _LiveTrack, frame: _Frame, observation: Observation) -> bool:
        """Keep this detection as the track's snapshot if it is clearly better; a low-score (partly hidden)
        detection never is."""
        if observation.score < self.settings.high_score or observation.candidate:
            return False
        quality = snapshot_quality(observation.box, observation.score)
        if track.snapshot is not None and quality < track.snapshot.quality * self.settings.snapshot_gain:
            return False
        track.snapshot = Snapshot(frame.frame_id, frame.at, observation.box, observation.score, quality)
        return True


def _vote(track: _LiveTrack, observation: Observation) -> None:
    """Label by the highest summed score (matters only when matching across labels)."""
    votes = track.label_scores
    votes[observation.label] = votes.get(observation.label, 0.0) + observation.score
    track.label = max(votes, key=votes.__getitem__)


def _views(tracks: list[_LiveTrack], made: dict[int, Track]) -> tuple[Track, ...]:
    """Frozen views of ``tracks``, one per track per step (``made`` keeps those already made)."""
    for track in tracks:
        if id(track) not in made:
            made[id(track)] = track.view()
    return tuple(made[id(track)] for track in tracks)


def _center(box: Box) -> tuple[float, float]:
    return ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
