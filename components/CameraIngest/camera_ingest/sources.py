"""Every kind of camera behind one interface: ``open``, ``grab`` (wait for the next frame),
``retrieve`` (decode it), ``close``.

Capture sessions grab every frame the source delivers and decode only the ones the schedule keeps,
so the requested fps holds whatever the camera's own rate. Live sources (V4L2, streams) deliver at
the camera's pace; files and folders are replayed at their own rate (a file's fps, a folder's
configured fps) so they behave like a camera instead of a busy loop.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from camera_ingest.settings import CameraSettings, FileSource, FolderSource, StreamSource, V4l2Source

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
# A looping folder replays the same few images: each is decoded once and kept (read-only) while the
# decoded images of the folder fit this; beyond it the rest are decoded on every pass.
FOLDER_DECODED_CACHE_BYTES = 64 * 1024 * 1024
VideoCaptureFactory = Callable[..., Any]  # cv2.VideoCapture or a test double with the same methods


class SourceError(Exception):
    """A camera problem; ``str()`` is the reason reported to the operator."""


class SourceUnavailable(SourceError):
    """The camera cannot be opened (missing, busy, no permission, empty folder)."""


class SourceDisconnected(SourceError):
    """A live camera stopped delivering frames."""


class SourceEnded(SourceError):
    """A file or folder reached its end and looping is off."""


class FrameSource(Protocol):
    camera_id: str
    live: bool

    def open(self) -> None: ...

    def grab(self) -> None: ...

    def retrieve(self) -> np.ndarray | None: ...

    def close(self) -> None: ...


class _Pacer:
    """Spaces frames of a replayed source at ``fps`` on the monotonic clock.

    The first frame after :meth:`reset` comes at once and every next one a period after the one
    before (no drift). A consumer a little late gets the frame at once and the rate holds; one a
    whole period behind starts a new rhythm from then: never a burst to catch up, like a real camera.
    """

    def __init__(self, fps: float | None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.period = 1.0 / fps if fps else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None

    def wait(self) -> None:
        if not self.period:
            return
        now = self._clock()
        if self._next is None or now - self._next >= self.period:  # the first, or a period behind: no burst
            self._next = now + self.period
            return
        if now < self._next:
            self._sleep(self._next - now)
        self._next += self.period

    def reset(self) -> None:
        self._next = None


class OpenCvSource:
    """V4L2 devices, video files and RTSP/HTTP streams through cv2.VideoCapture."""

    def __init__(
        self,
        camera: CameraSettings,
        *,
        video_capture: VideoCaptureFactory = cv2.VideoCapture,
        device_exists: Callable[[str], bool] = os.path.exists,
        pace: bool = True,
    ) -> None:
        self.camera_id = camera.id
        self._pace = pace  # False: replay files as fast as they decode (benchmarks)
        self._device_exists = device_exists
        self._camera = camera
        self._source = camera.source
        self._factory = video_capture
        self._capture: Any = None
        self.live = isinstance(self._source, V4l2Source | StreamSource)
        self._pacer = _Pacer(None)

    def describe(self) -> str:
        source = self._source
        if isinstance(source, V4l2Source):
            return source.device_path
        if isinstance(source, FileSource):
            return str(source.resolved)
        if isinstance(source, StreamSource):
            return _redact(source.url)
        return "?"

    def open(self) -> None:
        self.close()
        source = self._source
        if isinstance(source, V4l2Source):
            if not self._device_exists(source.device_path):
                raise SourceUnavailable(f"camera {self.camera_id}: {source.device_path} does not exist (unplugged?)")
            capture = self._factory(source.index, cv2.CAP_V4L2)
        elif isinstance(source, FileSource):
            if not source.resolved.is_file():
                raise SourceUnavailable(f"camera {self.camera_id}: video file {source.resolved} does not exist")
            capture = self._factory(str(source.resolved), cv2.CAP_FFMPEG)
        elif isinstance(source, StreamSource):
            capture = self._factory(source.url, cv2.CAP_FFMPEG)
        else:  # pragma: no cover - FolderSource has its own class
            raise SourceUnavailable(f"camera {self.camera_id}: not an OpenCV source")
        if not capture.isOpened():
            capture.release()
            hint = ""
            if isinstance(source, V4l2Source):
                hint = " (busy in another process, or this user is not in the 'video' group)"
            raise SourceUnavailable(f"camera {self.camera_id}: cannot open {self.describe()}{hint}")
        if isinstance(source, V4l2Source):
            if source.fourcc:
                capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*source.fourcc))
            if self._camera.width and self._camera.height:
                capture.set(cv2.CAP_PROP_FRAME_WIDTH, self._camera.width)
                capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self._camera.height)
        if isinstance(source, FileSource) and self._pace:
            native = capture.get(cv2.CAP_PROP_FPS) or 0.0
            self._pacer = _Pacer(source.fps or (native if 0 < native <= 240 else 30.0))
        self._capture = capture

    def grab(self) -> None:
        if self._capture is None:
            raise SourceDisconnected(f"camera {self.camera_id} is not open")
        self._pacer.wait()
        if self._capture.grab():
            return
        if self.live:
            raise SourceDisconnected(f"camera {self.camera_id}: {self.describe()} stopped delivering frames")
        if not self._camera.loop:
            raise SourceEnded(f"camera {self.camera_id}: end of {self.describe()}")
        self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
        if not self._capture.grab():
            self.open()  # some containers cannot seek: reopen from the start
            if not self._capture.grab():
                raise SourceEnded(f"camera {self.camera_id}: {self.describe()} has no readable frames")

    def retrieve(self) -> np.ndarray | None:
        if self._capture is None:
            return None
        ok, image = self._capture.retrieve()
        return image if ok and image is not None and image.size else None

    def close(self) -> None:
        if self._capture is not None:
            try:
                self._capture.release()
            except Exception:
                log.debug("release failed", exc_info=True)
            self._capture = None


class FolderImageSource:
    """A folder of images replayed in name order at ``fps``: a camera for tests and replays."""

    live = False

    def __init__(self, camera: CameraSettings, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        assert isinstance(camera.source, FolderSource)
        self.camera_id = camera.id
        self._camera = camera
        self._folder: Path = camera.source.resolved
        self._pacer = _Pacer(camera.source.fps, clock=clock, sleep=sleep)
        self._files: list[Path] = []
        self._index = -1
        self._decoded = _DecodedImages(FOLDER_DECODED_CACHE_BYTES)

    def describe(self) -> str:
        return str(self._folder)

    def open(self) -> None:
        if not self._folder.is_dir():
            raise SourceUnavailable(f"camera {self.camera_id}: image folder {self._folder} does not exist")
        self._files = sorted(p for p in self._folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not self._files:
            raise SourceUnavailable(f"camera {self.camera_id}: no images in {self._folder}")
        self._index = -1
        self._decoded.clear()
        self._pacer.reset()

    def grab(self) -> None:
        if not self._files:
            raise SourceDisconnected(f"camera {self.camera_id} is not open")
        self._pacer.wait()
        self._index += 1
        if self._index >= len(self._files):
            if not self._camera.loop:
                raise SourceEnded(f"camera {self.camera_id}: end of {self._folder}")
            self._index = 0

    def retrieve(self) -> np.ndarray | None:
        if not 0 <= self._index < len(self._files):
            return None
        path = self._files[self._index]
        try:
            stamp = _stamp(path)
        except OSError as exc:
            log.warning("camera %s: %s cannot be read (%s), skipped", self.camera_id, path.name, exc)
            return None
        image = self._decoded.get(path, stamp)
        if image is None:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                log.warning("camera %s: %s is not a readable image, skipped", self.camera_id, path.name)
                return None
            self._decoded.keep(path, stamp, image)
        return image

    def close(self) -> None:
        self._files = []
        self._index = -1
        self._decoded.clear()


def _stamp(path: Path) -> tuple[int, int]:
    """What tells a replaced or rewritten image file from the one decoded before."""
    status = path.stat()
    return status.st_mtime_ns, status.st_size


class _DecodedImages:
    """Decoded images of a folder by file, while they fit ``limit_bytes``. Each is made read-only when kept,
    so a stage that tried to draw on a frame it was handed would fail loudly instead of altering the replay."""

    def __init__(self, limit_bytes: int) -> None:
        self._limit = limit_bytes
        self._images: dict[Path, tuple[tuple[int, int], np.ndarray]] = {}
        self._bytes = 0

    def get(self, path: Path, stamp: tuple[int, int]) -> np.ndarray | None:
        kept = self._images.get(path)
        if kept is None:
            return None
        if kept[0] != stamp:
            self._bytes -= kept[1].nbytes
            del self._images[path]
            return None
        return kept[1]

    def keep(self, path: Path, stamp: tuple[int, int], image: np.ndarray) -> None:
        if self._bytes + image.nbytes > self._limit:
            return
        image.flags.writeable = False
        self._images[path] = (stamp, image)
        self._bytes += image.nbytes

    def clear(self) -> None:
        self._images.clear()
        self._bytes = 0


def open_source(
    camera: CameraSettings, *, video_capture: VideoCaptureFactory = cv2.VideoCapture
) -> FrameSource:
    """A closed source for ``camera``; call ``open()`` on it."""
    if isinstance(camera.source, FolderSource):
        return FolderImageSource(camera)
    return OpenCvSource(camera, video_capture=video_capture)


def _redact(url: str) -> str:
    """Stream URLs may carry credentials (rtsp://user:pass@host): never put them in a status."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest.split("/", 1)[0]:
        rest = "***@" + rest.split("@", 1)[1]
    return scheme + sep + rest
