"""Recall and precision of a detector on a labeled evaluation set, and the gate a lower-precision build
must pass to ship: within GATE_POINTS of the fp32 model on both, at every score threshold checked.

Numpy only, so `make model` (build venv) and `make test` (dev venv) judge with the same code.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

Box = Sequence[float]  # x1, y1, x2, y2, normalized
EVAL_SET = Path(__file__).resolve().parent.parent / "tests" / "model_packaging" / "eval" / "vtest_persons.json"
IOU_MATCH = 0.5
GATE_POINTS = 1.0  # percentage points
GATE_THRESHOLDS = (0.5, 0.3)  # SsdInference's default scoreThreshold, and a lower one a tracker may use


@dataclass(frozen=True)
class Score:
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def recall(self) -> float:
        found = self.true_positives + self.false_negatives
        return self.true_positives / found if found else 1.0

    @property
    def precision(self) -> float:
        claimed = self.true_positives + self.false_positives
        return self.true_positives / claimed if claimed else 1.0

    def __add__(self, other: Score) -> Score:
        return Score(self.true_positives + other.true_positives, self.false_positives + other.false_positives,
                     self.false_negatives + other.false_negatives)


def iou(a: Box, b: Box) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def score_frame(found: Iterable[tuple[float, Box]], truth: Sequence[Box]) -> Score:
    """Greedy matching, best score first: a detection is a true positive when its best unmatched
    truth box overlaps it by IOU_MATCH or more (the PASCAL VOC rule)."""
    matched: set[int] = set()
    false_positives = 0
    for _, box in sorted(found, key=lambda item: -item[0]):
        best, best_index = 0.0, -1
        for index, candidate in enumerate(truth):
            overlap = iou(box, candidate)
            if index not in matched and overlap > best:
                best, best_index = overlap, index
        if best >= IOU_MATCH:
            matched.add(best_index)
        else:
            false_positives += 1
    return Score(len(matched), false_positives, len(truth) - len(matched))


def score_set(detect: Callable[[int], Iterable[tuple[float, Box]]], truth: Mapping[int, Sequence[Box]]) -> Score:
    """``detect(frame_index)`` -> (score, box) pairs; summed over every labeled frame."""
    total = Score(0, 0, 0)
    for frame, boxes in truth.items():
        total += score_frame(detect(frame), boxes)
    return total


@dataclass(frozen=True)
class GateResult:
    threshold: float
    reference: Score
    candidate: Score

    # rounded: 49 % - 50 % is -1.0000000000000009 points in floating point, and the gate holds at -1
    @property
    def recall_points(self) -> float:
        return round(100 * (self.candidate.recall - self.reference.recall), 9)

    @property
    def precision_points(self) -> float:
        return round(100 * (self.candidate.precision - self.reference.precision), 9)

    @property
    def holds(self) -> bool:
        return self.recall_points >= -GATE_POINTS and self.precision_points >= -GATE_POINTS

    def line(self) -> str:
        return (f"score >= {self.threshold}: recall {100 * self.reference.recall:.1f} -> "
                f"{100 * self.candidate.recall:.1f} ({self.recall_points:+.1f} points), precision "
                f"{100 * self.reference.precision:.1f} -> {100 * self.candidate.precision:.1f} "
                f"({self.precision_points:+.1f} points)")


def load_eval_set(path: Path = EVAL_SET) -> tuple[dict, dict[int, list[Box]]]:
    """The document (provenance, protocol) and its truth boxes by frame index."""
    document = json.loads(path.read_text(encoding="utf-8"))
    return document, {int(frame): boxes for frame, boxes in document["frames"].items()}
