"""JPEG encoding of captured frames, resized to the camera's configured size."""

from __future__ import annotations

import cv2
import numpy as np


class EncodeError(ValueError):
    pass


def encode_jpeg(
    image: np.ndarray, *, quality: int, width: int | None = None, height: int | None = None
) -> tuple[bytes, int, int]:
    """(jpeg bytes, width, height) of ``image``, resized to ``width`` x ``height`` when both are set."""
    if image.ndim not in (2, 3) or not image.size:
        raise EncodeError(f"not an image: shape {image.shape}")
    if width and height and (image.shape[1], image.shape[0]) != (width, height):
        shrinking = width * height < image.shape[0] * image.shape[1]
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise EncodeError("JPEG encoding failed")
    return buffer.tobytes(), int(image.shape[1]), int(image.shape[0])
