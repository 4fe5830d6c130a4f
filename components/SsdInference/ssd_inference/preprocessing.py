"""A frame's pixels -> the model input tensor: one resize to the model's input (straight from the frame ring's
shared memory), then normalize and layout, vectorized. ``decode_image`` turns image files (JPEG, PNG) into RGB
for tools and tests; frames never pass through it."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from smartcam.contracts import InputSpec

_JPEG = b"\xff\xd8\xff"
_PNG = b"\x89PNG\r\n\x1a\n"
MIN_SIDE = 8


class FrameError(ValueError):
    """A frame that cannot be used as model input; ``str()`` says why."""


_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
# EXIF orientation is ignored, like IMREAD_UNCHANGED does, so both paths give the same pixels.
_REDUCED = (
    (8, cv2.IMREAD_REDUCED_COLOR_8 | cv2.IMREAD_IGNORE_ORIENTATION),
    (4, cv2.IMREAD_REDUCED_COLOR_4 | cv2.IMREAD_IGNORE_ORIENTATION),
    (2, cv2.IMREAD_REDUCED_COLOR_2 | cv2.IMREAD_IGNORE_ORIENTATION),
)


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's frame header or a PNG's IHDR, without decoding; None if not found."""
    if data.startswith(_PNG) and len(data) >= 24 and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            i += 2
        elif marker in _SOF_MARKERS:
            return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(data[i + 5 : i + 7], "big")
        else:
            i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return None


def decode_image(
    data: bytes, expected_size: tuple[int, int] | None = None, target_size: tuple[int, int] | None = None
) -> np.ndarray:
    """JPEG (or PNG) bytes -> (H, W, 3) uint8 RGB. Grayscale and RGBA are converted; anything else,
    or a size other than ``expected_size`` (width, height) when given, is a FrameError.

    With ``target_size`` (the model input's width, height), a JPEG at least twice as large is
    decoded at 1/2, 1/4 or 1/8 scale (in the DCT domain, several times faster) while staying at
    least as large as the target, so the model sees the same detail."""
    if not data.startswith((_JPEG, _PNG)):
        raise FrameError(f"frame is not a JPEG or PNG image ({len(data)} bytes, starts {data[:4].hex() or 'empty'})")
    size = image_size(data)
    if size is None:
        raise FrameError(f"frame is corrupt: no image header in its {len(data)} bytes")
    width, height = size
    if expected_size is not None and size != expected_size:
        raise FrameError(f"frame is {width}x{height} but its message says {expected_size[0]}x{expected_size[1]}")
    if min(width, height) < MIN_SIDE:
        raise FrameError(f"frame of {width}x{height} is too small to run the detector on")
    flags = cv2.IMREAD_UNCHANGED
    if target_size is not None and data.startswith(_JPEG):
        target_w, target_h = target_size
        flags = next((f for k, f in _REDUCED if width // k >= target_w and height // k >= target_h), flags)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if image is None or image.size == 0:
        raise FrameError(f"frame is corrupt: the image decoder could not read its {len(data)} bytes")
    if image.dtype != np.uint8:
        raise FrameError(f"frame has {image.dtype} samples, expected 8-bit")
    channels = 1 if image.ndim == 2 else image.shape[2]
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

    def resize(self, bgr: np.ndarray) -> np.ndarray:
        """A frame's BGR pixels, any size, read where they are (the ring's shared memory: never written)
        -> a new image of the model's input size in its colour order. The one resize and the one copy
        on a frame's way to the model (bilinear, as the INT8 build was calibrated,
        model_packaging/quantize.py)."""
        spec = self.spec
        resized = cv2.resize(bgr, (spec.width, spec.height), interpolation=cv2.INTER_LINEAR)
        return resized if spec.color == "BGR" else cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)

    def tensor(self, image: np.ndarray) -> np.ndarray:
        """What :meth:`resize` returned -> the model input tensor (dtype, normalization, layout)."""
        spec = self.spec
        tensor = image[None] if spec.dtype == "uint8" else self._normalize(image)[None]
        if spec.layout == "NCHW":
            tensor = tensor.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(tensor)

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """The tensor of an RGB image of any size (image files, tools)."""
        return self.tensor(self.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)))

    def _normalize(self, image: np.ndarray) -> np.ndarray:
        # In place on one float32 buffer. Per-channel numpy broadcasting over a last axis of 3 is
        # ~15x slower than scalar ops, so equal channels use scalars and others OpenCV's Scalar ops.
        norm = self.spec.normalization
        mean = norm.mean if norm else [0.0]
        std = norm.std if norm else [1.0]
        out = np.empty(image.shape, np.float32)
        np.copyto(out, image, casting="unsafe")
        if len(set(mean)) == 1 and len(set(std)) == 1:
            out -= np.float32(mean[0])
            out *= np.float32(1.0 / std[0])
            return out
        channels = image.shape[2]
        cv2.subtract(out, _scalar(mean, channels), dst=out)
        cv2.multiply(out, _scalar([1.0 / v for v in std], channels), dst=out)
        return out


def _scalar(values: list[float], channels: int) -> tuple[float, ...]:
    per_channel = values * channels if len(values) == 1 else values
    return (*per_channel, *([0.0] * (4 - len(per_channel))))
