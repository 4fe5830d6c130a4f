"""Outputs of TFLite_Detection_PostProcess: boxes [ymin, xmin, ymax, xmax] normalized, classes
(foreground index, as float), scores, and the number of valid rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ssd_inference.decoders.base import Candidates, DecoderError, output, squeeze_batch


@dataclass(frozen=True)
class TflitePostprocessDecoder:
    output_names: tuple[str, ...] = ("boxes", "classes", "scores", "num_detections")

    @classmethod
    def from_params(
        cls, params: dict[str, Any], anchors: np.ndarray | None, input_hw: tuple[int, int]
    ) -> TflitePostprocessDecoder:
        return cls()

    def decode(self, outputs: Mapping[str, np.ndarray], score_threshold: float) -> Candidates:
        boxes_name, classes_name, scores_name, num_name = self.output_names
        boxes = squeeze_batch(output(outputs, boxes_name), boxes_name, 4)
        classes = output(outputs, classes_name).reshape(-1)
        scores = output(outputs, scores_name).reshape(-1)
        num = output(outputs, num_name).reshape(-1)
        if num.size != 1 or not np.isfinite(num[0]):
            raise DecoderError(f"tflite_postprocess: {num_name} must be one number, got shape {num.shape}")
        if not len(boxes) == len(classes) == len(scores):
            raise DecoderError(
                f"tflite_postprocess: boxes {boxes.shape}, classes {classes.shape}, scores {scores.shape} disagree"
            )
        valid = min(max(int(num[0]), 0), len(scores))
        ymin, xmin, ymax, xmax = boxes[:valid].astype(np.float32).T
        candidates = Candidates(
            np.stack([xmin, ymin, xmax, ymax], axis=1),
            scores[:valid].astype(np.float32),
            np.rint(classes[:valid]).astype(np.int64),
        )
        keep = (candidates.scores >= score_threshold) & (candidates.class_ids >= 0)
        return candidates.take(np.flatnonzero(keep))
