"""The images a Ground Truth manifest's ``source-ref`` names, read here without S3.

Two ways:
- :class:`ShippedSources`: the repository's evaluation set. Its images are not committed: ``sources.json``
  beside the manifest maps each ``s3://smartcam-eval/<key>`` to a frame of a video or to an image file that a
  Debian package installs, each file checked against its sha256 before use. Uploading them for a real
  labeling job means writing those frames and files to that bucket under those keys (PNG: lossless).
- :class:`LocalMirror`: a local copy of the bucket, ``<folder>/<bucket>/<key>`` (e.g. ``aws s3 sync``).

Images are decoded by SsdInference's own decoder (``decode_image``: JPEG or PNG, grayscale to RGB), video
frames by OpenCV as the camera reads them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from ssd_inference.preprocessing import decode_image

SOURCES_FILE = "sources.json"


class ImageSourceError(RuntimeError):
    """An image cannot be found, or is not the one that was labeled."""


class ImageSource(Protocol):
    def rgb(self, source_ref: str) -> np.ndarray: ...


def split_s3(source_ref: str) -> tuple[str, str]:
    bucket, _, key = source_ref.removeprefix("s3://").partition("/")
    if not source_ref.startswith("s3://") or not bucket or not key:
        raise ImageSourceError(f"{source_ref} is not an s3://bucket/key URI")
    return bucket, key


@dataclass(frozen=True)
class LocalMirror:
    folder: Path

    def rgb(self, source_ref: str) -> np.ndarray:
        bucket, key = split_s3(source_ref)
        path = (self.folder / bucket / key).resolve()
        if not path.is_relative_to(self.folder.resolve()):
            raise ImageSourceError(f"{source_ref} points outside {self.folder}")
        try:
            return decode_image(path.read_bytes())
        except OSError as exc:
            raise ImageSourceError(f"{source_ref}: {path} is unreadable: {exc}") from None


class ShippedSources:
    """``sources.json``: {"bucket": ..., "files": {path: {"sha256", "package"}}, "objects": {key: {"file": path}
    or {"video": path, "frame": index}}}."""

    def __init__(self, sources: Path) -> None:
        document = json.loads(sources.read_text(encoding="utf-8"))
        self.bucket: str = document["bucket"]
        self.files: dict[str, dict[str, str]] = document["files"]
        self.objects: dict[str, dict[str, str | int]] = document["objects"]
        self._frames: dict[tuple[str, int], np.ndarray] = {}
        self._checked: set[str] = set()

    def rgb(self, source_ref: str) -> np.ndarray:
        bucket, key = split_s3(source_ref)
        origin = self.objects.get(key) if bucket == self.bucket else None
        if origin is None:
            raise ImageSourceError(f"{source_ref} is not in the evaluation set's {SOURCES_FILE}")
        if "video" in origin:
            return self._frame(str(origin["video"]), int(origin["frame"]))
        path = self._checked_file(str(origin["file"]))
        return decode_image(path.read_bytes())

    def _checked_file(self, name: str) -> Path:
        path = Path(name)
        if name not in self._checked:
            about = self.files.get(name)
            if about is None:
                raise ImageSourceError(f"{name} has no sha256 in {SOURCES_FILE}")
            if not path.is_file():
                raise ImageSourceError(f"{name} is missing: install Debian's {about['package']} "
                                       "(scripts/setup-system does)")
            if hashlib.sha256(path.read_bytes()).hexdigest() != about["sha256"]:
                raise ImageSourceError(f"{name} is not the file that was labeled (sha256 differs)")
            self._checked.add(name)
        return path

    def _frame(self, video: str, index: int) -> np.ndarray:
        if (video, index) not in self._frames:
            self._read_frames(video)
        try:
            return self._frames[(video, index)]
        except KeyError:
            raise ImageSourceError(f"{video} has no frame {index}") from None

    def _read_frames(self, video: str) -> None:
        """Every labeled frame of ``video`` in one pass (decoding is sequential anyway)."""
        wanted = {int(o["frame"]) for o in self.objects.values() if o.get("video") == video}
        capture = cv2.VideoCapture(str(self._checked_file(video)))
        try:
            for index in range(max(wanted) + 1):
                ok, bgr = capture.read()
                if not ok:
                    break
                if index in wanted:
                    self._frames[(video, index)] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            capture.release()


def image_source(labels: Path, mirror: Path | None = None) -> ImageSource:
    """A local bucket copy when given, else the ``sources.json`` beside the manifest."""
    if mirror is not None:
        return LocalMirror(mirror)
    sources = labels.parent / SOURCES_FILE
    if not sources.is_file():
        raise ImageSourceError(f"no {SOURCES_FILE} beside {labels}: pass --images <local copy of the bucket>")
    return ShippedSources(sources)
