"""Optional annotated JPEGs: the frame with its detections drawn, a bounded number per camera."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from smartcam.contracts import Detection, FrameRef
from smartcam.frames import encode_jpeg

_COLOR = (0, 200, 255)  # BGR


def draw(bgr: np.ndarray, detections: Sequence[Detection]) -> np.ndarray:
    """A copy of the BGR frame ``bgr`` with boxes and labels drawn."""
    image = bgr.copy()
    height, width = image.shape[:2]
    thickness = max(1, round(min(height, width) / 300))
    for det in detections:
        p1 = (round(det.box.x1 * width), round(det.box.y1 * height))
        p2 = (round(det.box.x2 * width), round(det.box.y2 * height))
        cv2.rectangle(image, p1, p2, _COLOR, thickness)
        text = f"{det.label} {det.score:.2f}"
        scale = 0.4 * thickness
        (_, text_height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        cv2.putText(image, text, label_origin(p1, text_height, baseline), cv2.FONT_HERSHEY_SIMPLEX, scale, _COLOR,
                    thickness)
    return image


def label_origin(box_top_left: tuple[int, int], text_height: int, baseline: int, gap: int = 4) -> tuple[int, int]:
    """Where a label's baseline goes: above the box, or just inside its top when there is no room above
    (a box touching the frame's top edge), so the text is never cut off."""
    x, y = box_top_left
    above = y - gap - baseline
    if above - text_height >= 0:
        return x, above
    return x, y + gap + text_height


def write_annotated(
    bgr: np.ndarray, detections: Sequence[Detection], folder: Path, frame: FrameRef, *, keep: int
) -> Path:
    """Write ``<folder>/<camera>/<frame>.jpg`` (``bgr``: the frame as the ring holds it) atomically and delete
    the oldest beyond ``keep``."""
    camera_id, frame_id = frame.camera_id, frame.frame_id
    camera_dir = folder / camera_id
    camera_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
    encoded = encode_jpeg(draw(bgr, detections), quality=85)
    target = camera_dir / f"{frame_id}.jpg"
    tmp = camera_dir / f".tmp-{frame_id}.jpg"
    tmp.write_bytes(encoded)
    os.replace(tmp, target)
    existing = sorted(
        (p for p in camera_dir.iterdir() if p.suffix == ".jpg" and not p.name.startswith(".tmp-")),
        key=lambda p: p.stat().st_mtime_ns,
    )
    for old in existing[: max(len(existing) - keep, 0)]:
        old.unlink(missing_ok=True)
    return target
