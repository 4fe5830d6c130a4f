"""Camera pictures made from the real photos in tests/model_packaging/images (no camera is attached
here): a folder camera whose every frame has a person, for runs that count per-frame detections."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from repo_layout import REPO_ROOT

IMAGES = REPO_ROOT / "tests" / "model_packaging" / "images"
PEOPLE = ("grace_hopper.jpg", "astronaut.png", "camera.png")


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
