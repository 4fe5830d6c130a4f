"""Frames for the motion gate's tests: a synthetic scene (a real photo as the background, sensor noise,
moving objects, light changes) and the real pedestrian video OpenCV ships as a sample (vtest.avi,
768x576 at 10 fps, from Debian's opencv-doc package, which scripts/setup-system installs)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import pytest

from local_device import video
from tests.camera_ingest.helpers import photo

VTEST = video.VTEST
VTEST_FPS = video.VTEST_FPS

NormalizedBox = tuple[float, float, float, float]


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Scene:
    """A still camera view of a photo with sensor noise; objects are flat dark boxes drawn on top."""

    def __init__(self, size: tuple[int, int] = (320, 240), noise: float = 3.0, seed: int = 7) -> None:
        self.size = size
        self.noise = noise
        self.background = cv2.resize(photo(), size, interpolation=cv2.INTER_AREA).astype(np.float32)
        self._random = np.random.default_rng(seed)

    def frame(
        self, objects: Sequence[NormalizedBox] = (), brightness: float = 0.0, contrast_to: float | None = None
    ) -> np.ndarray:
        """The view with ``objects`` drawn (dark, or ``contrast_to`` gray levels above the view), every
        pixel shifted by ``brightness`` levels, plus fresh noise."""
        image = self.background.copy()
        width, height = self.size
        for x1, y1, x2, y2 in objects:
            left, top, right, bottom = round(x1 * width), round(y1 * height), round(x2 * width), round(y2 * height)
            if contrast_to is None:
                image[top:bottom, left:right] = (40.0, 35.0, 120.0)
            else:
                image[top:bottom, left:right] += contrast_to
        image += brightness
        if self.noise:
            image += self.noise * self._random.standard_normal(image.shape, dtype=np.float32)
        return np.clip(image, 0, 255).astype(np.uint8)


def walking(start: NormalizedBox, step: tuple[float, float], count: int) -> list[NormalizedBox]:
    """``count`` positions of a box moving by ``step`` (normalized) per frame."""
    x1, y1, x2, y2 = start
    dx, dy = step
    return [(x1 + i * dx, y1 + i * dy, x2 + i * dx, y2 + i * dy) for i in range(count)]


def vtest_frames(start: int = 0, count: int | None = None) -> list[np.ndarray]:
    """Frames ``start`` .. ``start + count`` of vtest.avi (all to its end when ``count`` is None)."""
    if not VTEST.is_file():
        pytest.fail(f"{VTEST} is missing: it comes with Debian's opencv-doc package; run scripts/setup-system "
                    "(or apt-get install opencv-doc)")
    capture = cv2.VideoCapture(str(VTEST))
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, start)
        frames: list[np.ndarray] = []
        while count is None or len(frames) < count:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(frame)
    finally:
        capture.release()
    assert frames, f"no frames read from {VTEST} at {start}"
    return frames


def noisy_stills(frame: np.ndarray, count: int, sigma: float, seed: int = 3) -> list[np.ndarray]:
    """``count`` copies of ``frame``, each with its own Gaussian sensor noise (``sigma`` gray levels)."""
    return list(video.noisy_stills(frame, count, sigma, seed))


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
