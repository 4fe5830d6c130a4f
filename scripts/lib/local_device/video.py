"""Video for a local device without a camera.

- A short sample video made from the real photos in tests/model_packaging/images: each photo gets a
  segment with a slow zoom and pan (a "Ken Burns" move), so consecutive frames differ like a camera's
  would while the subject stays in view.
- The real pedestrian video OpenCV ships as a sample (vtest.avi), and still frames with sensor noise.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from repo_layout import REPO_ROOT

IMAGES = REPO_ROOT / "tests" / "model_packaging" / "images"
PEOPLE = ("grace_hopper.jpg", "astronaut.png", "camera.png")
CAT = "chelsea.png"
# 795 frames, 768x576 at 10 fps: people walking across a campus (Debian's opencv-doc package, which
# scripts/setup-system installs).
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
VTEST_FPS = 10.0


def _load(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)  # grayscale photos come back as 3 channels
    if image is None:
        raise FileNotFoundError(f"cannot read {path}")
    return image


def _frame(image: np.ndarray, width: int, height: int, progress: float) -> np.ndarray:
    """The crop at ``progress`` (0..1) of the move: zoom 1.0 -> 1.12, drifting right and down."""
    h, w = image.shape[:2]
    aspect = width / height
    base_w, base_h = (w, w / aspect) if w / h < aspect else (h * aspect, h)
    zoom = 1.0 + 0.12 * progress
    crop_w, crop_h = base_w / zoom, base_h / zoom
    x0 = (w - crop_w) * (0.3 + 0.4 * progress)
    y0 = (h - crop_h) * (0.3 + 0.4 * progress)
    crop = image[int(y0):int(y0 + crop_h), int(x0):int(x0 + crop_w)]
    return cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)


def make_sample_video(out: Path, *, names: tuple[str, ...] = (*PEOPLE, CAT), seconds_each: float = 2.0,
                      fps: float = 10.0, width: int = 640, height: int = 480) -> Path:
    """Write an MJPG .avi of ``names`` (files in tests/model_packaging/images), one segment each; returns ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write MJPG video to {out}")
    try:
        per_segment = max(1, round(seconds_each * fps))
        for name in names:
            image = _load(IMAGES / name)
            for index in range(per_segment):
                writer.write(_frame(image, width, height, index / max(1, per_segment - 1)))
    finally:
        writer.release()
    return out


def copy_people(folder: Path, width: int = 640, height: int = 480) -> Path:
    """A folder of the photos with one person each (for a folder camera whose every frame has a person)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in PEOPLE:
        cv2.imwrite(str(folder / f"{Path(name).stem}.jpg"), _frame(_load(IMAGES / name), width, height, 0.0))
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
