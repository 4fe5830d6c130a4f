#!/usr/bin/env python3
"""Benchmark of the events pipeline against per-frame detections, on the local Greengrass runtime.

    .venv/bin/python scripts/bench.py events [--noise-s 60] [--scene-frames N] [--multi-seconds 60]
                                             [--out docs/bench/events.json] [--plot docs/bench/events.png]

The runtime (root .local-greengrass/bench-events) runs the components from their built recipes with
their default settings (motion gate on, inference 2 threads keeping the newest pending frame per
camera, EventTracker as shipped), plus what a local runtime needs (the writer creates its tables and
the snapshot bucket in the stand-ins) and a writer report every second (its counters ride along).
Cameras are folder cameras replaying clips at 10 fps (benchmarks.event_clips):
  - ``static``: vtest.avi frame 0 held still with sensor noise for --noise-s, then all of vtest.avi;
  - ``cam1`` .. ``cam4``: vtest.avi from frames 0, 200, 400, 600 on, looping.

A. store ``events``: one capture of the whole static clip at 10 fps;
C. store ``events``: cam1..cam4 at 5 fps each, one capture per camera of --multi-seconds, all at once;
B. store ``detections``: the static clip again.
For A and B, per phase (noise, scene): frames taken, passed and gated; model invocations (frames
inferred); events started (in the noise phase: those that follow an object the model found in the
clip's first frame, and those from the noise); CPU seconds per minute of video of every process
(psutil, components, runtime daemon and stand-ins); DynamoDB items, bytes and writes and S3 objects
and bytes per minute of video. The phase of a frame or an item is its capture time (an event: its
first sighting). For C, per camera: frames expected, taken, served and the capture's accounting,
events published and stored; CPU of every process and the cores they used together.
Before the runtime starts, vtest.avi goes frame by frame through the components' frame path and tracker
(benchmarks.events_offline): the events and the item ratio with every frame served.
Targets: noise phase >= 95 % of frames gated and no event from noise; DynamoDB items per camera-hour
on vtest.avi in events mode <= 1/50 of detections mode; 4 cameras at 5 fps on 2 cores, nothing lost.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.event_clips import StaticClip, offset_clip, static_clip
from benchmarks.event_stats import (
    PHASES,
    Sample,
    Timeline,
    count_by_phase,
    delta,
    follows_still_object,
    frames_by_phase,
    items_bytes,
    per_hour,
    per_minute,
    snapshot_event_id,
)
from benchmarks.percentiles import percentile
from benchmarks.plots import save_figure
from benchmarks.results import (
    CameraResult,
    ClipUsed,
    EventsResult,
    EventsTargets,
    MultiCameraRun,
    OfflineTracking,
    PhaseResult,
    PipelineMachine,
    StaticClipRun,
)
from benchmarks.runtime_watch import CpuSampler, Device, WriterReports, open_device, stored_events
from local_device.overlay import LOCAL_SNAPSHOT_BUCKET, write_overlay
from local_device.process import LocalRuntime
from local_device.store import EVENTS_TABLE
from local_device.store import TABLE as DETECTIONS_TABLE
from local_device.video import VTEST, VTEST_FPS
from repo_layout import REPO_ROOT as REPO
from smartcam.contracts import CaptureStatus, TrackEvent

ROOT = REPO / ".local-greengrass" / "bench-events"
STATIC = "static"
OFFSETS = {"cam1": 0, "cam2": 200, "cam3": 400, "cam4": 600}
MULTI_FPS = 5.0
REPORT_INTERVAL_S = 1.0
IDLE_S = 15.0
TARGET_NOISE_GATED = 0.95
TARGET_ITEMS_RATIO = 1 / 50
TARGET_CORES = 2


def echo(line: str) -> None:
    print(line, flush=True)


def first_box(event: TrackEvent) -> tuple[float, float, float, float]:
    _, x1, y1, x2, y2 = event.path[0]
    return x1, y1, x2, y2


def writes_series(reports: WriterReports) -> list[Sample]:
    """DynamoDB write requests of the writer over time: items of BatchWriteItem + PutItem of events."""
    return [(at, {"writes": values["itemsWritten"] + values["eventsWritten"]})
            for at, values in reports.counters(("itemsWritten", "eventsWritten"))]


# the static clip ----------------------------------------------------------------------------------
def run_static(device: Device, clip: StaticClip, store: str) -> StaticClipRun:
    request_id = f"bench-{store}-{int(time.time())}"
    objects_before = device.snapshot_objects()
    with CpuSampler(device.processes()) as cpu:
        sent = time.time()
        device.operator.capture(STATIC, clip.frames, clip.fps, request_id)
        final = device.operator.wait_final(request_id, timeout=clip.seconds + 300)
        echo(f"  {final.reason}; accounting {final.accounting.model_dump() if final.accounting else None}")
        settled = device.wait_settled([request_id], final.at)
    frames = sorted((f for _, f in device.observer.frames(request_id) if not f.resent), key=lambda f: f.captured_at)
    if not frames:
        raise RuntimeError(f"no frame of {request_id} was seen: {final.reason}")
    timeline = Timeline(frames[0].captured_at, clip.noise_s, clip.fps)
    detections = {m.frame.frame_id: m for _, m in device.observer.detections(request_id)}
    events = device.events([request_id])
    latest = {event_id: max(messages, key=lambda m: m.sequence) for event_id, messages in events.items()}

    # The objects the model found in the clip's first frame: an event of the noise phase follows one of
    # them (a person standing in the still frame, kept seen by the gate's keep-alive frames) or came
    # from the noise.
    first = detections.get(frames[0].frame_id)
    still_boxes = [(d.box.x1, d.box.y1, d.box.x2, d.box.y2) for d in (first.detections if first else [])]
    started_in_noise = [e for e in latest.values() if timeline.phase(e.first_seen) == "noise"]
    from_noise = [e for e in started_in_noise if not (e.path and follows_still_object(first_box(e), still_boxes))]

    items = {table: device.table_items(table, request_id, sent - 1) for table in (EVENTS_TABLE, DETECTIONS_TABLE)}
    item_phase = {EVENTS_TABLE: lambda i: timeline.phase(float(i["first_seen"]["N"])),
                  DETECTIONS_TABLE: lambda i: timeline.phase(float(i["capturedAt"]["N"]))}
    in_scene = (sum(1 for i in items[EVENTS_TABLE] if float(i["last_seen"]["N"]) >= timeline.boundary)
                + sum(1 for i in items[DETECTIONS_TABLE] if timeline.phase(float(i["capturedAt"]["N"])) == "scene"))
    new_objects = {k: size for k, size in device.snapshot_objects().items() if k not in objects_before}
    taken = (final.frames_captured or 0) + (final.frames_gated or 0)
    by_phase = frames_by_phase(noise_frames=clip.noise_frames, taken=taken, gated=final.frames_gated or 0,
                               passed=count_by_phase((f.captured_at for f in frames), timeline))
    windows = {"noise": (sent, timeline.boundary), "scene": (timeline.boundary, settled)}
    writes = writes_series(device.reports)

    phases: dict[str, PhaseResult] = {}
    for phase in PHASES:
        video_s = by_phase[phase].taken / clip.fps
        phase_items = [i for table, rows in items.items() for i in rows if item_phase[table](i) == phase]
        phase_events = {e.event_id for e in latest.values() if timeline.phase(e.first_seen) == phase}
        phase_objects = [size for key, size in new_objects.items() if snapshot_event_id(key) in phase_events]
        cpu_s = {name: round(value, 3) for name, value in delta(cpu.samples, *windows[phase]).items()}
        write_count = round(delta(writes, *windows[phase]).get("writes", 0.0))
        size = items_bytes(phase_items)
        phases[phase] = PhaseResult(
            video_s=video_s, frames_taken=by_phase[phase].taken, frames_passed=by_phase[phase].passed,
            frames_gated=by_phase[phase].gated, gated_share=round(by_phase[phase].gated_share, 4),
            model_invocations=sum(1 for m in detections.values() if timeline.phase(m.frame.captured_at) == phase),
            events_started=len(phase_events), cpu_s=cpu_s,
            cpu_s_per_video_min={name: round(per_minute(v, video_s), 2) for name, v in cpu_s.items()},
            cpu_s_per_video_min_total=round(per_minute(sum(cpu_s.values()), video_s), 2),
            dynamodb_items=len(phase_items), dynamodb_bytes=size,
            dynamodb_items_per_min=round(per_minute(len(phase_items), video_s), 2),
            dynamodb_bytes_per_min=round(per_minute(size, video_s), 1),
            dynamodb_writes=write_count, dynamodb_writes_per_min=round(per_minute(write_count, video_s), 2),
            s3_objects=len(phase_objects), s3_bytes=sum(phase_objects),
            s3_objects_per_min=round(per_minute(len(phase_objects), video_s), 2),
            s3_bytes_per_min=round(per_minute(sum(phase_objects), video_s), 1),
        )
    return StaticClipRun(
        store=store, request_id=request_id, capture_state=final.state, frames_requested=clip.frames,
        frames_captured=final.frames_captured or 0, frames_gated=final.frames_gated or 0,
        accounting=final.accounting.model_dump() if final.accounting else {},
        phases=phases, events=len(latest), still_objects=len(still_boxes),
        events_started_in_noise=len(started_in_noise), events_from_noise=len(from_noise),
        events_seen_in_scene=sum(1 for e in latest.values() if e.last_seen >= timeline.boundary),
        event_duration_s_p50=round(percentile([e.duration_s for e in latest.values()], 50), 1),
        events_under_2s=sum(1 for e in latest.values() if e.duration_s < 2.0),
        scene_items_per_camera_hour=round(per_hour(in_scene, phases["scene"].video_s), 1),
        infer_ms_p50=round(percentile([m.latency.infer_ms for m in detections.values()
                                       if timeline.phase(m.frame.captured_at) == "scene"], 50), 1),
        settle_s=round(settled - (timeline.first_frame_at + taken / clip.fps), 1),
    )


# four cameras at once -----------------------------------------------------------------------------
def run_multi(device: Device, seconds: float) -> MultiCameraRun:
    stamp = int(time.time())
    request_ids = {camera: f"bench-multi-{camera}-{stamp}" for camera in OFFSETS}
    frames = round(MULTI_FPS * seconds)
    with CpuSampler(device.processes()) as cpu:
        started = time.time()
        for camera, request_id in request_ids.items():
            device.operator.capture(camera, frames, MULTI_FPS, request_id)
        finals = {camera: device.operator.wait_final(request_id, timeout=seconds + 300)
                  for camera, request_id in request_ids.items()}
        settled = device.wait_settled(list(request_ids.values()), max(f.at for f in finals.values()))
    cpu_s = {name: round(value, 3) for name, value in delta(cpu.samples, started, started + seconds).items()}
    cameras = [camera_result(device, camera, request_ids[camera], finals[camera], frames) for camera in OFFSETS]
    served = sum(c.frames_served for c in cameras)
    captured = sum(c.frames_captured for c in cameras)
    capture_cpu = cpu_s.get("smartcam.CameraIngest", 0.0)
    per_served_s = (sum(cpu_s.values()) - capture_cpu) / served if served else float("nan")
    infer_ms = [m.latency.infer_ms for request_id in request_ids.values()
                for _, m in device.observer.detections(request_id)]
    return MultiCameraRun(
        cameras=cameras, fps_per_camera=MULTI_FPS, seconds=seconds, cpu_s=cpu_s,
        cores_used=round(sum(cpu_s.values()) / seconds, 3),
        cpu_ms_per_served_frame=round(per_served_s * 1000, 1),
        cores_needed_to_serve_all=round((capture_cpu + per_served_s * captured) / seconds, 3),
        infer_ms_p50=round(percentile(infer_ms, 50), 1),
        settle_s=round(settled - (started + seconds), 1),
    )


def camera_result(device: Device, camera: str, request_id: str, final: CaptureStatus, expected: int) -> CameraResult:
    frames = sorted(f.captured_at for _, f in device.observer.frames(request_id) if not f.resent)
    accounting = final.accounting.model_dump() if final.accounting else {}
    captured = final.frames_captured or 0
    served = sum(accounting.get(k, 0) for k in ("stored", "summarized", "no_detections"))
    latest, stored, once_as_ended = stored_events(device, request_id)
    taken = captured + (final.frames_gated or 0)
    adds_up = bool(final.accounting) and sum(accounting.values()) == captured
    unaccounted = sum(accounting.get(k, 0) for k in ("lost", "expired", "refused", "pending"))
    nothing_lost = (final.state == "finished" and taken == expected and adds_up and unaccounted == 0
                    and once_as_ended)
    return CameraResult(
        camera=camera, offset_frame=OFFSETS[camera], request_id=request_id, capture_state=final.state,
        capture_s=round(frames[-1] - frames[0], 2) if frames else 0.0, frames_expected=expected,
        frames_taken=taken, frames_captured=captured, frames_gated=final.frames_gated or 0,
        frames_served=served, accounting=accounting, accounting_adds_up=adds_up,
        events_published=len(latest), events_stored=len(stored), events_stored_once_as_ended=once_as_ended,
        nothing_lost=nothing_lost, all_served=nothing_lost and served == captured,
    )


# the runtime ----------------------------------------------------------------------------------------
def deployment(clip: StaticClip, cameras: dict[str, Path], store: str) -> Path:
    static = {"id": STATIC, "source": {"type": "folder", "path": str(clip.folder), "fps": clip.fps}, "loop": False}
    replays = [{"id": camera, "source": {"type": "folder", "path": str(folder), "fps": VTEST_FPS}}
               for camera, folder in cameras.items()]
    merges = {
        "smartcam.CameraIngest": {"cameras": [static, *replays]},
        "smartcam.DynamoWriter": {"store": store, "createTableIfMissing": True, "snapshotBucket": LOCAL_SNAPSHOT_BUCKET,
                                  "createBucketIfMissing": True, "reportIntervalS": REPORT_INTERVAL_S},
    }
    return write_overlay(ROOT / "deployments" / f"{store}.json", merges, name="smartcam-bench-events")


def idle_cpu(device: Device) -> dict[str, float]:
    with CpuSampler(device.processes()) as cpu:
        started = time.time()
        time.sleep(IDLE_S)
        ended = time.time()
    return {name: round(per_minute(value, ended - started), 2)
            for name, value in delta(cpu.samples, started, ended).items()}


def every_frame_served(folder: Path) -> OfflineTracking:
    """benchmarks.events_offline on ``folder``, in a child process (a runtime's thread pool must not
    shape this process or the runtime it starts afterwards)."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.events_offline", str(folder)], capture_output=True,
                          text=True, check=False, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"the offline tracking failed:\n{done.stderr[-2000:]}")
    return OfflineTracking.model_validate_json(done.stdout.strip().splitlines()[-1])


