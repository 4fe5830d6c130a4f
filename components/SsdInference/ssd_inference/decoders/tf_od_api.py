"""TensorFlow Object Detection API SSD heads: raw box encodings + class logits + anchors.

Box coder: the API's FasterRcnnBoxCoder. Encodings are [ty, tx, th, tw] relative to an anchor
(center yc, xc, size h, w) divided by the scale factors (10, 10, 5, 5 for SSD):
yc' = ty/sy * h + yc, xc' = tx/sx * w + xc, h' = exp(th/sh) * h, w' = exp(tw/sw) * w.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ssd_inference.decoders.base import Candidates, DecoderError, output, squeeze_batch

ANCHOR_LAYOUTS = ("yxhw", "yxyx")
ACTIVATIONS = ("sigmoid", "softmax", "none")
_MAX_LOG_SCALE = 50.0  # only guards exp() against overflow; real encodings stay far below


def anchors_to_center(anchors: np.ndarray, layout: str) -> np.ndarray:
    """(N, 4) anchors -> (N, 4) [yc, xc, h, w]."""
    if layout == "yxhw":
        return anchors.astype(np.float32, copy=False)
    ymin, xmin, ymax, xmax = anchors.T
    return np.stack([(ymin + ymax) / 2, (xmin + xmax) / 2, ymax - ymin, xmax - xmin], axis=1).astype(np.float32)


def decode_boxes(encodings: np.ndarray, anchors_center: np.ndarray, scale_factors: np.ndarray) -> np.ndarray:
    """(N, 4) [ty, tx, th, tw] -> (N, 4) normalized [x1, y1, x2, y2]."""
    ty, tx, th, tw = (encodings / scale_factors).T
    ya, xa, ha, wa = anchors_center.T
    h = np.exp(np.minimum(th, _MAX_LOG_SCALE)) * ha
    w = np.exp(np.minimum(tw, _MAX_LOG_SCALE)) * wa
    yc = ty * ha + ya
    xc = tx * wa + xa
    return np.stack([xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2], axis=1).astype(np.float32)


def activate(logits: np.ndarray, activation: str) -> np.ndarray:
    logits = logits.astype(np.float32, copy=False)
    if activation == "sigmoid":
        return 1.0 / (1.0 + np.exp(-logits))
    if activation == "softmax":
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)
    return logits


@dataclass(frozen=True)
class TfOdApiDecoder:
    anchors_center: np.ndarray
    scale_factors: np.ndarray
    activation: str
    background_class: int | None
    box_output: str = "box_encodings"
    class_output: str = "class_predictions"

    @property
    def output_names(self) -> tuple[str, ...]:
        return (self.box_output, self.class_output)

    @classmethod
    def from_params(
        cls, params: dict[str, Any], anchors: np.ndarray | None, input_hw: tuple[int, int]
    ) -> TfOdApiDecoder:
        if anchors is None:
            raise DecoderError("tf_od_api decoder needs decoder.params.anchors_file")
        # anchor_order describes the anchors file; older manifests only had box_order.
        layout = params.get("anchor_order", params.get("box_order", "yxhw"))
        if layout not in ANCHOR_LAYOUTS:
            raise DecoderError(f"tf_od_api: anchor_order {layout!r} not one of {ANCHOR_LAYOUTS}")
        activation = params.get("score_activation", "sigmoid")
        if activation not in ACTIVATIONS:
            raise DecoderError(f"tf_od_api: score_activation {activation!r} not one of {ACTIVATIONS}")
        scales = np.asarray(params.get("scale_factors", [10.0, 10.0, 5.0, 5.0]), np.float32)
        if scales.shape != (4,) or not np.all(scales > 0):
            raise DecoderError(f"tf_od_api: scale_factors must be 4 positive numbers, got {scales.tolist()}")
        background = params.get("background_class", 0)
        if background is not None and (not isinstance(background, int) or background < 0):
            raise DecoderError(f"tf_od_api: background_class must be a class index or null, got {background!r}")
        return cls(anchors_to_center(anchors, layout), scales, activation, background)

    def decode(self, outputs: Mapping[str, np.ndarray], score_threshold: float) -> Candidates:
        encodings = squeeze_batch(output(outputs, self.box_output), self.box_output, 4)
        logits = squeeze_batch(output(outputs, self.class_output), self.class_output, None)
        if logits.ndim == 1:
            logits = logits[:, None]
        count = len(self.anchors_center)
        if encodings.shape[0] != count or logits.ndim != 2 or logits.shape[0] != count:
            raise DecoderError(
                f"tf_od_api: {count} anchors but box encodings {encodings.shape} and class predictions {logits.shape}"
            )
        scores = activate(logits, self.activation)
        if self.background_class is not None:
            if self.background_class >= scores.shape[1]:
                raise DecoderError(
                    f"tf_od_api: background_class {self.background_class} outside {scores.shape[1]} classes"
                )
            # the usual first column: a view, not np.delete's copy
            scores = scores[:, 1:] if self.background_class == 0 else np.delete(scores, self.background_class, axis=1)
        anchor_idx, class_idx = np.nonzero(scores >= score_threshold)
        if anchor_idx.size == 0:
            return Candidates.empty()
        boxes = decode_boxes(
            encodings[anchor_idx].astype(np.float32), self.anchors_center[anchor_idx], self.scale_factors
        )
        return Candidates(boxes, scores[anchor_idx, class_idx].astype(np.float32), class_idx.astype(np.int64))
