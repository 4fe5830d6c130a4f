"""Reference numpy decoder for TF Object Detection API SSD raw outputs (box coder + class-aware NMS).

Used to record the expected detections and by the packaging tests; the inference component has its own.
"""

from __future__ import annotations

import numpy as np


def corners_to_center(corners: np.ndarray) -> np.ndarray:
    """[N, 4] ymin, xmin, ymax, xmax -> ycenter, xcenter, height, width."""
    ymin, xmin, ymax, xmax = corners.T
    return np.stack([(ymin + ymax) / 2, (xmin + xmax) / 2, ymax - ymin, xmax - xmin], axis=1).astype(np.float32)


def decode_boxes(encodings: np.ndarray, anchors_yxhw: np.ndarray, scale_factors: tuple[float, ...]) -> np.ndarray:
    """[N, 4] ty, tx, th, tw -> [N, 4] normalized x1, y1, x2, y2 (FasterRcnnBoxCoder.decode)."""
    sy, sx, sh, sw = scale_factors
    ya, xa, ha, wa = anchors_yxhw.T
    ty, tx, th, tw = encodings.T
    yc = ty / sy * ha + ya
    xc = tx / sx * wa + xa
    h = np.exp(th / sh) * ha
    w = np.exp(tw / sw) * wa
    return np.stack([xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2], axis=1)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, max_out: int) -> np.ndarray:
    order = np.argsort(-scores, kind="stable")
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    keep: list[int] = []
    while order.size and len(keep) < max_out:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        x1 = np.maximum(boxes[best, 0], boxes[rest, 0])
        y1 = np.maximum(boxes[best, 1], boxes[rest, 1])
        x2 = np.minimum(boxes[best, 2], boxes[rest, 2])
        y2 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        iou = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-12)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def decode(
    box_encodings: np.ndarray,
    class_logits: np.ndarray,
    anchors_yxhw: np.ndarray,
    labels: list[str],
    *,
    scale_factors: tuple[float, ...] = (10.0, 10.0, 5.0, 5.0),
    score_threshold: float = 0.3,
    iou_threshold: float = 0.6,
    max_detections: int = 100,
) -> list[dict]:
    """Raw outputs of one image ([1, N, 4] and [1, N, C]) -> detections sorted by score."""
    boxes = np.clip(decode_boxes(box_encodings.reshape(-1, 4), anchors_yxhw, scale_factors), 0.0, 1.0)
    scores = 1.0 / (1.0 + np.exp(-class_logits.reshape(boxes.shape[0], -1)))
    detections: list[dict] = []
    for class_id in range(1, scores.shape[1]):  # 0 is background
        candidates = np.flatnonzero(scores[:, class_id] >= score_threshold)
        kept = candidates[nms(boxes[candidates], scores[candidates, class_id], iou_threshold, max_detections)]
        detections.extend(
            {"label": labels[class_id], "score": float(scores[i, class_id]), "box": [float(v) for v in boxes[i]]}
            for i in kept
        )
    detections.sort(key=lambda item: -item["score"])
    return detections[:max_detections]