@dataclass
class Measured:
    clip: StaticClip
    offline: OfflineTracking
    idle: dict[str, float]
    runs: dict[str, StaticClipRun]
    multi: MultiCameraRun


def measure(args: argparse.Namespace) -> Measured:
    echo("clips ...")
    clip = static_clip(ROOT / "clips", noise_s=args.noise_s, scene_frames=args.scene_frames)
    cameras = {camera: offset_clip(ROOT / "clips", offset) for camera, offset in OFFSETS.items()}
    echo("vtest.avi with every frame served, outside the runtime ...")
    offline = every_frame_served(cameras["cam1"])  # offset 0: vtest.avi as it is
    echo(offline.model_dump_json())
    runtime = LocalRuntime(ROOT, echo=lambda line: echo(f"  {line}"))
    runtime.down()
    device: Device | None = None
    try:
        runtime.up(deployment(clip, cameras, "events"))
        device = open_device(runtime, client_prefix="bench-events")
        # The observer (this process) yields the CPU to the pipeline it measures.
        os.nice(10)
        echo("warm-up: 3 s of cam1 (creates the tables and the bucket, warms every stage) ...")
        device.operator.capture("cam1", 15, MULTI_FPS, "bench-warmup")
        warmup = device.operator.wait_final("bench-warmup", timeout=240)
        device.wait_settled(["bench-warmup"], warmup.at)
        echo(f"idle for {IDLE_S:g} s ...")
        idle = idle_cpu(device)
        runs: dict[str, StaticClipRun] = {}
        echo(f"A: store events, the static clip ({clip.seconds:g} s) ...")
        runs["events"] = run_static(device, clip, "events")
        echo(runs["events"].model_dump_json())
        echo(f"C: store events, {len(OFFSETS)} cameras at {MULTI_FPS:g} fps for {args.multi_seconds:g} s ...")
        multi = run_multi(device, args.multi_seconds)
        echo(multi.model_dump_json())
        runtime.deploy(deployment(clip, cameras, "detections"))
        time.sleep(3)
        echo(f"B: store detections, the static clip ({clip.seconds:g} s) ...")
        runs["detections"] = run_static(device, clip, "detections")
        echo(runs["detections"].model_dump_json())
    finally:
        if device is not None:
            device.close()
        runtime.down()
    return Measured(clip, offline, idle, runs, multi)


