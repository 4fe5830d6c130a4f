"""Configuration of smartcam.SsdInference (recipe DefaultConfiguration, camelCase keys).

Everything here applies live: a ``backend``, ``threads`` or ``streams`` change reloads the backend in place,
every other key applies from the next frame on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator

from smartcam.config import ComponentConfig
from smartcam.cpu_affinity import ProcessConfig
from smartcam.metrics import MetricsSettings

MAX_STREAMS = 8

BackendChoice = Literal["auto", "dlr", "onnxruntime", "litert", "onnxruntime-int8"]
Label = Annotated[str, Field(min_length=1, max_length=64)]


class AnnotatedOutput(ComponentConfig):
    """Optional JPEGs with the detections drawn on them, for a person looking at the device."""

    enabled: bool = Field(
        False, description="Write each inferred frame as a JPEG with its detections drawn; costs CPU and disk."
    )
    dir: Annotated[str, Field(min_length=1, max_length=4096)] = Field(
        "auto", description='Folder of the annotated JPEGs (`<dir>/<camera id>/<frame id>.jpg`): "auto" is '
        "`<work folder>/annotated`, else an absolute path."
    )
    keep_per_camera: Annotated[int, Field(ge=1, le=10_000)] = Field(
        50, description="Most annotated JPEGs kept per camera; the oldest are deleted."
    )

    @field_validator("dir")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if value != "auto" and (not value.startswith("/") or "\x00" in value):
            raise ValueError("must be 'auto' or an absolute path")
        return value

    def folder(self) -> Path:
        # Greengrass starts a component in its own work folder, hence Path.cwd() for "auto".
        return Path.cwd() / "annotated" if self.dir == "auto" else Path(self.dir)


class DropPolicy(ComponentConfig):
    """When frames arrive faster than inference: keep only the newest pending ones per camera."""

    pending_per_camera: Annotated[int, Field(ge=1, le=64)] = Field(
        1, description="Frames waiting per camera while inference is busy; older ones are dropped and counted."
    )
    max_cameras: Annotated[int, Field(ge=1, le=1024)] = Field(
        64, description="Most cameras with frames waiting; beyond it the longest-waiting camera's frames are "
        "dropped and counted."
    )


class IotSummary(ComponentConfig):
    """The compact per-frame summary sent to IoT Core (QoS 0)."""

    enabled: bool = Field(
        True, description="Send a summary of each frame's detections to IoT Core on `smartcam/<thing>/detections`."
    )
    include_empty: bool = Field(False, description="Also send a summary for frames without detections.")
    max_boxes: Annotated[int, Field(ge=0, le=50)] = Field(
        10, description="Most boxes in a summary, highest scores first; the per-label counts still cover all."
    )
    min_interval_s: Annotated[float, Field(ge=0.0, le=3600.0)] = Field(
        1.0, description="Least time between two summaries of a camera, in s: the first frame to summarize after it "
        "goes, and its summary's `frames` counts the frames inferred since the last one. 0: every frame. Each "
        "summary is an IoT Core message (billed per message) and ~0.3 ms of CPU."
    )


class SsdInferenceConfig(ProcessConfig):
    score_threshold: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        0.5, description="Lowest score (0..1) of a reported detection."
    )
    tracking_score_threshold: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        0.1, description="Lowest score (0..1) of a candidate: detections from here up to scoreThreshold go to "
        "smartcam.EventTracker as hints (after the same allow-list, minimum area and NMS, at most maxDetections), "
        "so a half-hidden person's weak detection continues their track; nothing stores, counts or summarises "
        "them. At or above scoreThreshold: none."
    )
    nms_iou_threshold: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        0.45, description="Overlap (IoU, 0..1) above which the lower-scoring of two boxes of the same class is "
        "suppressed."
    )
    max_detections: Annotated[int, Field(ge=1, le=1000)] = Field(
        20, description="Most detections reported per frame, highest scores first."
    )
    class_allow_list: Annotated[list[Label], Field(max_length=1000)] = Field(
        default_factory=list,
        description="Labels to report, as in the model's labels.txt; empty reports every class, unknown names "
        "match nothing.",
    )
    min_box_area: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        0.0, description="Smallest reported box, as a fraction (0..1) of the frame's area."
    )
    backend: BackendChoice = Field(
        "auto", description='Inference runtime; "auto" takes the model\'s preference for this CPU (dlr on x86_64, '
        "else onnxruntime), and at start a runtime that fails to load gives way to the next. "
        '"onnxruntime-int8" runs the model\'s INT8 build (about half the time of fp32 onnxruntime; it ships only '
        "within 1 point of fp32 recall and precision on the evaluation set at scoreThreshold 0.5); auto never "
        "picks it."
    )
    threads: Annotated[int, Field(ge=0, le=64)] = Field(
        0, description="CPU threads of the inference runtime; 0: the cores this process may use minus one, at "
        "least 1 (1 on 2 cores, which leaves a core to capture, IPC and the writer; see the README's Benchmarks "
        "for what 2 gives there). A change reloads the runtime in place."
    )
    streams: Annotated[int, Field(ge=1, le=MAX_STREAMS)] = Field(
        1, description="Copies of the model that infer frames at the same time, each with `threads` threads (0 then "
        "shares the cores minus one among them, at least 1 each); detections still go out in the order the frames "
        "were taken. More frames per second than the same cores as threads of one copy (on 2 cores: 2 streams of 1 "
        "thread against 1 copy with 2 threads, see the README's Benchmarks), for one more copy of the model in "
        "memory and no lower latency per frame. A change reloads the runtime in place."
    )
    annotated_output: AnnotatedOutput = Field(default_factory=AnnotatedOutput)
    drop_policy: DropPolicy = Field(default_factory=DropPolicy)
    iot_summary: IotSummary = Field(default_factory=IotSummary)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings, description=MetricsSettings.__doc__)
    health_interval_s: Annotated[float, Field(gt=0, le=3600)] = Field(
        30.0, description="Seconds between health messages on `smartcam/health/smartcam.SsdInference`."
    )
    status_min_interval_s: Annotated[float, Field(ge=0, le=3600)] = Field(
        5.0, description="Least s between two IoT Core status messages of the same problem; repeats in between "
        "are counted and sent with the next."
    )
