"""Recall, precision and AP of a detector on a labeled evaluation set, and the gate a lower-precision build
must pass to ship: within GATE_POINTS of the fp32 model on both, at every score threshold checked.

Plain Python, so `make model` (build venv) and `make test` (dev venv) judge with the same code. One matching
rule for every figure: :func:`matches`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from model_packaging.ground_truth import TruthImage, read_manifest

Box = Sequence[float]  # x1, y1, x2, y2, normalized
EVAL_SET = Path(__file__).resolve().parent / "eval" / "persons.manifest"  # Ground Truth output format
K = TypeVar("K")
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


def matches(found: Iterable[tuple[float, Box]], truth: Sequence[Box]) -> list[tuple[float, bool]]:
    """Greedy matching, best score first (ties: in the order given): each detection with whether it is a true
    positive, i.e. its best unmatched truth box overlaps it by IOU_MATCH or more. A second detection of a
    matched box is a false positive. Whether a detection matches depends only on the detections scored above
    it, so the matches at a higher score threshold are these, cut at that score."""
    matched: set[int] = set()
    result = []
    for score, box in sorted(found, key=lambda item: -item[0]):
        best, best_index = 0.0, -1
        for index, candidate in enumerate(truth):
            overlap = iou(box, candidate)
            if index not in matched and overlap > best:
                best, best_index = overlap, index
        hit = best >= IOU_MATCH
        if hit:
            matched.add(best_index)
        result.append((score, hit))
    return result


def score_frame(found: Iterable[tuple[float, Box]], truth: Sequence[Box]) -> Score:
    matched = matches(found, truth)
    hits = sum(hit for _, hit in matched)
    return Score(hits, len(matched) - hits, len(truth) - hits)


def average_precision(scored: Iterable[tuple[float, bool]], positives: int) -> float | None:
    """AP as PASCAL VOC computes it since 2010: the area under the precision-recall curve of every detection
    (pooled over the images, best score first) with precision made monotone (all-point interpolation).
    None when there is nothing to find."""
    if positives == 0:
        return None
    true_positives = false_positives = 0
    recalls, precisions = [0.0], [0.0]
    for _, hit in sorted(scored, key=lambda item: -item[0]):
        true_positives += hit
        false_positives += not hit
        recalls.append(true_positives / positives)
        precisions.append(true_positives / (true_positives + false_positives))
    recalls.append(1.0)
    precisions.append(0.0)
    for i in range(len(precisions) - 2, -1, -1):
        precisions[i] = max(precisions[i], precisions[i + 1])
    area = sum((recalls[i + 1] - recalls[i]) * precisions[i + 1] for i in range(len(recalls) - 1))
    return min(area, 1.0)  # a sum of fractions of 1 may round a hair above it


def score_set(detect: Callable[[K], Iterable[tuple[float, Box]]], truth: Mapping[K, Sequence[Box]]) -> Score:
    """``detect(image)`` -> (score, box) pairs; summed over every labeled image."""
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


def load_eval_set(path: Path = EVAL_SET) -> list[TruthImage]:
    """The labeled images of the evaluation set (its labeling rules: eval/README.md)."""
    return read_manifest(path)