def summarize(measured: Measured, *, loadavg_at_start: tuple[float, float, float], argv: list[str]) -> EventsResult:
    clip, runs, multi = measured.clip, measured.runs, measured.multi
    events, detections = runs["events"], runs["detections"]
    noise = events.phases["noise"]
    ratio = (events.scene_items_per_camera_hour / detections.scene_items_per_camera_hour
             if detections.scene_items_per_camera_hour else float("nan"))
    nothing_lost = all(camera.nothing_lost for camera in multi.cameras)
    return EventsResult(
        command=".venv/bin/python scripts/bench.py events " + " ".join(argv),
        when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        machine=PipelineMachine(cpus=os.cpu_count(), platform=platform.platform(), python=platform.python_version(),
                                loadavg_at_end=os.getloadavg()),
        loadavg_at_start=loadavg_at_start,
        clip=ClipUsed(source=str(VTEST), still_frame=clip.still_frame, noise_s=clip.noise_s, sigma=clip.sigma,
                      fps=clip.fps, noise_frames=clip.noise_frames, scene_frames=clip.scene_frames,
                      jpeg_quality=clip.jpeg_quality),
        idle_cpu_s_per_min=measured.idle, runs=runs, every_frame_served=measured.offline, multi_camera=multi,
        targets=EventsTargets(
            noise_gated_share=noise.gated_share, noise_gated_share_target=TARGET_NOISE_GATED,
            noise_gated_share_met=noise.gated_share >= TARGET_NOISE_GATED,
            events_from_noise=events.events_from_noise, events_from_noise_met=events.events_from_noise == 0,
            scene_items_ratio=round(ratio, 4), scene_items_ratio_target=round(TARGET_ITEMS_RATIO, 4),
            scene_items_ratio_met=ratio <= TARGET_ITEMS_RATIO,
            cameras=len(multi.cameras), fps_per_camera=multi.fps_per_camera,
            multi_camera_cores_used=multi.cores_used,
            multi_camera_cores_needed_to_serve_all=multi.cores_needed_to_serve_all, multi_camera_cores=TARGET_CORES,
            multi_camera_nothing_lost=nothing_lost,
            multi_camera_all_served=all(camera.all_served for camera in multi.cameras),
        ),
        notes="Component defaults except what the local runtime needs (tables and bucket created on first use) and "
              "a writer report every second. Cameras are folders of JPEGs (quality 95) replayed at 10 fps. The "
              "noise phase is the clip's first noise_s from its first frame's capture time; items, frames and "
              "events belong to the phase of their capture time (an event: its first sighting). An event of the "
              "noise phase is 'from noise' unless its first box overlaps (IoU >= 0.5) an object the model found "
              "in the clip's first frame: people standing in the still frame are kept seen by the gate's "
              "keep-alive frames and become events by design. The ratio counts, per camera-hour of the scene, "
              "event items seen in the scene (those started in the noise phase included) against detection "
              "items captured in it. Item bytes by DynamoDB's size rules, without the 100 B per item of "
              "storage and index copies. The scene's CPU runs until the writer had stored everything (events "
              "end 10 s after their object was last seen). Served: inferred and its outcome kept; inference keeps the "
              "newest pending frame per camera (its default), so a frame it cannot reach in time is dropped "
              "(accounted, not lost). cores_needed_to_serve_all extrapolates: CameraIngest's CPU (its work is per "
              "frame taken) + every other process's CPU per served frame x the frames captured. The stand-ins run "
              "at nice 10, this observer too; the machine is shared with other jobs, see the load averages.",
    )


