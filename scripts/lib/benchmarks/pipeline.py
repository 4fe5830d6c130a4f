#!/usr/bin/env python3
"""Benchmark of the whole pipeline on the local Greengrass runtime, against the standalone model.

    .venv/bin/python scripts/bench.py pipeline [--rates 5,10,20,30,45,60,75,90] [--seconds 15] [--threads 2]
                                               [--streams 1] [--pin-inference]
                                               [--out docs/bench/pipeline.json] [--plot docs/bench/pipeline.png]

1. Standalone model: the component's frame path (ssd_inference.frame_path) with the packaged model on
   the same backend and threads, on the photos of people as 640x480 raw frames in a frame ring: prepare
   (read the slot resized to the model input, preprocess) + infer per frame, back to back, in a child
   process, before the runtime starts (nothing else of ours competes for the cores); and the process
   CPU time inside the model per frame.
2. Pipeline: the runtime (root .local-greengrass/bench) with the four components from their built
   recipes and their default settings; a folder camera of the three photos with people; for each
   input rate an operator capture command over MQTT for --seconds. Inference keeps its default drop
   policy (only the newest pending frame per camera), so an input faster than the model shows as
   dropped frames, not a growing queue.
   - sustained fps: frames stored / capture duration;
   - end-to-end latency: capture timestamp (FrameRef.captured_at, wall clock) -> DynamoDB accepted
     the item (the writer's report on IoT Core, confirmed[].at); every item is then read back once;
   - per-stage times from the items (latencyMs) and CPU ms per stored frame of every process, and the
     same outside the model (SsdInference's less the standalone model's CPU ms per frame);
   - RSS of each component's process (max over the run, psutil).
--pin-inference deploys each component with a cpuAffinity: SsdInference on the last CPU this process may
use, the other components on the others; once they run, the runtime's daemon and stand-ins go to the others
too (a cloud service costs a device no CPU; pinned earlier, the components would inherit their mask). The
placement goes into the result's cpu_affinity.
Targets (issue 15): pipeline fps >= 95% of the standalone model's with 1 inference thread, >= 80% with 2
or more; e2e p50 <= model latency + 15 ms at 10 fps. The highest rate is above the standalone model's fps
with one thread, so the pipeline's own ceiling shows, not the input's.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import cv2
import psutil

from benchmarks.percentiles import percentile
from benchmarks.plots import save_figure
from benchmarks.results import PipelineMachine, PipelineResult, PipelineRun, PipelineTargets, StandaloneModel
from local_device.observe import Operator, WriterReportFeed
from local_device.overlay import pipeline_merges, write_overlay
from local_device.process import LocalRuntime
from local_device.store import items_for_request, table
from local_device.video import copy_people
from local_greengrass.standins.dynamodb_local import is_dynamodb_local
from local_greengrass.standins.s3 import is_s3_server
from repo_layout import REPO_ROOT as REPO
from smartcam.contracts import FrameRef, WriterReport, parse
from smartcam.frames import FrameRing, frame_base
from ssd_inference.engine import Engine, PreparedModel
from ssd_inference.frame_path import FramePath, selection_for

MODEL_DIR = REPO / "components" / "SsdModelStore" / "model"
ROOT = REPO / ".local-greengrass" / "bench"
COMPONENTS = ("smartcam.CameraIngest", "smartcam.SsdInference", "smartcam.DynamoWriter")
# Placed on the CPUs SsdInference leaves by --pin-inference: every other component of the deployment.
BESIDE_INFERENCE = ("smartcam.CameraIngest", "smartcam.DynamoWriter", "smartcam.EventTracker", "smartcam.OperatorView")
REPORT_INTERVAL_S = 0.5
TARGET_FPS_RATIO_ONE_THREAD = 0.95
# More threads take the cores the other processes need too: with as many threads as cores, the standalone
# model has the machine to itself and the pipeline cannot.
TARGET_FPS_RATIO_MORE_THREADS = 0.80
TARGET_LATENCY_MARGIN_MS = 15.0


def target_fps_ratio(threads: int, streams: int = 1) -> float:
    """By the model's threads in all: one leaves the other cores to the rest of the pipeline."""
    return TARGET_FPS_RATIO_ONE_THREAD if threads * streams <= 1 else TARGET_FPS_RATIO_MORE_THREADS


