"""Configuration of smartcam.CameraIngest (recipe DefaultConfiguration, camelCase keys).

Cameras are configured here and only here: a command names a camera by ``id`` and can never bring
its own path, device or URL. Relative ``path`` values of file and folder sources are resolved
against the component's artifact folder (where the sample images ship).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from smartcam.config import ComponentConfig
from smartcam.contracts import Identifier
from smartcam.frames import AUTO, resolve_frame_root

ARTIFACT_DIR = Path(__file__).resolve().parent.parent
_VIDEO_DEVICE = re.compile(r"^/dev/video\d{1,3}$")
_STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://")

PositiveSeconds = Annotated[float, Field(gt=0, le=86_400)]


class V4l2Source(ComponentConfig):
    type: Literal["v4l2"]
    device: int | str = 0  # index (0 = /dev/video0) or "/dev/videoN"
    fourcc: Annotated[str, Field(pattern=r"^[A-Z0-9 ]{4}$")] | None = None  # e.g. "MJPG" for USB cameras

    @field_validator("device")
    @classmethod
    def _device(cls, value: int | str) -> int | str:
        if isinstance(value, int):
            if not 0 <= value <= 255:
                raise ValueError("a device index is 0..255")
            return value
        if not _VIDEO_DEVICE.match(value):
            raise ValueError("must be an index or a path like /dev/video0")
        return value

    @property
    def device_path(self) -> str:
        return f"/dev/video{self.device}" if isinstance(self.device, int) else self.device

    @property
    def index(self) -> int:
        return self.device if isinstance(self.device, int) else int(self.device.removeprefix("/dev/video"))


class FileSource(ComponentConfig):
    type: Literal["file"]
    path: Annotated[str, Field(min_length=1)]
    fps: Annotated[float, Field(gt=0, le=240)] | None = None  # replay rate; default: the file's own

    @property
    def resolved(self) -> Path:
        return _resolve(self.path)


class StreamSource(ComponentConfig):
    type: Literal["stream"]
    url: Annotated[str, Field(min_length=8, max_length=2048)]

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.lower().startswith(_STREAM_SCHEMES):
            raise ValueError(f"stream url must start with one of {', '.join(_STREAM_SCHEMES)}")
        return value


class FolderSource(ComponentConfig):
    type: Literal["folder"]
    path: Annotated[str, Field(min_length=1)]
    fps: Annotated[float, Field(gt=0, le=240)] = 10.0  # the rate at which this "camera" delivers images

    @property
    def resolved(self) -> Path:
        return _resolve(self.path)


Source = Annotated[V4l2Source | FileSource | StreamSource | FolderSource, Field(discriminator="type")]


def _resolve(path: str) -> Path:
    candidate = Path(path)
    return candidate if candidate.is_absolute() else ARTIFACT_DIR / candidate


class CameraSettings(ComponentConfig):
    id: Identifier
    source: Source
    width: Annotated[int, Field(gt=0, le=8192)] | None = None  # frames are resized to this if set
    height: Annotated[int, Field(gt=0, le=8192)] | None = None
    jpeg_quality: Annotated[int, Field(ge=1, le=100)] = 85
    loop: bool = True  # files and folders start over at their end

    @model_validator(mode="after")
    def _both_or_neither(self) -> CameraSettings:
        if (self.width is None) != (self.height is None):
            raise ValueError("set both width and height, or neither")
        return self


class RingSettings(ComponentConfig):
    """Per camera: the ring keeps at most this many frames and this many megabytes."""

    frames: Annotated[int, Field(ge=1, le=100_000)] = 300
    megabytes: Annotated[float, Field(gt=0, le=16_384)] = 64.0

    @property
    def max_bytes(self) -> int:
        return int(self.megabytes * 1024 * 1024)


class Limits(ComponentConfig):
    """Upper bounds for commands from outside; a command beyond them is rejected with the reason."""

    max_duration_s: PositiveSeconds = 300.0
    max_frames: Annotated[int, Field(ge=1, le=1_000_000)] = 3000
    max_fps: Annotated[float, Field(gt=0, le=240)] = 30.0
    default_fps: Annotated[float, Field(gt=0, le=240)] = 5.0
    max_interval_s: PositiveSeconds = 3600.0

    @model_validator(mode="after")
    def _default_within_max(self) -> Limits:
        if self.default_fps > self.max_fps:
            raise ValueError("defaultFps must not exceed maxFps")
        return self


class ReconnectSettings(ComponentConfig):
    """After a camera disconnects mid-capture: how often and how patiently to reopen it."""

    attempts: Annotated[int, Field(ge=0, le=100)] = 5
    initial_backoff_s: Annotated[float, Field(gt=0, le=60)] = 0.5
    max_backoff_s: Annotated[float, Field(gt=0, le=600)] = 10.0


def _sample_camera() -> list[CameraSettings]:
    sample = {"id": "cam0", "source": {"type": "folder", "path": "samples"}, "width": 640, "height": 480}
    return [CameraSettings.model_validate(sample)]


class CameraIngestConfig(ComponentConfig):
    cameras: Annotated[list[CameraSettings], Field(min_length=1, max_length=32)] = Field(
        default_factory=_sample_camera
    )
    frame_root: str = AUTO  # "auto": /dev/shm/smartcam-frames on tmpfs, see smartcam.frames
    ring: RingSettings = RingSettings()
    limits: Limits = Limits()
    reconnect: ReconnectSettings = ReconnectSettings()
    progress_interval_s: Annotated[float, Field(gt=0, le=3600)] = 5.0
    health_interval_s: Annotated[float, Field(gt=0, le=3600)] = 30.0

    @field_validator("frame_root")
    @classmethod
    def _frame_root(cls, value: str) -> str:
        resolve_frame_root(value)  # raises ValueError with the reason
        return value

    @field_validator("cameras")
    @classmethod
    def _unique_ids(cls, cameras: list[CameraSettings]) -> list[CameraSettings]:
        ids = [camera.id for camera in cameras]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"camera ids must be unique; repeated: {', '.join(duplicates)}")
        return cameras

    @property
    def frame_root_path(self) -> Path:
        return resolve_frame_root(self.frame_root)

    def camera(self, camera_id: str) -> CameraSettings | None:
        return next((camera for camera in self.cameras if camera.id == camera_id), None)
