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

from camera_ingest.motion import MotionSettings
from smartcam.config import ComponentConfig
from smartcam.contracts import Identifier
from smartcam.cpu_affinity import ProcessConfig
from smartcam.metrics import MetricsSettings

ARTIFACT_DIR = Path(__file__).resolve().parent.parent
_VIDEO_DEVICE = re.compile(r"^/dev/video\d{1,3}$")
_STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://")

PositiveSeconds = Annotated[float, Field(gt=0, le=86_400)]


class V4l2Source(ComponentConfig):
    type: Literal["v4l2"]
    device: int | str = Field(
        0, description='The camera: an index 0..255 (0 is `/dev/video0`) or a path `"/dev/videoN"`.'
    )
    fourcc: Annotated[str, Field(pattern=r"^[A-Z0-9 ]{4}$")] | None = Field(
        None, description='Pixel format asked of the camera, four characters such as "MJPG" for USB cameras; '
        "null keeps the driver's default."
    )

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
    path: Annotated[str, Field(min_length=1)] = Field(
        description="Video file to replay; a relative path is resolved against the component's artifact folder."
    )
    fps: Annotated[float, Field(gt=0, le=240)] | None = Field(
        None, description="Replay rate in frames/s; null: the file's own rate (30 if the file does not say)."
    )

    @property
    def resolved(self) -> Path:
        return _resolve(self.path)


class StreamSource(ComponentConfig):
    type: Literal["stream"]
    url: Annotated[str, Field(min_length=8, max_length=2048)] = Field(
        description="Stream address starting rtsp://, rtsps://, http:// or https://; credentials in it are "
        "never shown in status messages."
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.lower().startswith(_STREAM_SCHEMES):
            raise ValueError(f"stream url must start with one of {', '.join(_STREAM_SCHEMES)}")
        return value


class FolderSource(ComponentConfig):
    type: Literal["folder"]
    path: Annotated[str, Field(min_length=1)] = Field(
        description="Folder of images (.jpg, .jpeg, .png, .bmp, .webp) replayed in name order; a relative path "
        "is resolved against the component's artifact folder. Each image is decoded once per start (again if its file "
        "changes) while the folder's decoded images fit 64 MiB, so a looping replay costs no decoding."
    )
    fps: Annotated[float, Field(gt=0, le=240)] = Field(
        10.0, description='Rate in frames/s at which this "camera" delivers its images.'
    )

    @property
    def resolved(self) -> Path:
        return _resolve(self.path)


Source = Annotated[V4l2Source | FileSource | StreamSource | FolderSource, Field(discriminator="type")]


# Frame ids are "<camera id>-<8 hex>-<sequence>" and at most 128 characters (Identifier): a camera id of
# at most 64 leaves room for any sequence (19 digits at most).
CameraId = Annotated[Identifier, Field(max_length=64)]


def _resolve(path: str) -> Path:
    candidate = Path(path)
    return candidate if candidate.is_absolute() else ARTIFACT_DIR / candidate


class CameraSettings(ComponentConfig):
    id: CameraId = Field(
        description="The camera's name in capture commands (camera_id) and frame references; unique per device."
    )
    source: Source = Field(
        description="Where this camera's frames come from; a command names a camera and never brings a source."
    )
    width: Annotated[int, Field(gt=0, le=8192)] | None = Field(
        None, description="Frame width in pixels, asked of a V4L2 camera and resized to if the source differs; "
        "set with height, null keeps the source's size."
    )
    height: Annotated[int, Field(gt=0, le=8192)] | None = Field(
        None, description="Frame height in pixels; set with width, null keeps the source's size."
    )
    jpeg_quality: Annotated[int, Field(ge=1, le=100)] = Field(
        85, description="JPEG quality (1..100) when one of this camera's frames is made a JPEG (an event's full "
        "snapshot, annotated output, tools); frames travel raw in the ring."
    )
    loop: bool = Field(
        True, description="Files and folders start over at their end; false ends the capture there "
        "(no effect on V4L2 cameras and streams)."
    )
    motion: MotionSettings = Field(
        default_factory=MotionSettings,
        description="This camera's motion gate: a frame in which nothing moved never leaves the component "
        "(no ring slot, no frame reference, no model run). A change applies to a running capture from its next frame "
        "and starts a new background; a snapshot is never gated, and a command can turn the gate off for itself.",
    )

    @model_validator(mode="after")
    def _both_or_neither(self) -> CameraSettings:
        if (self.width is None) != (self.height is None):
            raise ValueError("set both width and height, or neither")
        return self


class RingSettings(ComponentConfig):
    """Per camera: the ring has at most this many slots and this many megabytes of them (raw frames: a
    640x480 frame takes 0.9 MB, a 1280x720 one 2.6 MB)."""

    frames: Annotated[int, Field(ge=1, le=100_000)] = Field(
        300, description="Most frames kept per camera (ring slots); the oldest is overwritten first."
    )
    megabytes: Annotated[float, Field(gt=0, le=16_384)] = Field(
        64.0, description="Most MB (MiB, 1,048,576 bytes) of raw frames kept per camera in shared memory; fewer "
        "slots when frames are large (at least one)."
    )

    @property
    def max_bytes(self) -> int:
        return int(self.megabytes * 1024 * 1024)


class Limits(ComponentConfig):
    """Upper bounds for commands from outside; a command beyond them is rejected with the reason."""

    max_duration_s: PositiveSeconds = Field(
        300.0, description="Longest capture one command may ask for, in s (duration_s, or frames at its rate)."
    )
    max_frames: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        3000, description="Most frames one capture command may ask for (frames, or duration_s at its rate)."
    )
    max_fps: Annotated[float, Field(gt=0, le=240)] = Field(
        30.0, description="Highest rate a command may ask for, in frames/s (fps, or 1 / interval_s)."
    )
    default_fps: Annotated[float, Field(gt=0, le=240)] = Field(
        5.0, description="Rate in frames/s of a capture or start command that gives neither fps nor interval_s; "
        "at most maxFps."
    )
    max_interval_s: PositiveSeconds = Field(
        3600.0, description="Longest interval_s (s between kept frames) a command may ask for."
    )

    @model_validator(mode="after")
    def _default_within_max(self) -> Limits:
        if self.default_fps > self.max_fps:
            raise ValueError("defaultFps must not exceed maxFps")
        return self


