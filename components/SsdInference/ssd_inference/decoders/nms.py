"""Greedy non-maximum suppression, vectorized per kept box, separate per class."""

from __future__ import annotations

import numpy as np


def iou_one_to_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


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
    suppressed = np.zeros(len(boxes), bool)
    if len(boxes) == 0:
        return suppressed
    boxes = boxes.astype(np.float64)
    for box, class_id in zip(kept_boxes.astype(np.float64), kept_class_ids, strict=True):
        same = class_ids == class_id
        suppressed |= same & (iou_one_to_many(box, boxes) > iou_threshold)
    return suppressed
