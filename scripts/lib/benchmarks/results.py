"""What each benchmark writes to docs/bench/<name>.json, as one model per benchmark.

The benchmark builds its result from these models and writes it with :meth:`BenchResult.write`; the
README's benchmark table (readme_tables.bench_table) reads the files back with
:meth:`BenchResult.read`. A key renamed on one side therefore fails the other side (and the test
that parses every committed file), instead of silently dropping a row from the table. The models
live apart from the benchmark modules so that reading a result does not import OpenCV, the
inference runtimes or the local Greengrass runtime.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, Self, TypeVar

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer


class ResultPart(BaseModel):
    """Strict: unknown keys and values of another type are refused, never coerced."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    # Keys added after files were committed: left out while None, so an older file reads back to the byte.
    omitted_when_none: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _omit_unmeasured(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        for key in self.omitted_when_none:
            if data.get(key) is None:
                data.pop(key, None)
        return data


class BenchResult(ResultPart):
    """A whole result file."""

    def to_json(self) -> str:
        # json.dumps (not pydantic's dumper) keeps the files' format: indent 2, NaN where nothing was measured.
        return json.dumps(self.model_dump(mode="json"), indent=2) + "\n"

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json())

    @classmethod
    def parse(cls, text: str) -> Self:
        """Raises pydantic.ValidationError (a ValueError) for a file of another shape."""
        return cls.model_validate_json(text)

    @classmethod
    def read(cls, path: Path) -> Self:
        return cls.parse(path.read_text())

    def about(self) -> About:
        """What the file says about its run, for the table's source and machine lines."""
        return About(None, None, None)


@dataclass(frozen=True)
class About:
    command: str | None
    when: str | None
    machine: str | None  # "2 CPUs, Python 3.11.7, Linux-..."


def _machine_line(cpus: int | None, python: str, platform: str) -> str | None:
    return f"{cpus} CPUs, Python {python}, {platform}" if cpus else None


class Machine(ResultPart):
    cpus: int | None
    python: str
    platform: str

    @classmethod
    def here(cls) -> Machine:
        return cls(cpus=os.cpu_count(), python=platform.python_version(), platform=platform.platform())

    @property
    def line(self) -> str | None:
        return _machine_line(self.cpus, self.python, self.platform)


class PipelineMachine(ResultPart):
    cpus: int | None
    platform: str
    python: str
    loadavg_at_end: tuple[float, float, float]

    @property
    def line(self) -> str | None:
        return _machine_line(self.cpus, self.python, self.platform)


MachineT = TypeVar("MachineT", Machine, PipelineMachine)


class StampedResult(BenchResult, Generic[MachineT]):
    """A result that records its command, time and machine under these keys, in this order, first."""

    command: str
    when: str
    machine: MachineT

    def about(self) -> About:
        return About(self.command, self.when, self.machine.line)


# ipc -------------------------------------------------------------------------------------------------
class SampleMessage(ResultPart):
    seq: int
    label: str
    score: float
    box: list[float]
    frame: str


class RoundTrip(ResultPart):
    count: int
    warmup: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mismatched: int


class OneWay(ResultPart):
    messages: int
    received: int
    lost: int
    in_order: bool
    messages_per_s: int
    publisher_window: int


class IpcTargets(ResultPart):
    p50_round_trip_ms: float
    one_way_messages_per_s: int
    met: bool


class IpcResult(StampedResult[Machine]):
    client: str
    message: SampleMessage
    round_trip: RoundTrip
    one_way: OneWay
    targets: IpcTargets


# capture ---------------------------------------------------------------------------------------------
class Spread(ResultPart):
    mean: float
    p50: float
    p95: float


class CaptureStages(ResultPart):
    omitted_when_none = ("encode",)

    grab_decode: Spread
    encode: Spread | None = None  # JPEG encode: the ring held JPEG files before it held raw frames
    ring_write: Spread
    publish: Spread
    total: Spread


class PerFrame(ResultPart):
    omitted_when_none = ("jpeg_kb_mean", "slot_kb")

    frames: int
    ms: CaptureStages
    jpeg_kb_mean: float | None = None  # with the JPEG ring
    slot_kb: float | None = None  # with the raw ring: one frame's slot
    max_fps_one_stream: float
    cpu_cores_at_max_fps: float
    cpu_ms_per_frame: float


class Sustained(ResultPart):
    requested_fps: float
    seconds: float
    frames: int
    achieved_fps: float
    frame_gap_ms: Spread | None
    cpu_cores: float
    outcome: str | None


class CaptureAtSize(ResultPart):
    opencv: str
    opencv_threads: int
    per_frame: PerFrame
    sustained: Sustained


