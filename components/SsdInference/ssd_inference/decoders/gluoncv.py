"""GluonCV detectors: (ids, scores, boxes) with boxes [x1, y1, x2, y2] in pixels of the model
input; id -1 marks an empty row."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ssd_inference.decoders.base import Candidates, DecoderError, output, squeeze_batch


@dataclass(frozen=True)
class GluonCvDecoder:
    input_hw: tuple[int, int]
    output_names: tuple[str, ...] = ("ids", "scores", "boxes")

    @classmethod
    def from_params(
        cls, params: dict[str, Any], anchors: np.ndarray | None, input_hw: tuple[int, int]
    ) -> GluonCvDecoder:
        return cls(input_hw)

    def decode(self, outputs: Mapping[str, np.ndarray], score_threshold: float) -> Candidates:
        ids_name, scores_name, boxes_name = self.output_names
        ids = output(outputs, ids_name).reshape(-1)
        scores = output(outputs, scores_name).reshape(-1).astype(np.float32)
        boxes = squeeze_batch(output(outputs, boxes_name), boxes_name, 4).astype(np.float32)
        if not len(ids) == len(scores) == len(boxes):
            raise DecoderError(f"gluoncv: ids {ids.shape}, scores {scores.shape}, boxes {boxes.shape} disagree")
        height, width = self.input_hw
        class_ids = np.rint(ids).astype(np.int64)
        keep = np.flatnonzero((class_ids >= 0) & (scores >= score_threshold))
        scale = np.asarray([width, height, width, height], np.float32)
        return Candidates(boxes[keep] / scale, scores[keep], class_ids[keep])