def standalone_model(backend: str, threads: int, frames: int, streams: int = 1) -> StandaloneModel:
    """Measured in a child process: a runtime's thread pool (TVM pins the calling thread to a core
    with one thread) must not shape this process or the runtime it starts afterwards."""
    command = [sys.executable, __file__, "--standalone-only", "--backend", backend, "--threads", str(threads),
               "--streams", str(streams), "--model-frames", str(frames)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"standalone model measurement failed:\n{done.stderr[-2000:]}")
    return StandaloneModel.model_validate_json(done.stdout.strip().splitlines()[-1])


def standalone_frames(engine: Engine, ring_root: Path, people: Path) -> tuple[FramePath, list[FrameRef]]:
    """The component's frame path and the camera's photos as 640x480 raw frames in a ring under ``ring_root``."""
    path = FramePath(engine, ring_root, selection_for(engine, score_threshold=0.5, nms_iou_threshold=0.45,
                                                      max_detections=10, tracking_score_threshold=0.1))
    ring = FrameRing(ring_root, "standalone", capacity=16)
    refs = [ring.write(cv2.imread(str(jpeg), cv2.IMREAD_COLOR), size=(640, 480), captured_at=time.time(),
                       captured_monotonic_ns=time.monotonic_ns()) for jpeg in sorted(people.glob("*.jpg"))]
    return path, refs


def measure_standalone_model(backend: str, threads: int, frames: int, streams: int = 1) -> StandaloneModel:
    if streams > 1:
        return measure_standalone_streams(backend, threads, frames, streams)
    people = copy_people(ROOT / "bench-camera")
    engine = Engine.start(PreparedModel.load(MODEL_DIR), backend, threads, fall_back=False)
    # The component's own frame path on the camera's frames (640x480 raw frames in a frame ring), without
    # the pipeline around it: prepare (slot read + resize, preprocess) and infer, back to back.
    with tempfile.TemporaryDirectory(prefix="bench-standalone-", dir=frame_base()) as ring_root:
        path, refs = standalone_frames(engine, Path(ring_root), people)
        try:
            for ref in refs * 2:  # warm-up
                path.infer(path.prepare(ref))
            infer_ms, total_ms = [], []
            model_cpu_s = 0.0
            started = time.perf_counter()
            for index in range(frames):
                prepared = path.prepare(refs[index % len(refs)])
                cpu_before = time.process_time()
                inferred = path.infer(prepared)
                # the backend's CPU time on all its threads, less the box decoding (single-threaded Python)
                model_cpu_s += time.process_time() - cpu_before - inferred.postprocess_ms / 1000
                infer_ms.append(inferred.infer_ms)
                total_ms.append(inferred.prepared.read_ms + inferred.prepared.preprocess_ms + inferred.infer_ms)
            elapsed = time.perf_counter() - started
        finally:
            engine.close()
    return StandaloneModel(backend=engine.backend_name, threads=threads, frames=frames,
                           fps=frames / elapsed, infer_ms_p50=statistics.median(infer_ms),
                           preprocess_plus_infer_ms_p50=statistics.median(total_ms),
                           infer_ms_p99=percentile(infer_ms, 99),
                           model_cpu_ms_per_frame=round(model_cpu_s * 1000 / frames, 2))


class StoredTimes:
    """When DynamoDB accepted each item, from the writer's reports on IoT Core (``confirmed[].at``,
    taken as BatchWriteItem returned), collected over MQTT with the operator identity. Nothing polls
    the table while a run lasts: DynamoDB Local spends ~15 ms of CPU per request, and polling it
    often enough for a precise time took half a core away from the pipeline being measured."""

    def __init__(self, runtime: LocalRuntime, thing: str) -> None:
        self.stored_at: dict[str, float] = {}
        self._feed = WriterReportFeed(runtime, thing, self._on_report, client_prefix="bench")

    def _on_report(self, payload: bytes) -> None:
        for key, at in stored_times(payload).items():
            self.stored_at.setdefault(key, at)

    def close(self) -> None:
        self._feed.close()