class CaptureTarget(ResultPart):
    fps_at_640x480: float
    cpu_cores_below: float
    met: bool


class CaptureResult(StampedResult[Machine]):
    publish: str
    frame_root_filesystem: str
    jpeg_quality: int
    results: dict[str, CaptureAtSize]  # by frame size, "640x480"
    target: CaptureTarget


# inference -------------------------------------------------------------------------------------------
class ModelUsed(ResultPart):
    name: str
    version: str
    folder: str
    dlr_target: str | None


class FramesUsed(ResultPart):
    size: str
    source: str
    per_backend: int


class InferenceMachine(ResultPart):
    platform: str
    machine: str
    cpus: int | None
    python: str
    load_average_1m: float

    @property
    def line(self) -> str | None:
        return _machine_line(self.cpus, self.python, self.platform)


class InferenceTargets(ResultPart):
    overhead_vs_model: float
    dlr_vs_fastest: float


class MedianP90(ResultPart):
    median_ms: float
    p90_ms: float


class BackendTimes(ResultPart):
    frames: int
    stages: dict[str, MedianP90]  # read, preprocess, infer, postprocess, publish
    model: MedianP90
    overhead: MedianP90
    total: MedianP90


class InferenceChecks(ResultPart):
    fastest_backend: str
    dlr_vs_fastest: float | None
    dlr_vs_fastest_target: float
    overhead_vs_model: dict[str, float]  # by backend
    overhead_vs_model_target: float
    dlr_within_target: bool
    overhead_within_target: dict[str, bool]  # by backend


class InferenceRun(ResultPart):
    """One thread count, measured in its own process (which prints this)."""

    threads: int
    model: ModelUsed
    frames_per_backend: int
    load_average_1m_after: float
    backends: dict[str, BackendTimes]
    checks: InferenceChecks


class InferenceResult(BenchResult):
    benchmark: str
    model: ModelUsed
    frames: FramesUsed
    machine: InferenceMachine
    versions: dict[str, str | None]  # by distribution name; None: not installed
    overhead_stages: list[str]
    targets: InferenceTargets
    runs: list[InferenceRun]
    measured_at: str

    def about(self) -> About:
        return About(None, self.measured_at, self.machine.line)


# writer ----------------------------------------------------------------------------------------------
class WriterMachine(ResultPart):
    cpus: int | None
    python: str
    loadavg_1m_start: float
    loadavg_1m_end: float
    note: str


class Direct(ResultPart):
    items: int
    seconds: float
    items_per_s: float
    cpu_ms_per_item: float


class ThroughSpool(ResultPart):
    items: int
    seconds: float
    items_per_s: float
    cpu_ms_per_item: float
    receive_items_per_s: float
    receive_ms_p50: float
    receive_ms_p99: float


class BacklogDrain(ResultPart):
    backlog_items: int
    backlog_bytes: int
    seconds: float
    items_per_s: float
    cpu_ms_per_item: float


class SpoolAlone(ResultPart):
    items: int
    put_items_per_s: float
    peek_ack_items_per_s: float


class WriterRound(ResultPart):
    """One round of the measurements that are repeated (interleaved, best of the rounds reported)."""

    direct: Direct
    through_spool: ThroughSpool
    backlog_drain: BacklogDrain


class RoundsItemsPerS(ResultPart):
    direct: list[float]
    through_spool: list[float]
    backlog_drain: list[float]


class WriterResults(ResultPart):
    direct: Direct
    through_spool: ThroughSpool
    backlog_drain: BacklogDrain
    spool_alone: SpoolAlone
    rounds_items_per_s: RoundsItemsPerS
    spool_overhead: float


class WriterResult(BenchResult):
    benchmark: str
    command: str
    note: str
    machine: WriterMachine
    target_items_per_s_through_spool: int
    results: WriterResults

    def about(self) -> About:
        return About(self.command, None, _machine_line(self.machine.cpus, self.machine.python, "?"))  # no platform


# pipeline --------------------------------------------------------------------------------------------
class StandaloneModel(ResultPart):
    """The model alone, measured in its own process (which prints this)."""

    omitted_when_none = ("model_cpu_ms_per_frame", "streams")

    backend: str
    threads: int
    frames: int
    fps: float
    infer_ms_p50: float
    preprocess_plus_infer_ms_p50: float
    infer_ms_p99: float
    model_cpu_ms_per_frame: float | None = None  # process CPU time inside the backend's run, per frame
    streams: int | None = None  # copies of the model run at once from as many threads (None: 1)


