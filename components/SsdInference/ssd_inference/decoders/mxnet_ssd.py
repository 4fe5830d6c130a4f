"""SageMaker's built-in SSD (MXNet): one output of rows [class, score, x1, y1, x2, y2] with
coordinates normalized to the input; class -1 marks an empty row."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ssd_inference.decoders.base import Candidates, DecoderError, output, squeeze_batch


@dataclass(frozen=True)
class MxnetSsdDecoder:
    output_name: str = "detections"

    @property
    def output_names(self) -> tuple[str, ...]:
        return (self.output_name,)

    @classmethod
    def from_params(
        cls, params: dict[str, Any], anchors: np.ndarray | None, input_hw: tuple[int, int]
    ) -> MxnetSsdDecoder:
        if params.get("coordinates", "normalized") != "normalized":
            raise DecoderError("mxnet_ssd: only normalized coordinates are produced by SageMaker's SSD")
        return cls()

    def decode(self, outputs: Mapping[str, np.ndarray], score_threshold: float) -> Candidates:
        rows = squeeze_batch(output(outputs, self.output_name), self.output_name, 6).astype(np.float32)
        class_ids = np.rint(rows[:, 0]).astype(np.int64)
        keep = np.flatnonzero((class_ids >= 0) & (rows[:, 1] >= score_threshold))
        return Candidates(rows[keep, 2:6], rows[keep, 1], class_ids[keep])
