"""Turns an image file into the model's input exactly as model.json describes it (PIL + numpy only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from model_packaging.model_card import INPUT_SIZE


def load_rgb_resized(path: Path, size: int = INPUT_SIZE) -> np.ndarray:
    """uint8 [size, size, 3] RGB; grayscale/RGBA/palette images are converted, aspect ratio is not kept."""
    with Image.open(path) as image:
        rgb = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
        return np.asarray(rgb, dtype=np.uint8)


def normalize(rgb: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3] -> float32 [1, H, W, 3] in [-1, 1]: (x - 127.5) / 127.5."""
    return ((rgb.astype(np.float32) - 127.5) / 127.5)[np.newaxis]


def model_input(path: Path) -> np.ndarray:
    return normalize(load_rgb_resized(path))