class PipelineRun(ResultPart):
    omitted_when_none = ("cpu_ms_outside_model_per_frame",)

    input_fps: float
    frames_requested: int
    frames_captured: int
    frames_stored: int
    frames_dropped: int
    stored_without_confirmation: int
    capture_seconds: float
    pipeline_fps: float
    e2e_ms_p50: float
    e2e_ms_p99: float
    capture_to_inferred_ms_p50: float
    inferred_to_stored_ms_p50: float
    stage_ms_p50: dict[str, float]  # queue, read, preprocess, infer, postprocess
    capture_state: str
    cpu_ms_per_stored_frame: dict[str, float]  # by process role
    # the same less the model's own CPU time (StandaloneModel.model_cpu_ms_per_frame) in SsdInference
    cpu_ms_outside_model_per_frame: dict[str, float] | None = None


class PipelineTargets(ResultPart):
    pipeline_fps_max: float
    pipeline_fps_vs_model: float
    pipeline_fps_vs_model_target: float
    e2e_p50_ms_at_10fps: float | None
    e2e_p50_target_ms: float


class PipelineResult(StampedResult[PipelineMachine]):
    omitted_when_none = ("cpu_affinity",)

    model: StandaloneModel
    runs: list[PipelineRun]
    rss_mb_max: dict[str, float]  # by component
    targets: PipelineTargets
    notes: str
    # CPUs by process when the run pinned them (--pin-inference): the components by their cpuAffinity, the
    # runtime's daemon and stand-ins by the benchmark. None: every process where the OS put it.
    cpu_affinity: dict[str, list[int]] | None = None


# tracking --------------------------------------------------------------------------------------------
class FrameTimes(ResultPart):
    """Per frame, the fastest of the passes (so another job's burst on the shared cores does not count)."""

    median_ms: float
    p90_ms: float
    max_ms: float
    cpu_ms_per_frame: float  # process CPU time of the update calls over the frames, the least of the passes


class TrackingQuality(ResultPart):
    """benchmarks.tracking_scenes.score against the scene's truth."""

    people: int
    track_ids: int
    id_switches: int
    fragmentation: int
    recall: float
    precision: float


class TrackerOnScene(ResultPart):
    people: int
    seed: int
    frames: int
    detections: int
    times: FrameTimes
    quality: TrackingQuality | None  # None: the per-camera path, whose tracks are the Tracker's
    messages: int | None = None  # TrackEvent messages built (the per-camera path only)


class TrackerMeasured(ResultPart):
    label: str  # for tables and plots
    what: str
    package: str | None  # the pinned library, "supervision==0.30.9"; None: this repository's code
    configuration: str
    scenes: list[TrackerOnScene]

    def on(self, people: int) -> TrackerOnScene | None:
        return next((scene for scene in self.scenes if scene.people == people), None)


class LibraryInstall(ResultPart):
    """The library's bench-only venv, against the device venv (components/Runtime/requirements.txt)."""

    requirements: str  # the pinned file it was installed from
    packages: int  # distributions installed with it, itself included (pip and setuptools not)
    megabytes: float  # their installed files, in MiB
    new_packages: list[str]  # not in the device venv
    new_megabytes: float
    conflicts: list[str]  # requirements the device venv's pins do not meet: "norfair 2.3.0 requires numpy<2.0.0,..."


class TrackingTarget(ResultPart):
    people: int
    median_ms: float
    measured_median_ms: float
    measured_p90_ms: float
    met: bool


class TrackingResult(StampedResult[Machine]):
    scenes: str  # how they are made
    seconds: float  # each scene's length
    fps: float
    passes: int
    trackers: dict[str, TrackerMeasured]  # "tracker", "camera" (ours), then the libraries by name
    libraries: dict[str, LibraryInstall]
    target: TrackingTarget


# events ----------------------------------------------------------------------------------------------
class ClipUsed(ResultPart):
    source: str
    still_frame: int
    noise_s: float
    sigma: float
    fps: float
    noise_frames: int
    scene_frames: int
    jpeg_quality: int


class PhaseResult(ResultPart):
    """One phase of the static clip (noise: the still frame with sensor noise; scene: vtest.avi)."""

    video_s: float
    frames_taken: int
    frames_passed: int
    frames_gated: int
    gated_share: float
    model_invocations: int
    events_started: int
    cpu_s: dict[str, float]  # by process role, over the phase (the scene: until the writer had stored everything)
    cpu_s_per_video_min: dict[str, float]
    cpu_s_per_video_min_total: float
    dynamodb_items: int  # items of the capture in the table of the store mode, by capture or event start time
    dynamodb_bytes: int  # by DynamoDB's item size rules (dynamo_writer.items.item_size)
    dynamodb_items_per_min: float
    dynamodb_bytes_per_min: float
    dynamodb_writes: int  # write requests the writer made (PutItem per event message, items of BatchWriteItem)
    dynamodb_writes_per_min: float
    s3_objects: int
    s3_bytes: int
    s3_objects_per_min: float
    s3_bytes_per_min: float


