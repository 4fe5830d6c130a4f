
"""Helpers for the inference tests: synthetic model folders and a fake backend (the mocked IPC is
tests.support.fake_nucleus)."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from repo_layout import REPO_ROOT
from smartcam.contracts import FrameRef
from smartcam.frames import FrameRing

REPO = REPO_ROOT
MODEL_DIR = REPO / "components" / "SsdModelStore" / "model"
THING = "test-thing"
LABELS = ("background", "person", "dog")


def grid_anchors(n: int = 10) -> np.ndarray:
    """(n*n*2, 4) yxhw anchors: a grid of two sizes."""
    centers = (np.arange(n, dtype=np.float32) + 0.5) / n
    yc, xc = np.meshgrid(centers, centers, indexing="ij")
    out = []
    for size in (0.2, 0.4):
        out.append(np.stack([yc.ravel(), xc.ravel(), np.full(n * n, size), np.full(n * n, size)], axis=1))
    return np.concatenate(out).astype(np.float32)


def encode_boxes(boxes_xyxy: np.ndarray, anchors_center: np.ndarray, scale_factors: np.ndarray) -> np.ndarray:
    """Inverse of the TF OD API box decoding (``ssd_inference.decoders.tf_od_api.decode_boxes``): makes
    the raw outputs a model would give for known boxes."""
    x1, y1, x2, y2 = boxes_xyxy.T
    ya, xa, ha, wa = anchors_center.T
    h, w = y2 - y1, x2 - x1
    yc, xc = (y1 + y2) / 2, (x1 + x2) / 2
    codes = np.stack([(yc - ya) / ha, (xc - xa) / wa, np.log(h / ha), np.log(w / wa)], axis=1)
    return (codes * scale_factors).astype(np.float32)


def logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def raw_outputs(anchors: np.ndarray, objects: list[tuple[int, int, float, tuple[float, float, float, float]]],
                num_columns: int = 3) -> dict[str, np.ndarray]:
    """TF OD API raw outputs: ``objects`` are (anchor index, column incl. background, score, xyxy box)."""
    encodings = np.zeros((len(anchors), 4), np.float32)
    logits = np.full((len(anchors), num_columns), logit(0.001), np.float32)
    for anchor, column, score, box in objects:
        encodings[anchor] = encode_boxes(np.asarray([box], np.float32), anchors[anchor:anchor + 1],
                                         np.asarray([10, 10, 5, 5], np.float32))[0]
        logits[anchor, column] = logit(score)
    return {"box_encodings": encodings[None], "class_predictions": logits[None]}


def write_model_dir(folder: Path, *, runtimes: dict[str, Any] | None = None, decoder: dict[str, Any] | None = None,
                    labels: tuple[str, ...] = LABELS, anchors: np.ndarray | None = None,
                    runtime_preference: dict[str, list[str]] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "labels.txt").write_text("\n".join(labels) + "\n")
    np.save(folder / "anchors.npy", grid_anchors() if anchors is None else anchors)
    (folder / "fake.model").write_bytes(b"not a real model")
    runtimes = runtimes or {"fake": {"path": "fake.model", "outputs": {}}}
    manifest = {
        "schema": "smartcam.model/2", "name": "test-ssd", "version": "0.1.0", "framework": "test",
        "notes": "a synthetic model for the tests",
        "input": {"name": "image", "shape": [1, 64, 64, 3], "layout": "NHWC", "dtype": "float32", "color": "RGB",
                  "normalization": {"mean": [127.5] * 3, "std": [127.5] * 3}},
        "decoder": decoder or {"type": "tf_od_api", "params": {
            "anchors_file": "anchors.npy", "anchor_order": "yxhw", "scale_factors": [10, 10, 5, 5],
            "score_activation": "sigmoid", "background_class": 0}},
        "labels_file": "labels.txt",
        "runtimes": runtimes,
        **({"runtime_preference": runtime_preference} if runtime_preference is not None else {}),
        "files": {p.name: {"sha256": hashlib.sha256(p.read_bytes()).hexdigest(), "size": p.stat().st_size}
                  for p in sorted(folder.iterdir()) if p.name != "model.json"},
    }
    (folder / "model.json").write_text(json.dumps(manifest, indent=1))
    return folder


class FakeBackend:
    """Returns fixed raw outputs: one person at PERSON_BOX (score 0.9), one dog at DOG_BOX (0.6)."""

    PERSON_BOX = (0.1, 0.2, 0.4, 0.8)
    DOG_BOX = (0.55, 0.5, 0.95, 0.9)
    calls: list[tuple[str, int]] = []

    def __init__(self, name: str, bundle: Any, threads: int) -> None:
        self.name = name
        self.threads = threads
        self.closed = False
        self._anchors = bundle.anchors
        FakeBackend.calls.append((name, threads))

    def run(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        assert tensor.shape == (1, 64, 64, 3) and tensor.dtype == np.float32
        return raw_outputs(self._anchors, [(44, 1, 0.9, self.PERSON_BOX), (177, 2, 0.6, self.DOG_BOX)])

    def close(self) -> None:
        self.closed = True


class WeakDetectionsBackend(FakeBackend):
    """FakeBackend's person (0.9) and dog (0.6), and below them: a half-hidden person at HIDDEN_BOX (0.3),
    a weak echo of the person's box (0.2, overlapping it: NMS suppresses it) and a person too faint for
    any threshold (0.05)."""

    HIDDEN_BOX = (0.6, 0.05, 0.8, 0.45)
    ECHO_BOX = (0.11, 0.21, 0.41, 0.79)
    FAINT_BOX = (0.3, 0.5, 0.5, 0.7)

    def run(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        return raw_outputs(self._anchors, [(44, 1, 0.9, self.PERSON_BOX), (177, 2, 0.6, self.DOG_BOX),
                                           (60, 1, 0.3, self.HIDDEN_BOX), (45, 1, 0.2, self.ECHO_BOX),
                                           (120, 1, 0.05, self.FAINT_BOX)])


def fake_factories(*names: str, backend: type[FakeBackend] = FakeBackend) -> dict[str, Any]:
    return {name: (lambda bundle, threads, n=name: backend(n, bundle, threads)) for name in names}


def jpeg_bytes(width: int = 160, height: int = 120, channels: int = 3, ext: str = ".jpg") -> bytes:
    rng = np.random.default_rng(0)
    shape = (height, width) if channels == 1 else (height, width, channels)
    ok, data = cv2.imencode(ext, rng.integers(0, 255, shape, dtype=np.uint8))
    assert ok
    return data.tobytes()


def frame_pixels(width: int = 160, height: int = 120) -> np.ndarray:
    """A camera frame as the ring holds it: 8-bit BGR (noise, the same every call)."""
    return np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)


def write_frame(ring: FrameRing, pixels: np.ndarray | None = None) -> FrameRef:
    return ring.write(frame_pixels() if pixels is None else pixels, captured_at=time.time(),
                      captured_monotonic_ns=time.monotonic_ns())


def refused_frame(ring: FrameRing, case: str, elsewhere: Path) -> FrameRef:
    """A reference the frame path cannot serve: ``recycled`` (frameExpired), ``slot`` and ``unwritten``
    (badFrame: they do not fit the ring), ``symlinked`` (frameOutsideRoot: its camera folder is a symlink)."""
    if case == "recycled":
        frame = write_frame(ring)
        for _ in range(ring.slots):
            write_frame(ring)
        return frame
    if case == "slot":
        return write_frame(ring).model_copy(update={"slot": ring.slots})
    if case == "unwritten":
        frame = write_frame(ring)
        ahead = frame.sequence + ring.slots
        return frame.model_copy(update={"sequence": ahead, "frame_id": frame.frame_id.rsplit("-", 1)[0] + f"-{ahead}"})
    other = FrameRing(elsewhere, "cam9", capacity=2)
    frame = write_frame(other)
    (ring.root / "cam9").symlink_to(other.directory)
    return frame


def frame_ref(seq: int, camera: str = "cam1", request_id: str | None = "req-1") -> FrameRef:
    """A frame reference that names no real file (for the parts that never read it)."""
    return FrameRef(frame_id=f"{camera}-{seq}", camera_id=camera, slot=seq % 4, sequence=seq,
                    captured_at=time.time(), captured_monotonic_ns=seq, width=8, height=8, format="bgr8",
                    request_id=request_id)
