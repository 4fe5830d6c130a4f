"""What every decoder returns, and the selection applied after any of them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from smartcam.contracts import Box, Detection
from ssd_inference.decoders.nms import class_aware_nms, suppressed_by


class DecoderError(ValueError):
    """Model outputs (or decoder parameters) that do not fit the decoder; ``str()`` says why."""


@dataclass(frozen=True)
class Candidates:
    boxes: np.ndarray  # (N, 4) float32, normalized x1, y1, x2, y2 (may still lie outside 0..1)
    scores: np.ndarray  # (N,) float32
    class_ids: np.ndarray  # (N,) int64, foreground class index

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def take(self, index: np.ndarray) -> Candidates:
        return Candidates(self.boxes[index], self.scores[index], self.class_ids[index])

    @staticmethod
    def empty() -> Candidates:
        return Candidates(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))


class Decoder(Protocol):
    #: names of the model outputs the decoder reads (model.json maps them to runtime outputs)
    output_names: tuple[str, ...]

    def decode(self, outputs: Mapping[str, np.ndarray], score_threshold: float) -> Candidates: ...


@dataclass(frozen=True)
class Selection:
    score_threshold: float
    nms_iou_threshold: float
    max_detections: int
    allowed_class_ids: frozenset[int] | None = None  # None: every class
    min_box_area: float = 0.0
    # From here up to score_threshold: the weak detections a tracker gets as hints (select_weak); None or
    # score_threshold itself: none.
    tracking_score_threshold: float | None = None

    @property
    def decode_threshold(self) -> float:
        """The lowest score the decoder must keep for both selections."""
        if self.tracking_score_threshold is None:
            return self.score_threshold
        return min(self.tracking_score_threshold, self.score_threshold)


def select(candidates: Candidates, selection: Selection) -> Candidates:
    """Score threshold, class allow-list, clipping, minimum area, class-aware NMS, top-k."""
    return _suppress(_eligible(candidates, selection, candidates.scores >= selection.score_threshold), selection)


def select_weak(candidates: Candidates, selection: Selection, results: Candidates) -> Candidates:
    """The weak detections: scored from the tracking threshold up to (not including) the score threshold,
    through the same allow-list, clipping and minimum area; then what one class-aware NMS over the results
    and these would keep of them (none overlaps a result of its class by more than the NMS IoU), best
    first, at most ``max_detections``. ``results``: what :func:`select` kept of the same candidates."""
    low = selection.tracking_score_threshold
    if low is None or low >= selection.score_threshold:
        return Candidates.empty()
    scores = candidates.scores
    weak = _eligible(candidates, selection, (scores >= low) & (scores < selection.score_threshold))
    return _weak_beside(weak, selection, results)


def select_with_weak(candidates: Candidates, selection: Selection) -> tuple[Candidates, Candidates]:
    """``select(candidates)`` and then ``select_weak`` beside it, the same arrays, with the allow-list,
    clipping and minimum area worked out once for both (numpy costs per call with a frame's few boxes)."""
    low = selection.tracking_score_threshold
    if low is None or low >= selection.score_threshold:
        return select(candidates, selection), Candidates.empty()
    scores = candidates.scores
    # elementwise and in order: the same boxes as each selection's own _eligible, split by score after it
    eligible = _eligible(candidates, selection, scores >= low)
    strong = eligible.scores >= selection.score_threshold
    results = _suppress(eligible.take(strong.nonzero()[0]), selection)
    return results, _weak_beside(eligible.take((~strong).nonzero()[0]), selection, results)


def _suppress(found: Candidates, selection: Selection) -> Candidates:
    kept = class_aware_nms(
        found.boxes, found.scores, found.class_ids, selection.nms_iou_threshold, selection.max_detections
    )
    return found.take(kept)


def _weak_beside(weak: Candidates, selection: Selection, results: Candidates) -> Candidates:
    clear = ~suppressed_by(weak.boxes, weak.class_ids, results.boxes, results.class_ids,
                           selection.nms_iou_threshold)
    return _suppress(weak.take(clear.nonzero()[0]), selection)


def _eligible(candidates: Candidates, selection: Selection, keep: np.ndarray) -> Candidates:
    """Of the candidates ``keep`` marks: those of an allowed class, clipped to the frame, big enough."""
    if selection.allowed_class_ids is not None:
        keep &= np.isin(candidates.class_ids, np.fromiter(selection.allowed_class_ids, np.int64))
    found = candidates.take(keep.nonzero()[0])
    boxes = np.clip(found.boxes, 0.0, 1.0)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    big_enough = ((areas > 0) & (areas >= selection.min_box_area)).nonzero()[0]
    return Candidates(boxes[big_enough], found.scores[big_enough], found.class_ids[big_enough])


def to_detections(candidates: Candidates, labels: Sequence[str]) -> list[Detection]:
    detections = []
    for (x1, y1, x2, y2), score, class_id in zip(
        candidates.boxes.tolist(), candidates.scores.tolist(), candidates.class_ids.tolist(), strict=True
    ):
        label = labels[class_id] if 0 <= class_id < len(labels) else f"class_{class_id}"
        detections.append(
            Detection(
                label=label,
                class_id=class_id,
                score=min(max(score, 0.0), 1.0),
                box=Box(x1=x1, y1=y1, x2=x2, y2=y2),
            )
        )
    return detections


def output(outputs: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    try:
        value = outputs[name]
    except KeyError:
        raise DecoderError(f"model output {name!r} missing (got {', '.join(outputs) or 'none'})") from None
    array = np.asarray(value)
    if not np.issubdtype(array.dtype, np.number):
        raise DecoderError(f"model output {name!r} is not numeric ({array.dtype})")
    return array


def squeeze_batch(array: np.ndarray, name: str, trailing: int | None) -> np.ndarray:
    """Drop a leading batch of 1; check the trailing dimension when given."""
    if array.ndim >= 2 and array.shape[0] == 1:
        array = array[0]
    if trailing is not None and (array.ndim != 2 or array.shape[1] != trailing):
        raise DecoderError(f"model output {name!r} has shape {array.shape}, expected (N, {trailing})")
    return array