class ReconnectSettings(ComponentConfig):
    """After a camera disconnects mid-capture: how often and how patiently to reopen it."""

    attempts: Annotated[int, Field(ge=0, le=100)] = Field(
        5, description="Reopen attempts before the capture ends with error and its partial result; 0 gives up at once."
    )
    initial_backoff_s: Annotated[float, Field(gt=0, le=60)] = Field(
        0.5, description="Wait in s before the first reopen attempt; doubled after each failed attempt."
    )
    max_backoff_s: Annotated[float, Field(gt=0, le=600)] = Field(
        10.0, description="Longest wait in s between two reopen attempts; at least initialBackoffS."
    )

    @model_validator(mode="after")
    def _backoff_ordered(self) -> ReconnectSettings:
        if self.initial_backoff_s > self.max_backoff_s:
            raise ValueError("initialBackoffS must not exceed maxBackoffS")
        return self


def _sample_camera() -> list[CameraSettings]:
    sample = {"id": "cam0", "source": {"type": "folder", "path": "samples"}, "width": 640, "height": 480}
    return [CameraSettings.model_validate(sample)]


class CameraIngestConfig(ProcessConfig):
    cameras: Annotated[list[CameraSettings], Field(min_length=1, max_length=32)] = Field(
        default_factory=_sample_camera,
        description="The cameras of this device (1..32, unique ids); capture commands can use only these.",
    )
    ring: RingSettings = RingSettings()
    limits: Limits = Limits()
    reconnect: ReconnectSettings = ReconnectSettings()
    progress_interval_s: Annotated[float, Field(gt=0, le=3600)] = Field(
        5.0, description='Seconds between "progress" status messages of a running capture.'
    )
    metrics: MetricsSettings = Field(default_factory=MetricsSettings, description=MetricsSettings.__doc__)
    health_interval_s: Annotated[float, Field(gt=0, le=3600)] = Field(
        30.0, description="Seconds between health messages on `smartcam/health/smartcam.CameraIngest`."
    )
    account_within_s: Annotated[float, Field(ge=0, le=86_400)] = Field(
        120.0, description="Seconds after a capture ends that its final status (finished or error) waits for "
        "the receipts of its frames; it goes out earlier once every frame has one, and its accounting counts "
        "the frames still without a receipt as pending. 0: at once. Applies to captures already waiting."
    )

    @field_validator("cameras")
    @classmethod
    def _unique_ids(cls, cameras: list[CameraSettings]) -> list[CameraSettings]:
        ids = [camera.id for camera in cameras]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"camera ids must be unique; repeated: {', '.join(duplicates)}")
        return cameras

    def camera(self, camera_id: str) -> CameraSettings | None:
        return next((camera for camera in self.cameras if camera.id == camera_id), None)
