"""Video for a local device without a camera: still pictures made from the real photos in
tests/model_packaging/images (a folder camera whose every frame has a person, for runs that count
per-frame detections), the real pedestrian video OpenCV ships as a sample (vtest.avi), and still
frames with sensor noise."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from repo_layout import REPO_ROOT

IMAGES = REPO_ROOT / "tests" / "model_packaging" / "images"
PEOPLE = ("grace_hopper.jpg", "astronaut.png", "camera.png")
# 795 frames, 768x576 at 10 fps: people walking across a campus (Debian's opencv-doc package, which
# scripts/setup-system installs).
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
VTEST_FPS = 10.0


def _load(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)  # grayscale photos come back as 3 channels
    if image is None:
        raise FileNotFoundError(f"cannot read {path}")
    return image


def _framed(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """The largest crop of ``width``:``height``'s aspect ratio, 30 % of the way from the top left (where
    these photos' subjects are), resized to ``width`` x ``height``."""
    h, w = image.shape[:2]
    aspect = width / height
    crop_w, crop_h = (w, w / aspect) if w / h < aspect else (h * aspect, h)
    x0, y0 = (w - crop_w) * 0.3, (h - crop_h) * 0.3
    crop = image[int(y0):int(y0 + crop_h), int(x0):int(x0 + crop_w)]
    return cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)


def copy_people(folder: Path, width: int = 640, height: int = 480) -> Path:
    """A folder of the photos with one person each (for a folder camera whose every frame has a person)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in PEOPLE:
        cv2.imwrite(str(folder / f"{Path(name).stem}.jpg"), _framed(_load(IMAGES / name), width, height))
    return folder


def noisy_stills(frame: np.ndarray, count: int, sigma: float, seed: int = 3) -> Iterator[np.ndarray]:
    """``count`` copies of ``frame``, each with its own Gaussian sensor noise (``sigma`` gray levels).

    The noise comes from a bank of 8 fields, each frame taking one at a random 2-D offset, which is as
    good as fresh noise for a per-pixel change detector and 20 times cheaper at 768x576."""
    random = np.random.default_rng(seed)
    bank = [sigma * random.standard_normal(frame.shape, dtype=np.float32) for _ in range(8)]
    base = frame.astype(np.float32)
    height, width = frame.shape[:2]
    for _ in range(count):
        noise = np.roll(bank[random.integers(len(bank))],
                        (int(random.integers(height)), int(random.integers(width))), axis=(0, 1))
        yield np.clip(base + noise, 0, 255).astype(np.uint8)