class StaticClipRun(ResultPart):
    store: str
    request_id: str
    capture_state: str
    frames_requested: int
    frames_captured: int
    frames_gated: int
    accounting: dict[str, int]
    phases: dict[str, PhaseResult]  # noise, scene
    events: int
    still_objects: int  # detections in the clip's first frame
    events_started_in_noise: int
    events_from_noise: int  # of those, events that follow none of the still objects
    events_seen_in_scene: int
    event_duration_s_p50: float
    events_under_2s: int  # short events: mostly a person's track broken and started again
    scene_items_per_camera_hour: float  # the ratio's operands: events seen in the scene, or detection items
    infer_ms_p50: float  # the model's time per frame in the scene (Detections latency.infer_ms)
    settle_s: float  # capture end -> the writer had stored everything


class CameraResult(ResultPart):
    camera: str
    offset_frame: int
    request_id: str
    capture_state: str
    capture_s: float  # first to last frame that left the camera
    frames_expected: int
    frames_taken: int  # captured + gated
    frames_captured: int
    frames_gated: int
    frames_served: int  # stored + summarized + no_detections: inferred, and the outcome kept
    accounting: dict[str, int]
    accounting_adds_up: bool
    events_published: int
    events_stored: int
    events_stored_once_as_ended: bool
    nothing_lost: bool  # every frame expected taken, none lost, expired, refused or pending; every event stored once
    all_served: bool  # and none dropped: inference ran on every frame that left the camera


class MultiCameraRun(ResultPart):
    cameras: list[CameraResult]
    fps_per_camera: float
    seconds: float
    cpu_s: dict[str, float]  # by process role, over the capture
    cores_used: float  # CPU seconds of every process / wall seconds of the capture
    cpu_ms_per_served_frame: float  # of every process but CameraIngest, whose work is per frame taken
    cores_needed_to_serve_all: float  # CameraIngest's + the rest's per served frame x every frame captured
    infer_ms_p50: float
    settle_s: float


class OfflineTracking(ResultPart):
    """vtest.avi with every frame served: the components' frame path and tracker, without the runtime."""

    frames: int
    detection_items: int  # what store detections would keep: one item per frame and label
    events: int
    events_under_2s: int
    event_duration_s_p50: float
    items_ratio: float  # events / detection items
    events_at_5fps: int  # every second frame only


class EventsTargets(ResultPart):
    noise_gated_share: float
    noise_gated_share_target: float
    noise_gated_share_met: bool
    events_from_noise: int
    events_from_noise_met: bool
    scene_items_ratio: float  # events mode / detections mode, DynamoDB items per camera-hour on vtest.avi
    scene_items_ratio_target: float
    scene_items_ratio_met: bool
    cameras: int
    fps_per_camera: float
    multi_camera_cores_used: float
    multi_camera_cores_needed_to_serve_all: float
    multi_camera_cores: int
    multi_camera_nothing_lost: bool
    multi_camera_all_served: bool


class EventsResult(StampedResult[PipelineMachine]):
    loadavg_at_start: tuple[float, float, float]
    clip: ClipUsed
    idle_cpu_s_per_min: dict[str, float]  # by process role, the runtime up and no capture
    runs: dict[str, StaticClipRun]  # by store mode: events, detections
    every_frame_served: OfflineTracking
    multi_camera: MultiCameraRun
    targets: EventsTargets
    notes: str



# cameras ---------------------------------------------------------------------------------------------
class CameraFrames(ResultPart):
    """One camera of a run: what became of its frames and how long they took to be stored."""

    camera: str
    offset_frame: int  # where in vtest.avi its replay begins
    start_delay_s: float  # after the run's start
    request_id: str
    capture_state: str
    frames_expected: int  # fps x seconds
    frames_taken: int  # captured + gated
    frames_captured: int  # left the camera
    frames_gated: int  # kept back by the motion gate (by design, not dropped)
    frames_inferred: int  # frames whose detections the observer saw
    frames_served: int  # stored + summarized + no_detections
    frames_dropped: int  # inference's newest-frame policy
    frames_expired: int
    frames_unserved: int  # not taken + captured but not served (dropped, expired, refused, lost, pending)
    unserved_share: float  # of frames expected
    accounting: dict[str, int]  # the capture's final accounting
    events_published: int
    events_stored: int
    events_stored_once_as_ended: bool
    stored_frames_timed: int  # served frames with a writer receipt heard
    capture_to_stored_ms_p50: float | None
    capture_to_stored_ms_p99: float | None


