"""Scripted detections for the tracker's tests: boxes that walk, frames that carry them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from event_tracker.settings import TrackingSettings
from event_tracker.tracker import Box, Observation, Step, Tracker

PERSON = (0.10, 0.40, 0.16, 0.70)  # a standing person, 0.06 x 0.3 of the frame


def walk(start: Box, velocity: tuple[float, float], times: Iterable[float]) -> list[Box]:
    """The box at each time (seconds from 0), moving at ``velocity`` (frame per second)."""
    x1, y1, x2, y2 = start
    vx, vy = velocity
    return [(x1 + vx * t, y1 + vy * t, x2 + vx * t, y2 + vy * t) for t in times]


def frame_times(count: int, fps: float = 10.0, start: float = 0.0) -> list[float]:
    return [start + i / fps for i in range(count)]


@dataclass
class Run:
    """Every step of a tracker over scripted frames, and the (id, box) of the tracks seen in each, as
    they were then (a step's tracks are the live ones, changed by later frames)."""

    steps: list[Step] = field(default_factory=list)
    seen: list[list[tuple[int, Box]]] = field(default_factory=list)

    def ids(self, index: int) -> set[int]:
        return {track_id for track_id, _ in self.seen[index]}

    def started(self) -> list[int]:
        return [track.id for step in self.steps for track in step.started]

    def ended(self) -> list[int]:
        return [track.id for step in self.steps for track in step.ended]

    def id_at(self, index: int, near: Box) -> int | None:
        """The id of the track seen in frame ``index`` whose box was closest to ``near``."""
        if not self.seen[index]:
            return None
        return min(self.seen[index], key=lambda seen: sum(abs(a - b) for a, b in zip(seen[1], near, strict=True)))[0]


def run(tracker: Tracker, frames: Sequence[tuple[float, list[Observation]]]) -> Run:
    result = Run()
    for index, (at, seen) in enumerate(frames):
        step = tracker.update(at, seen, frame_id=f"f{index}")
        result.steps.append(step)
        result.seen.append([(track.id, track.box) for track in step.seen])
    return result


def person(box: Box, score: float = 0.9, label: str = "person") -> Observation:
    return Observation(label, score, box)


def tracker(**over: object) -> Tracker:
    return Tracker(TrackingSettings(**over))