# the plot -----------------------------------------------------------------------------------------
def plot(result: EventsResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    modes = list(result.runs)
    width = 0.38
    ax = axes[0]
    for index, mode in enumerate(modes):
        values = [result.runs[mode].phases[p].dynamodb_items_per_min for p in PHASES]
        bars = ax.bar([x + (index - 0.5) * width for x in range(len(PHASES))], [max(v, 0.01) for v in values],
                      width, label=f"store {mode}")
        ax.bar_label(bars, labels=[f"{v:.1f}" for v in values], fontsize=8)
    ax.set_xticks(range(len(PHASES)), ["noise (still + sensor noise)", "scene (vtest.avi)"])
    ax.set(ylabel="items per minute of video (log)", yscale="log", title="DynamoDB items, one camera")
    ax.legend(fontsize=8)

    ax = axes[1]
    labels = [f"{mode}\n{phase}" for mode in modes for phase in PHASES]
    processes = sorted({name for mode in modes for p in PHASES for name in result.runs[mode].phases[p].cpu_s})
    bottoms = [0.0] * len(labels)
    for name in processes:
        values = [result.runs[mode].phases[p].cpu_s_per_video_min.get(name, 0.0) for mode in modes for p in PHASES]
        ax.bar(labels, values, bottom=bottoms, label=name.removeprefix("smartcam."))
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    ax.set(ylabel="CPU s per minute of video", title="CPU by process (store mode, phase)")
    ax.set_ylim(top=max(bottoms) * 1.45)
    ax.legend(fontsize=7, ncol=2, loc="upper left")

    ax = axes[2]
    multi = result.multi_camera
    names = [c.camera for c in multi.cameras]
    for index, (key, label) in enumerate((("frames_expected", "expected"), ("frames_taken", "taken"),
                                          ("frames_served", "served (inferred, stored)"))):
        ax.bar([x + (index - 1) * 0.27 for x in range(len(names))], [getattr(c, key) for c in multi.cameras], 0.27,
               label=label)
    ax.set_xticks(range(len(names)), names)
    ax.set(ylabel="frames", title=f"{len(names)} cameras x {multi.fps_per_camera:g} fps, {multi.seconds:g} s: "
                                  f"{multi.cores_used:.2f} cores")
    ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(f"smartcam events vs per-frame detections on the local Greengrass runtime "
                 f"({result.machine.cpus} CPUs, shared)")
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--noise-s", type=float, default=60.0, help="seconds of the still frame with sensor noise")
    parser.add_argument("--scene-frames", type=int, default=None, help="frames of vtest.avi after the noise (all)")
    parser.add_argument("--multi-seconds", type=float, default=60.0, help="length of the four-camera capture")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "bench" / "events.json")
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "bench" / "events.png")
    args = parser.parse_args(argv)
    loadavg_at_start = os.getloadavg()
    result = summarize(measure(args), loadavg_at_start=loadavg_at_start,
                       argv=argv if argv is not None else sys.argv[1:])
    result.write(args.out)
    plot(result, args.plot)
    print(result.targets.model_dump_json(indent=2))
    print(f"wrote {args.out} and {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
