"""Frame bytes -> RGB image -> model input tensor (resize, normalize, layout), vectorized."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ssd_inference.model_bundle import InputSpec

_JPEG = b"\xff\xd8\xff"
_PNG = b"\x89PNG\r\n\x1a\n"
MIN_SIDE = 8


class FrameError(ValueError):
    """A frame that cannot be used as model input; ``str()`` says why."""


def decode_image(data: bytes, expected_size: tuple[int, int] | None = None) -> np.ndarray:
    """JPEG (or PNG) bytes -> (H, W, 3) uint8 RGB. Grayscale and RGBA are converted; anything else,
    or a size other than ``expected_size`` (width, height) when given, is a FrameError."""
    if not data.startswith((_JPEG, _PNG)):
        raise FrameError(f"frame is not a JPEG or PNG image ({len(data)} bytes, starts {data[:4].hex() or 'empty'})")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise FrameError(f"frame is corrupt: the image decoder could not read its {len(data)} bytes")
    if image.dtype != np.uint8:
        raise FrameError(f"frame has {image.dtype} samples, expected 8-bit")
    channels = 1 if image.ndim == 2 else image.shape[2]
    height, width = image.shape[:2]
    if expected_size is not None and (width, height) != expected_size:
        raise FrameError(f"frame is {width}x{height} but its message says {expected_size[0]}x{expected_size[1]}")
    if min(width, height) < MIN_SIDE:
        raise FrameError(f"frame of {width}x{height} is too small to run the detector on")
    if channels == 1:
        return cv2.cvtColor(image if image.ndim == 2 else image[:, :, 0], cv2.COLOR_GRAY2RGB)
    if channels == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if channels == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    raise FrameError(f"frame has {channels} channels, expected 1 (gray), 3 (color) or 4 (with alpha)")


@dataclass(frozen=True)
class Preprocessor:
    """Builds the model input from an RGB image for one model's input spec."""

    spec: InputSpec

    def __post_init__(self) -> None:
        if self.spec.channels != 3:
            raise ValueError(f"model input has {self.spec.channels} channels; only 3-channel models are supported")

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        spec = self.spec
        resized = cv2.resize(rgb, (spec.width, spec.height), interpolation=cv2.INTER_LINEAR)
        if spec.color == "BGR":
            resized = resized[:, :, ::-1]
        if spec.dtype == "uint8":
            tensor = np.ascontiguousarray(resized)
        else:
            norm = spec.normalization
            mean = np.asarray(norm.mean if norm else [0.0], np.float32)
            inv_std = 1.0 / np.asarray(norm.std if norm else [1.0], np.float32)
            tensor = (resized.astype(np.float32) - mean) * inv_std
        if spec.layout == "NCHW":
            tensor = tensor.transpose(2, 0, 1)
        return np.ascontiguousarray(tensor[None])
