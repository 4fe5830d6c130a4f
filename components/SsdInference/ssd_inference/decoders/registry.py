"""model.json ``decoder.type`` -> decoder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ssd_inference.decoders.base import Decoder, DecoderError
from ssd_inference.decoders.gluoncv import GluonCvDecoder
from ssd_inference.decoders.mxnet_ssd import MxnetSsdDecoder
from ssd_inference.decoders.tf_od_api import TfOdApiDecoder
from ssd_inference.decoders.tflite_postprocess import TflitePostprocessDecoder

DecoderFactory = Callable[[dict[str, Any], np.ndarray | None, tuple[int, int]], Decoder]

DECODERS: dict[str, DecoderFactory] = {
    "tf_od_api": TfOdApiDecoder.from_params,
    "tflite_postprocess": TflitePostprocessDecoder.from_params,
    "mxnet_ssd": MxnetSsdDecoder.from_params,
    "gluoncv": GluonCvDecoder.from_params,
}


BACKGROUND_NAMES = frozenset({"background", "__background__", "???"})


def foreground_labels(decoder_type: str, params: dict[str, Any], labels: tuple[str, ...]) -> tuple[str, ...]:
    """Labels indexed like the decoders' class ids (foreground classes only): a labels file that
    lists the background class too has that entry removed."""
    background = params.get("background_class", 0 if decoder_type == "tf_od_api" else None)
    if not isinstance(background, int) or not 0 <= background < len(labels):
        background = 0 if labels and labels[0].lower() in BACKGROUND_NAMES else None
    if background is None:
        return labels
    if labels[background].lower() in BACKGROUND_NAMES or params.get("num_classes_with_background") == len(labels):
        return labels[:background] + labels[background + 1 :]
    return labels


def build_decoder(
    decoder_type: str, params: dict[str, Any], anchors: np.ndarray | None, input_hw: tuple[int, int]
) -> Decoder:
    factory = DECODERS.get(decoder_type)
    if factory is None:
        raise DecoderError(f"unknown decoder {decoder_type!r}; known: {', '.join(sorted(DECODERS))}")
    return factory(params, anchors, input_hw)