def stored_times(payload: bytes) -> dict[str, float]:
    """A writer report's confirmations: item sort key -> when DynamoDB accepted it (ContractError if
    the payload is not a writer report)."""
    return {entry.sk: entry.at for entry in parse(WriterReport, payload).confirmed}


class RssSampler:
    def __init__(self, runtime: LocalRuntime) -> None:
        self.runtime = runtime
        self.max_mb: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():  # not started when the runtime failed to come up: its error is the one to see
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            for component in COMPONENTS:
                process = self.runtime.component_process(component)
                if process is None:
                    continue
                with contextlib.suppress(psutil.Error):  # it may have just exited
                    mb = process.memory_info().rss / 2**20
                    self.max_mb[component] = max(self.max_mb.get(component, 0.0), mb)


def runtime_processes(runtime: LocalRuntime, components: tuple[str, ...] = COMPONENTS) -> dict[str, psutil.Process]:
    """``components`` and what the local runtime itself runs (daemon, stand-ins), by role."""
    found = {name: p for name in components if (p := runtime.component_process(name)) is not None}
    root = str(runtime.root)
    for process in psutil.process_iter(["cmdline", "cwd"]):
        cmdline = process.info.get("cmdline") or []
        line = " ".join(cmdline)
        if root not in line and root not in (process.info.get("cwd") or ""):
            continue
        if is_dynamodb_local(cmdline):
            found["DynamoDB Local (stand-in)"] = process
        elif is_s3_server(cmdline):  # before the daemon: its command line names local_greengrass too
            found["S3 (stand-in)"] = process
        elif "mosquitto" in line and "-c" in line:
            found["mosquitto (stand-in)"] = process
        elif "local_greengrass" in line or "local-greengrass" in line:
            found.setdefault("local Greengrass daemon", process)
    return found


def cpu_seconds(processes: dict[str, psutil.Process]) -> dict[str, float]:
    used = {}
    for name, process in processes.items():
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            used[name] = times.user + times.system
    return used


def run_rate(operator: Operator, stored: StoredTimes, store: Any, thing: str, *, rate: float, seconds: float,
             processes: dict[str, psutil.Process], model_cpu_ms: float | None = None) -> PipelineRun:
    frames = max(2, round(rate * seconds))
    request_id = f"bench-{int(rate * 10)}-{int(time.time())}"
    since_ms = int(time.time() * 1000) - 1000
    cpu_before = cpu_seconds(processes)
    operator.capture("cam0", frames, rate, request_id)
    final = operator.wait_final(request_id, timeout=seconds * 4 + 120)
    if not final.frames_captured:
        raise SystemExit(f"capture {request_id} at {rate:g} fps captured nothing: {final.state} "
                         f"{final.model_dump_json(exclude_none=True)}")
    # Then until no confirmation arrived for 5 s (reports come every REPORT_INTERVAL_S).
    count, changed = -1, time.monotonic()
    while time.monotonic() - changed < 5.0:
        if len(stored.stored_at) != count:
            count, changed = len(stored.stored_at), time.monotonic()
        time.sleep(0.2)
    cpu_after = cpu_seconds(processes)
    items = items_for_request(store, thing, request_id, since_ms)
    frame_items = {str(item["frameId"]): item for item in items}
    timed = [(stored.stored_at[str(item["sk"])], item) for item in frame_items.values()
             if str(item["sk"]) in stored.stored_at]
    seen = [item for _, item in timed]
    stages = {stage: percentile([float(i["latencyMs"][stage]) for i in seen if stage in i["latencyMs"]], 50)
              for stage in ("queue", "read", "preprocess", "infer", "postprocess")}
    latencies = [(at - float(item["capturedAt"])) * 1000 for at, item in timed]
    to_inferred = [(float(item["inferredAt"]) - float(item["capturedAt"])) * 1000 for item in seen]
    to_stored = [(at - float(item["inferredAt"])) * 1000 for at, item in timed]
    captured = final.frames_captured or 0
    duration = captured / rate if captured else seconds
    # CPU time of each process over the run (capture + drain) per frame stored.
    cpu_ms = {name: round((cpu_after[name] - cpu_before[name]) * 1000 / max(1, len(seen)), 1)
              for name in cpu_after if name in cpu_before}
    return PipelineRun(
        input_fps=rate, frames_requested=frames, frames_captured=captured,
        frames_stored=len(frame_items), frames_dropped=captured - len(frame_items),
        stored_without_confirmation=len(frame_items) - len(timed), capture_seconds=duration,
        pipeline_fps=len(frame_items) / duration,
        e2e_ms_p50=percentile(latencies, 50), e2e_ms_p99=percentile(latencies, 99),
        # The two halves of e2e: up to the end of inference (item inferredAt), then spool + write.
        capture_to_inferred_ms_p50=percentile(to_inferred, 50),
        inferred_to_stored_ms_p50=percentile(to_stored, 50),
        stage_ms_p50={k: round(v, 2) for k, v in stages.items()},
        capture_state=final.state,
        cpu_ms_per_stored_frame=cpu_ms,
        cpu_ms_outside_model_per_frame=None if model_cpu_ms is None else {
            name: round(ms - model_cpu_ms, 1) if name == "smartcam.SsdInference" else ms
            for name, ms in cpu_ms.items()},
    )


