"""Detections as a person detector gives them, with the truth behind them, and how well a tracker followed it.

:func:`crowd` makes a seeded scene: people walk into the view from its edges, cross it at walking
pace with some wandering and leave, a new one coming in for each who left. Each frame reports what a
detector would: a jittered box with a high score for a person in clear view; a low score for one
partly hidden behind a nearer person (lower in the picture); nothing for one mostly hidden, or now
and then for no reason (a missed detection); and a few false boxes, mostly at low scores.

:func:`score` compares what a tracker reported per frame with the truth the CLEAR-MOT way: in each
frame truth and reported boxes are paired (best total IoU, each at least 0.5); an ID switch is a
person paired with another track id than the last time they were paired. Fragmentation is counted
as the track ids a person got beyond their first (a person whose track broke in three counts two):
CLEAR-MOT's count of interrupted pairings would mostly count the detector's misses here, since a
tracker reports the boxes it matched in a frame.

Only NumPy and the tracker's assignment module are needed, so the same scenes can be fed to another
tracking library in its own venv.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from event_tracker.assignment import assign, iou_matrix

Box = tuple[float, float, float, float]
MATCH_IOU = 0.5


class Detected(NamedTuple):
    label: str
    score: float
    box: Box


@dataclass(frozen=True)
class SceneFrame:
    at: float
    detections: list[Detected]
    truth: dict[int, Box]  # person id -> box, for people at least half in view


@dataclass
class _Walker:
    id: int
    x: float  # center
    y: float  # bottom (feet)
    vx: float
    vy: float
    width: float
    height: float
    entered: bool = False  # has been in view (a walker starts outside it, at an edge)
    age: int = 0  # frames

    def box(self) -> Box:
        return (self.x - self.width / 2, self.y - self.height, self.x + self.width / 2, self.y)


@dataclass(frozen=True)
class DetectorModel:
    """How the simulated detector sees people."""

    jitter: float = 0.04  # std of each box edge, relative to the box's size
    miss_rate: float = 0.05  # a person in clear view goes undetected now and then
    hidden_low: float = 0.3  # covered more than this by nearer people: a low score ...
    hidden_missed: float = 0.7  # ... more than this: not detected
    false_per_frame: float = 0.3  # false boxes per frame (Poisson), at low scores mostly
    false_high_share: float = 0.1  # share of the false boxes scored like a real person


def crowd(people: int, seconds: float = 60.0, fps: float = 10.0, seed: int = 1,
          detector: DetectorModel | None = None) -> list[SceneFrame]:
    """A scene with about ``people`` in view at any time, ``seconds`` long at ``fps``."""
    rng = np.random.default_rng(seed)
    detector = detector or DetectorModel()
    size = 0.5 / math.sqrt(max(people, 1))  # more people, farther away: a crowd still fits the view
    walkers: list[_Walker] = []
    next_id = 1
    frames = []
    dt = 1.0 / fps
    for index in range(round(seconds * fps)):
        at = index * dt
        walkers = [w for w in walkers if _in_view(w.box()) > 0 or not (w.entered or w.age > 5 * fps)]
        while len(walkers) < people:
            walkers.append(_enter(next_id, size, rng, anywhere=index == 0))
            next_id += 1
        for walker in walkers:
            walker.vx += rng.normal(0.0, 0.08) * size * math.sqrt(dt)
            walker.vy += rng.normal(0.0, 0.08) * size * math.sqrt(dt)
            walker.x += walker.vx * dt
            walker.y += walker.vy * dt
            walker.age += 1
            walker.entered = walker.entered or _in_view(walker.box()) > 0
        truth = {w.id: w.box() for w in walkers if _in_view(w.box()) >= 0.5}
        frames.append(SceneFrame(at, _detect(walkers, detector, rng), truth))
    return frames


def _enter(person_id: int, size: float, rng: np.random.Generator, anywhere: bool) -> _Walker:
    """A person at a random edge (anywhere in view at the start) walking into the view at 0.5..1.5 m/s,
    taken as 0.4..1.2 body heights per second."""
    height = size * rng.uniform(0.8, 1.25)
    width = height * rng.uniform(0.35, 0.45)
    speed = height * rng.uniform(0.4, 1.2)
    if anywhere:
        x, y = rng.uniform(0.1, 0.9), rng.uniform(0.2 + height, 1.0)
        angle = rng.uniform(0, 2 * math.pi)
    else:
        edge = rng.integers(4)
        along = rng.uniform(0.1, 0.9)
        x, y, angle = [(0.0 - width / 2, along, 0.0), (1.0 + width / 2, along, math.pi),
                       (along, height * 0.3, math.pi / 2), (along, 1.0 + height * 0.7, -math.pi / 2)][edge]
        angle += rng.uniform(-0.6, 0.6)
    return _Walker(person_id, x, y, speed * math.cos(angle), speed * math.sin(angle), width, height)


def _in_view(box: Box) -> float:
    """Share of the box inside the frame."""
    x1, y1, x2, y2 = box
    inside = max(0.0, min(x2, 1.0) - max(x1, 0.0)) * max(0.0, min(y2, 1.0) - max(y1, 0.0))
    return inside / ((x2 - x1) * (y2 - y1))


def _hidden(walker: _Walker, walkers: Sequence[_Walker]) -> float:
    """Share of the walker's box covered by the union of nearer (lower in the picture) people's boxes,
    estimated on a 12 x 12 grid of points."""
    x1, y1, x2, y2 = walker.box()
    nearer = [w.box() for w in walkers if w.y > walker.y and w.id != walker.id]
    nearer = [b for b in nearer if b[0] < x2 and b[2] > x1 and b[1] < y2 and b[3] > y1]
    if not nearer:
        return 0.0
    xs, ys = np.meshgrid(np.linspace(x1, x2, 12), np.linspace(y1, y2, 12))
    covered = np.zeros(xs.shape, dtype=bool)
    for bx1, by1, bx2, by2 in nearer:
        covered |= (xs >= bx1) & (xs <= bx2) & (ys >= by1) & (ys <= by2)
    return float(covered.mean())


def _detect(walkers: Sequence[_Walker], detector: DetectorModel, rng: np.random.Generator) -> list[Detected]:
    found = []
    for walker in walkers:
        if _in_view(walker.box()) < 0.5:
            continue
        hidden = _hidden(walker, walkers)
        if hidden > detector.hidden_missed or rng.random() < detector.miss_rate:
            continue
        score = rng.uniform(0.15, 0.45) if hidden > detector.hidden_low else rng.uniform(0.55, 0.95)
        x1, y1, x2, y2 = walker.box()
        jitter = rng.normal(0.0, detector.jitter, 4) * [walker.width, walker.height, walker.width, walker.height]
        box = _clip((x1 + jitter[0], y1 + jitter[1], x2 + jitter[2], y2 + jitter[3]))
        if box is not None:
            found.append(Detected("person", float(score), box))
    for _ in range(rng.poisson(detector.false_per_frame)):
        width, height = rng.uniform(0.02, 0.1), rng.uniform(0.04, 0.2)
        x, y = rng.uniform(0, 1 - width), rng.uniform(0, 1 - height)
        high = rng.random() < detector.false_high_share
        score = rng.uniform(0.5, 0.7) if high else rng.uniform(0.1, 0.45)
        found.append(Detected("person", float(score), (x, y, x + width, y + height)))
    rng.shuffle(found)
    return found


def _clip(box: Box) -> Box | None:
    x1, y1, x2, y2 = (min(max(v, 0.0), 1.0) for v in box)
    if x2 - x1 < 1e-3 or y2 - y1 < 1e-3:
        return None
    return (float(x1), float(y1), float(x2), float(y2))


@dataclass
class TrackingScore:
    truth_boxes: int = 0  # person-frames in view
    paired: int = 0  # ... paired with a reported box
    reported: int = 0  # boxes the tracker reported
    id_switches: int = 0
    people: int = 0
    track_ids: int = 0  # distinct ids reported
    ids_per_person: dict[int, set[int]] = field(default_factory=dict)

    @property
    def fragmentation(self) -> int:
        """Track ids people got beyond their first."""
        return sum(len(ids) - 1 for ids in self.ids_per_person.values())

    @property
    def recall(self) -> float:
        return self.paired / self.truth_boxes if self.truth_boxes else 0.0

    @property
    def precision(self) -> float:
        return self.paired / self.reported if self.reported else 0.0

    def summary(self) -> dict[str, float | int]:
        return {"people": self.people, "trackIds": self.track_ids, "idSwitches": self.id_switches,
                "fragmentation": self.fragmentation, "recall": round(self.recall, 4),
                "precision": round(self.precision, 4)}


def score(scene: Sequence[SceneFrame], reported: Sequence[Sequence[tuple[int, Box]]]) -> TrackingScore:
    """How ``reported`` (per frame: the tracker's (track id, box) pairs) follows ``scene``'s truth."""
    result = TrackingScore()
    last_id: dict[int, int] = {}
    all_ids: set[int] = set()
    for frame, boxes in zip(scene, reported, strict=True):
        people = list(frame.truth)
        result.truth_boxes += len(people)
        result.reported += len(boxes)
        all_ids.update(track_id for track_id, _ in boxes)
        truth = np.array([frame.truth[p] for p in people], dtype=float).reshape(-1, 4)
        tracked = np.array([box for _, box in boxes], dtype=float).reshape(-1, 4)
        pairs, _, _ = assign(iou_matrix(truth, tracked), MATCH_IOU)
        result.paired += len(pairs)
        for row, column in pairs:
            person, track_id = people[row], boxes[column][0]
            result.ids_per_person.setdefault(person, set()).add(track_id)
            if last_id.get(person, track_id) != track_id:
                result.id_switches += 1
            last_id[person] = track_id
    result.people = len({p for frame in scene for p in frame.truth})
    result.track_ids = len(all_ids)
    return result