class CamerasRun(ResultPart):
    """N cameras at once for ``seconds`` each."""

    cameras: int
    fps_per_camera: float
    seconds: float
    unserved_share: float  # all cameras' unserved frames / all frames expected
    unserved_share_worst_camera: float
    capture_to_stored_ms_p50: float | None  # every timed frame of every camera
    capture_to_stored_ms_p99: float | None
    cpu_s: dict[str, float]  # by process role, from the first camera's start to the last one's end
    cores_used: float  # CPU seconds of every process / wall seconds of that window
    writer_counters: dict[str, int]  # what each of the writer's counters grew by until it had stored everything
    settle_s: float  # after that window, until the writer had stored everything
    per_camera: list[CameraFrames]


class CamerasConfiguration(ResultPart):
    name: str  # "default", "backend <name>", "streams <n>"
    inference_settings: dict[str, str | int]  # merged into SsdInference's defaults
    runs: list[CamerasRun]


class CamerasCheck(ResultPart):
    """The issue's targets for one configuration, at ``cameras`` (the target count when it ran, else the
    most cameras that ran: then ``at_target_cameras`` is false and the checks say nothing of the target)."""

    configuration: str
    cameras: int
    at_target_cameras: bool
    unserved_share: float
    unserved_share_met: bool
    unserved_share_worst_camera: float
    unserved_share_worst_camera_met: bool
    capture_to_stored_ms_p99: float | None
    capture_to_stored_ms_p99_met: bool


class CamerasTargets(ResultPart):
    cameras: int
    unserved_share_max: float
    unserved_share_per_camera_max: float
    capture_to_stored_ms_p99_max: float
    checks: list[CamerasCheck]  # one per configuration


class CamerasResult(StampedResult[PipelineMachine]):
    loadavg_at_start: tuple[float, float, float]
    video: str
    video_frames: int
    seed: int
    max_start_delay_s: float
    configurations: list[CamerasConfiguration]
    targets: CamerasTargets
    notes: str


# operator_view -----------------------------------------------------------------------------------------
class PagePhase(ResultPart):
    """OperatorView's process over one phase of the run: its CPU as a share of one core."""

    seconds: float
    cpu_percent_of_a_core: float
    page_open: bool
    frames_drawn: int  # distinct frames the browser drew (0 with no page)


class OperatorViewTargets(ResultPart):
    cpu_percent_of_a_core: float
    met: bool


class OperatorViewResult(StampedResult[PipelineMachine]):
    camera: str
    capture_fps: float
    max_fps: float
    without_page: PagePhase
    with_page: PagePhase
    targets: OperatorViewTargets


# tuning ----------------------------------------------------------------------------------------------
class BuildTimes(ResultPart):
    repeat_medians_ms: list[float]
    min_ms: float
    median_ms: float


class TuningRun(ResultPart):
    threads: int
    repeats: int
    frames_per_repeat: int
    untuned: BuildTimes
    tuned: BuildTimes
    tuned_vs_untuned: float
    tuned_wins_repeats: int
    max_abs_output_difference: float


class TuningResult(StampedResult[PipelineMachine]):
    build: str
    target: str
    records: str
    runs: list[TuningRun]
    noise_margin: float
    tuned_is_faster: bool


# streams ---------------------------------------------------------------------------------------------
class StreamsShape(ResultPart):
    threads: int
    streams: int
    repeat_fps: list[float]
    fps: float  # median of the repeats
    cpu_ms_per_frame: float


class StreamsRun(ResultPart):
    backend: str
    variant: str  # the build that ran (dlr-avx512), or the backend
    cores: int
    one_copy: StreamsShape
    copies: StreamsShape
    copies_vs_one_copy: float  # fps ratio


class StreamsResult(StampedResult[PipelineMachine]):
    seconds: float
    repeats: int
    runs: list[StreamsRun]


# by benchmark name (benchmarks.NAMES); a variant's file, "pipeline-threads1.json", is read as its benchmark's
RESULT_MODELS: dict[str, type[BenchResult]] = {
    "ipc": IpcResult, "capture": CaptureResult, "inference": InferenceResult, "writer": WriterResult,
    "events": EventsResult, "pipeline": PipelineResult, "tracking": TrackingResult, "cameras": CamerasResult,
    "operator_view": OperatorViewResult,
    "tuning": TuningResult, "streams": StreamsResult,
}