def plot(result: PipelineResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = result.runs
    rates = [r.input_fps for r in runs]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    ax = axes[0]
    ax.plot(rates, [r.pipeline_fps for r in runs], "o-", label="pipeline (stored frames/s)")
    ax.plot(rates, rates, ":", color="grey", label="input")
    ax.axhline(result.model.fps, color="tab:red", ls="--", label="standalone model")
    ratio = result.targets.pipeline_fps_vs_model_target
    ax.axhline(result.model.fps * ratio, color="tab:red", ls=":", label=f"{ratio:.0%} of model")
    ax.set(xlabel="input fps", ylabel="fps", title="Sustained throughput")
    ax.legend(fontsize=8)
    ax = axes[1]
    ax.plot(rates, [r.e2e_ms_p50 for r in runs], "o-", label="e2e p50")
    ax.plot(rates, [r.e2e_ms_p99 for r in runs], "s-", label="e2e p99")
    ax.axhline(result.model.preprocess_plus_infer_ms_p50 + TARGET_LATENCY_MARGIN_MS, color="tab:red",
               ls="--", label=f"model + {TARGET_LATENCY_MARGIN_MS:.0f} ms")
    ax.set(xlabel="input fps", ylabel="ms (capture -> stored)", title="End-to-end latency", yscale="log")
    ax.legend(fontsize=8)
    ax = axes[2]
    names = list(result.rss_mb_max)
    ax.bar([n.removeprefix("smartcam.") for n in names], [result.rss_mb_max[n] for n in names])
    ax.set(ylabel="MB", title="Max RSS per component")
    fig.suptitle(f"smartcam pipeline on the local Greengrass runtime ({result.machine.cpus} CPUs, "
                 f"{result.model.backend}, {result.model.threads} inference threads"
                 + (f" x {result.model.streams} streams" if result.model.streams else "") + ")")
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="5,10,20,30,45,60,75,90")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--model-frames", type=int, default=90)
    parser.add_argument("--backend", default="dlr", help="the component's choice here (auto = dlr on x86_64)")
    parser.add_argument("--threads", type=int, default=2, help="the component's inference threads")
    parser.add_argument("--streams", type=int, default=1, help="the component's streams (copies of the model)")
    parser.add_argument("--pin-inference", action="store_true",
                        help="cpuAffinity: SsdInference on the last CPU, the other components on the others")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "bench" / "pipeline.json")
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "bench" / "pipeline.png")
    parser.add_argument("--standalone-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.standalone_only:
        print(measure_standalone_model(args.backend, args.threads, args.model_frames, args.streams).model_dump_json())
        return 0
    rates = [float(r) for r in args.rates.split(",")]
    if args.pin_inference and len(os.sched_getaffinity(0)) < 2:
        parser.error("--pin-inference needs at least 2 CPUs")

    print("standalone model ...", flush=True)
    model = standalone_model(args.backend, args.threads, args.model_frames, args.streams)
    print(model.model_dump_json(), flush=True)
    runs, rss, placed = measure_pipeline(args, rates, model.model_cpu_ms_per_frame)
    result = summarize(model, runs, rss, argv if argv is not None else sys.argv[1:], placed or None)
    result.write(args.out)
    plot(result, args.plot)
    print(result.targets.model_dump_json(indent=2))
    print(f"wrote {args.out} and {args.plot}")
    return 0


def measure_standalone_streams(backend: str, threads: int, frames: int, streams: int) -> StandaloneModel:
    """Like :func:`measure_standalone_model` with ``streams`` copies of the model, each driven flat out by its
    own thread (prepare + infer, as SsdInference's stream threads and worker share it). The model's CPU is the
    process's over the run less the single-threaded Python around the model (read, preprocess, decode)."""
    people = copy_people(ROOT / "bench-camera")
    engine = Engine.start(PreparedModel.load(MODEL_DIR), backend, threads, fall_back=False, streams=streams)
    with tempfile.TemporaryDirectory(prefix="bench-standalone-", dir=frame_base()) as ring_root:
        path, refs = standalone_frames(engine, Path(ring_root), people)
        infers: list[Any] = []
        lock = threading.Lock()

        def run(index: int, count: int) -> None:
            for i in range(count):
                inferred = path.infer(path.prepare(refs[(i + index) % len(refs)]))
                with lock:
                    infers.append(inferred)

        def in_threads(count: int) -> None:
            workers = [threading.Thread(target=run, args=(i, count)) for i in range(streams)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()

        try:
            in_threads(len(refs) * 2)  # warm-up
            infers.clear()
            per_stream = max(1, frames // streams)
            cpu_before, started = time.process_time(), time.perf_counter()
            in_threads(per_stream)
            elapsed, cpu_s = time.perf_counter() - started, time.process_time() - cpu_before
        finally:
            engine.close()
    done = len(infers)
    around_s = sum(i.prepared.read_ms + i.prepared.preprocess_ms + i.postprocess_ms for i in infers) / 1000
    infer_ms = [i.infer_ms for i in infers]
    return StandaloneModel(backend=engine.backend_name, threads=threads, frames=done, fps=done / elapsed,
                           infer_ms_p50=statistics.median(infer_ms),
                           preprocess_plus_infer_ms_p50=statistics.median(
                               i.prepared.read_ms + i.prepared.preprocess_ms + i.infer_ms for i in infers),
                           infer_ms_p99=percentile(infer_ms, 99),
                           model_cpu_ms_per_frame=round((cpu_s - around_s) * 1000 / done, 2), streams=streams)


def inference_pinned(cpus: Iterable[int]) -> dict[str, list[int]]:
    """cpuAffinity by component: SsdInference alone on the last of ``cpus`` (2 or more), the others on the rest.

    The components inherit the runtime's CPUs, which are this process's: it starts the runtime."""
    ordered = sorted(cpus)
    return {"smartcam.SsdInference": ordered[-1:], **{name: ordered[:-1] for name in BESIDE_INFERENCE}}


def pin_runtime_beside_inference(runtime: LocalRuntime) -> dict[str, list[int]]:
    """The runtime's daemon and stand-ins, every thread, on the CPUs --pin-inference leaves the components
    beside SsdInference; by role, the CPUs each got."""
    cpus = inference_pinned(os.sched_getaffinity(0))["smartcam.CameraIngest"]
    placed = {}
    for role, process in runtime_processes(runtime, components=()).items():
        with contextlib.suppress(psutil.Error):
            for thread in process.threads():
                with contextlib.suppress(ProcessLookupError):  # a thread that ended meanwhile
                    os.sched_setaffinity(thread.id, cpus)
            placed[role] = cpus
    return placed


def bench_deployment(args: argparse.Namespace, rates: list[float]) -> Path:
    people = copy_people(ROOT / "bench-camera")
    # The motion gate is off: this measures the pipeline at the rate asked, every frame a cut to another photo.
    camera = {"id": "cam0", "source": {"type": "folder", "path": str(people), "fps": max(rates)}, "width": 640,
              "height": 480, "loop": True, "motion": {"enabled": False}}
    # The ring is on tmpfs (/dev/shm) as on a device, private to the benchmark's runtime: both derive it.
    merges = pipeline_merges(camera=camera, pending_per_camera=1)
    merges["smartcam.CameraIngest"]["limits"] = {"maxFps": max(rates),
                                                  "maxFrames": max(2, round(max(rates) * args.seconds))}
    merges["smartcam.SsdInference"].update(backend=args.backend, threads=args.threads, streams=args.streams,
                                           iotSummary={"includeEmpty": False})
    merges["smartcam.DynamoWriter"]["reportIntervalS"] = REPORT_INTERVAL_S
    if args.pin_inference:
        for component, cpus in inference_pinned(os.sched_getaffinity(0)).items():
            merges.setdefault(component, {})["cpuAffinity"] = cpus
    return write_overlay(ROOT / "bench" / "deployment.json", merges, name="smartcam-bench")


def measure_pipeline(args: argparse.Namespace, rates: list[float], model_cpu_ms: float | None
                     ) -> tuple[list[PipelineRun], dict[str, float], dict[str, list[int]]]:
    """The runs, the peak RSS by component, and the CPUs of each process --pin-inference placed (else {})."""
    runtime = LocalRuntime(ROOT, echo=lambda line: print(f"  {line}", flush=True))
    runtime.down()
    document = bench_deployment(args, rates)
    runs = []
    placed: dict[str, list[int]] = {}
    operator = stored = None
    sampler = RssSampler(runtime)
    try:
        runtime.up(document)
        if args.pin_inference:
            placed = {**inference_pinned(os.sched_getaffinity(0)), **pin_runtime_beside_inference(runtime)}
        thing = runtime.thing_name()
        store = table(runtime.dynamodb_endpoint())
        operator = Operator(runtime)
        stored = StoredTimes(runtime, thing)
        operator.capture("cam0", 3, 2.0, "bench-warmup")  # creates the table, warms every stage
        operator.wait_final("bench-warmup", timeout=180)
        # The observer (this process) yields the CPU to the pipeline it measures; the components were
        # started by the runtime's daemon, which keeps its own priority.
        os.nice(10)
        time.sleep(5)
        sampler.start()
        for rate in rates:
            print(f"input {rate:g} fps for {args.seconds:g} s ...", flush=True)
            run = run_rate(operator, stored, store, thing, rate=rate, seconds=args.seconds,
                           processes=runtime_processes(runtime), model_cpu_ms=model_cpu_ms)
            print(run.model_dump_json(), flush=True)
            runs.append(run)
    finally:
        sampler.stop()
        for connection in (operator, stored):
            if connection is not None:
                connection.close()
        runtime.down()
    return runs, sampler.max_mb, placed


def summarize(model: StandaloneModel, runs: list[PipelineRun], rss: dict[str, float],
              argv: list[str], cpu_affinity: dict[str, list[int]] | None = None) -> PipelineResult:
    at_10 = next((r for r in runs if r.input_fps == 10.0), None)
    best = max(r.pipeline_fps for r in runs)
    return PipelineResult(
        command=".venv/bin/python scripts/bench.py pipeline " + " ".join(argv),
        when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        machine=PipelineMachine(cpus=os.cpu_count(), platform=platform.platform(), python=platform.python_version(),
                                loadavg_at_end=os.getloadavg()),
        model=model,
        runs=runs,
        rss_mb_max={k: round(v, 1) for k, v in sorted(rss.items())},
        cpu_affinity=cpu_affinity,
        targets=PipelineTargets(
            pipeline_fps_max=best,
            pipeline_fps_vs_model=best / model.fps,
            pipeline_fps_vs_model_target=target_fps_ratio(model.threads, model.streams or 1),
            e2e_p50_ms_at_10fps=at_10.e2e_ms_p50 if at_10 else None,
            e2e_p50_target_ms=model.preprocess_plus_infer_ms_p50 + TARGET_LATENCY_MARGIN_MS,
        ),
        notes="component defaults except: a folder camera at the highest rate, the ring in a private "
              "/dev/shm folder, writer reports every 0.5 s (they carry the stored times). Inference keeps only "
              "the newest pending frame (its default), so an input faster than the model shows as dropped "
              "frames. Stored = DynamoDB accepted the item (writer report confirmed[].at). The stand-ins "
              "run at nice 10, this observer too. The machine is shared, see loadavg_at_end."
              + (" --pin-inference: each process on the CPUs in cpu_affinity (the components by their "
                 "cpuAffinity, the runtime's daemon and stand-ins by the benchmark once they run)."
                 if cpu_affinity else ""),
    )


if __name__ == "__main__":
    sys.exit(main())
