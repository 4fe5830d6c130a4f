"""Greedy non-maximum suppression, separate per class.

A frame has a handful of candidates, where numpy's cost is per call, not per box: the IoUs of all pairs
are one set of array operations (:func:`iou_matrix`) instead of one set per kept box. Past
:data:`MATRIX_MAX_PAIRS` pairs (a frame full of boxes, or a broken model scoring every anchor) the
pairs are taken one kept box at a time, so memory stays bounded; both give the same IoUs, bit for bit.
"""

from __future__ import annotations

import numpy as np

MATRIX_MAX_PAIRS = 64 * 64  # ~30 KB per float64 temporary


def iou_one_to_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    return iou_matrix(box[None], boxes)[0]


def iou_matrix(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """(M, N) IoU of each of ``boxes`` (M, 4) with each of ``others`` (N, 4), x1 y1 x2 y2; 0 where the
    union is empty."""
    a, b = boxes[:, None, :], others[None, :, :]
    x1 = np.maximum(a[..., 0], b[..., 0])
    y1 = np.maximum(a[..., 1], b[..., 1])
    x2 = np.minimum(a[..., 2], b[..., 2])
    y2 = np.minimum(a[..., 3], b[..., 3])
    inter = np.maximum(x2 - x1, 0.0) * np.maximum(y2 - y1, 0.0)
    area = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    areas = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area + areas - inter
    return np.divide(inter, union, out=np.zeros(inter.shape), where=union > 0)


def class_aware_nms(
    boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou_threshold: float, max_keep: int
) -> np.ndarray:
    """Indices of the boxes kept, best score first. A box is suppressed by a better-scoring box of
    the same class whose IoU with it is above ``iou_threshold``; boxes of other classes never
    suppress each other (each class is shifted into its own region of the plane)."""
    if len(scores) == 0 or max_keep <= 0:
        return np.zeros(0, np.int64)
    boxes = boxes.astype(np.float64)
    span = float(max(boxes.max() - boxes.min(), 0.0)) + 1.0
    shifted = boxes + (class_ids.astype(np.float64) * 2 * span)[:, None]
    order = np.argsort(-scores, kind="stable")
    if len(order) ** 2 > MATRIX_MAX_PAIRS:
        return _nms_one_box_at_a_time(shifted, order, iou_threshold, max_keep)
    ranked = shifted[order]
    # "not <=" rather than ">": a NaN IoU suppresses, as in the one-at-a-time loop
    overlapping = ~(iou_matrix(ranked, ranked) <= iou_threshold)
    suppressed = np.zeros(len(order), bool)
    keep: list[int] = []
    for rank in range(len(order)):
        if suppressed[rank]:
            continue
        keep.append(int(order[rank]))
        if len(keep) >= max_keep:
            break
        suppressed |= overlapping[rank]
    return np.asarray(keep, np.int64)


def _nms_one_box_at_a_time(shifted: np.ndarray, order: np.ndarray, iou_threshold: float,
                           max_keep: int) -> np.ndarray:
    keep: list[int] = []
    while order.size and len(keep) < max_keep:
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        order = rest[iou_one_to_many(shifted[best], shifted[rest]) <= iou_threshold]
    return np.asarray(keep, np.int64)


def suppressed_by(boxes: np.ndarray, class_ids: np.ndarray, kept_boxes: np.ndarray, kept_class_ids: np.ndarray,
                  iou_threshold: float) -> np.ndarray:
    """Which ``boxes`` a kept box of the same class overlaps by more than ``iou_threshold`` (what greedy
    NMS would suppress once the kept boxes, all better-scoring, are in)."""
    for what, items, ids in (("boxes", boxes, class_ids), ("kept boxes", kept_boxes, kept_class_ids)):
        if len(items) != len(ids):
            raise ValueError(f"{len(items)} {what} but {len(ids)} class ids: the lengths disagree")
    if len(boxes) == 0 or len(kept_boxes) == 0:
        return np.zeros(len(boxes), bool)
    boxes = boxes.astype(np.float64)
    kept_boxes = kept_boxes.astype(np.float64)
    if len(boxes) * len(kept_boxes) <= MATRIX_MAX_PAIRS:
        same = kept_class_ids[:, None] == class_ids[None, :]
        return np.any(same & (iou_matrix(kept_boxes, boxes) > iou_threshold), axis=0)
    suppressed = np.zeros(len(boxes), bool)
    for box, class_id in zip(kept_boxes, kept_class_ids, strict=True):
        suppressed |= (class_ids == class_id) & (iou_one_to_many(box, boxes) > iou_threshold)
    return suppressed
