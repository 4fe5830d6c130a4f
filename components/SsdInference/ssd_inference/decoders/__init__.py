"""Decoders: raw model outputs -> candidate boxes; then one shared selection (threshold, NMS, top-k).

A decoder is chosen by ``decoder.type`` in model.json. Each returns :class:`Candidates` in
normalized [x1, y1, x2, y2] with class ids counted over the model's foreground classes;
:func:`select` applies the component's live settings, :func:`select_weak` picks the weak detections a
tracker gets as hints (:func:`select_with_weak`: both at once), and :func:`to_detections` names them.
"""

from ssd_inference.decoders.base import (
    Candidates,
    Decoder,
    DecoderError,
    Selection,
    select,
    select_weak,
    select_with_weak,
    to_detections,
)
from ssd_inference.decoders.registry import DECODERS, build_decoder, foreground_labels

__all__ = [
    "DECODERS",
    "Candidates",
    "Decoder",
    "DecoderError",
    "Selection",
    "build_decoder",
    "foreground_labels",
    "select",
    "select_weak",
    "select_with_weak",
    "to_detections",
]
