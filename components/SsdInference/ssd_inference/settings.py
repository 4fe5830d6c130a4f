"""Configuration of smartcam.SsdInference (recipe DefaultConfiguration, camelCase keys).

Everything here applies live: a ``backend`` or ``threads`` change reloads the backend in place,
every other key applies from the next frame on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator

from smartcam.config import ComponentConfig

BackendChoice = Literal["auto", "dlr", "onnxruntime", "litert"]
Label = Annotated[str, Field(min_length=1, max_length=64)]


class AnnotatedOutput(ComponentConfig):
    """Optional JPEGs with the detections drawn on them, for a person looking at the device."""

    enabled: bool = False
    # "auto": <work folder>/annotated (Greengrass starts a component in its own work folder)
    dir: Annotated[str, Field(min_length=1, max_length=4096)] = "auto"
    keep_per_camera: Annotated[int, Field(ge=1, le=10_000)] = 50

    @field_validator("dir")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if value != "auto" and (not value.startswith("/") or "\x00" in value):
            raise ValueError("must be 'auto' or an absolute path")
        return value

    def folder(self) -> Path:
        return Path.cwd() / "annotated" if self.dir == "auto" else Path(self.dir)


class DropPolicy(ComponentConfig):
    """When frames arrive faster than inference: keep only the newest pending ones per camera."""

    pending_per_camera: Annotated[int, Field(ge=1, le=64)] = 1
    max_cameras: Annotated[int, Field(ge=1, le=1024)] = 64


class IotSummary(ComponentConfig):
    """The compact per-frame summary sent to IoT Core (QoS 0)."""

    enabled: bool = True
    include_empty: bool = False
    max_boxes: Annotated[int, Field(ge=0, le=50)] = 10


class SsdInferenceConfig(ComponentConfig):
    score_threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    nms_iou_threshold: Annotated[float, Field(gt=0.0, le=1.0)] = 0.45
    max_detections: Annotated[int, Field(ge=1, le=1000)] = 20
    class_allow_list: Annotated[list[Label], Field(max_length=1000)] = Field(default_factory=list)
    min_box_area: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0  # fraction of the frame
    backend: BackendChoice = "auto"
    threads: Annotated[int, Field(ge=1, le=64)] = 2
    annotated_output: AnnotatedOutput = Field(default_factory=AnnotatedOutput)
    drop_policy: DropPolicy = Field(default_factory=DropPolicy)
    iot_summary: IotSummary = Field(default_factory=IotSummary)
    # Frames outside this folder are refused; "auto" is the ring's default (smartcam.frames).
    frame_root: Annotated[str, Field(min_length=1, max_length=4096)] = "auto"
    health_interval_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
    status_min_interval_s: Annotated[float, Field(ge=0, le=3600)] = 5.0

    @field_validator("frame_root")
    @classmethod
    def _absolute_root(cls, value: str) -> str:
        if value != "auto" and (not value.startswith("/") or "\x00" in value or value == "/"):
            raise ValueError("must be 'auto' or an absolute path other than /")
        return value
