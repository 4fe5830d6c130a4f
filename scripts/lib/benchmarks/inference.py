#!/usr/bin/env python3
"""Benchmark of smartcam.SsdInference: the same model and frames on DLR, onnxruntime and LiteRT.

Every DLR build of the model this CPU can run is measured (rows named by their model.json key:
``dlr-x86-64`` baseline, ``dlr`` AVX2+FMA, ``dlr-avx512``); the checks compare the one SsdInference picks
here (the most demanding) with the fastest runtime.

    .venv/bin/python scripts/bench.py inference [--frames 60] [--threads 1,2] [--size 640x480]
                                                [--out docs/bench/inference.json] [--plot docs/bench/inference.png]

The packaged sample model (components/SsdModelStore/model) runs on the photos in tests/model_packaging/images,
resized to --size as camera frames into a real frame ring (smartcam.frames: raw BGR slots) on tmpfs
when available. Every frame goes through the component's own code path, timed per stage:
read (the ring slot, resized straight to the model input), preprocess (normalize, layout), infer (the backend alone),
postprocess (box decode + NMS + Detection objects), publish (Detections message + IoT summary,
validated and JSON-encoded through smartcam.ipc.Ipc with a client stub that serializes the payload
like the SDK does, without a socket). Backends run in alternating blocks so a change in machine
load hits all of them alike. Reports median and p90 per stage and backend, the component's
overhead (read + preprocess + postprocess + publish) as a share of model time, and DLR's median
relative to the fastest backend. Each thread count runs in its own process (TVM's thread pool is
sized once per process).
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import subprocess  # nosec B404
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks.plots import save_figure
from benchmarks.results import (
    BackendTimes,
    FramesUsed,
    InferenceChecks,
    InferenceMachine,
    InferenceResult,
    InferenceRun,
    InferenceTargets,
    MedianP90,
    ModelUsed,
)
from repo_layout import REPO_ROOT as REPO
from smartcam import topics
from smartcam.contracts import FrameRef
from smartcam.frames import FrameRing, frame_base
from smartcam.ipc import Ipc
from ssd_inference.backends.cpu_variants import cpu_flags, runnable_builds
from ssd_inference.backends.dlr_backend import DlrBackend
from ssd_inference.engine import Engine, PreparedModel
from ssd_inference.frame_path import FramePath, selection_for
from ssd_inference.iot_summary import summarize

MODEL_DIR = REPO / "components" / "SsdModelStore" / "model"
IMAGES = REPO / "tests" / "model_packaging" / "images"
BACKENDS = ("dlr", "onnxruntime", "litert", "onnxruntime-int8")
LOWER_PRECISION = ("onnxruntime-int8",)  # measured, but never the "fastest fp32" the ratios compare with
STAGES = ("read", "preprocess", "infer", "postprocess", "publish")
OVERHEAD = ("read", "preprocess", "postprocess", "publish")
TARGET_OVERHEAD = 0.20
TARGET_DLR_RATIO = 1.2  # issue 15: the best DLR build within 1.2x the fastest fp32 runtime


class SerializingClient:
    """Stands in for GreengrassCoreIPCClientV2: encodes what would go on the wire, sends nothing."""

    def publish_to_topic(self, *, topic: str, publish_message: Any) -> None:
        bytes(publish_message.binary_message.message)  # contracts go as binary JSON (smartcam.ipc.local_message)

    def publish_to_iot_core(self, *, topic_name: str, qos: Any, payload: bytes) -> None:
        assert len(payload) < 128 * 1024

    def close(self) -> None:
        pass


def make_frames(root: Path, size: tuple[int, int]) -> list[FrameRef]:
    ring = FrameRing(root, "bench", capacity=64)
    frames = []
    for image in sorted(IMAGES.iterdir()):
        pixels = cv2.imread(str(image), cv2.IMREAD_COLOR)
        if pixels is None:
            continue
        frames.append(ring.write(pixels, size=size, captured_at=time.time(), captured_monotonic_ns=time.monotonic_ns()))
    return frames


def run_frame(path: FramePath, frame: FrameRef, ipc: Ipc) -> dict[str, float]:
    """The component's per-frame path (ssd_inference.frame_path), timed per stage, in milliseconds."""
    prepared = path.prepare(frame)
    inferred = path.infer(prepared)
    t0 = time.perf_counter()
    message = path.finish(inferred)
    ipc.publish(topics.DETECTIONS, message)
    ipc.publish_iot(topics.iot_detection_summary("bench-thing"), summarize(message, 10), qos=0)
    t1 = time.perf_counter()
    times = (prepared.read_ms, prepared.preprocess_ms, inferred.infer_ms, inferred.postprocess_ms, (t1 - t0) * 1000)
    return dict(zip(STAGES, times, strict=True))


def stats(values: list[float]) -> MedianP90:
    return MedianP90(median_ms=round(float(np.median(values)), 3), p90_ms=round(float(np.percentile(values, 90)), 3))


def version_of(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def benchmark(
    frames_per_backend: int, threads: int, size: tuple[int, int], model_dir: Path = MODEL_DIR, blocks: int = 5
) -> InferenceRun:
    model = PreparedModel.load(model_dir)
    engines = {name: Engine.start(model, name, threads, fall_back=False) for name in BACKENDS
               if name != "dlr" and name in model.bundle.manifest.runtimes}
    dlr_builds = [build.key for build in runnable_builds(model.bundle.manifest.runtimes, "dlr", platform.machine(),
                                                         cpu_flags())]
    for key in dlr_builds:
        factory = functools.partial(DlrBackend, build=key)
        engines[key] = Engine.start(model, "dlr", threads, {"dlr": factory}, fall_back=False)
    ipc = Ipc(SerializingClient())  # type: ignore[arg-type]
    samples: dict[str, dict[str, list[float]]] = {name: {s: [] for s in STAGES} for name in engines}
    # Where the pipeline's ring lives: tmpfs (/dev/shm) when writable, like on a device.
    with tempfile.TemporaryDirectory(prefix="bench-inference-", dir=frame_base()) as tmp:
        root = Path(tmp)
        frames = make_frames(root, size)
        # SsdInference's default selection, the candidates for the tracker included
        paths = {name: FramePath(engine, root, selection_for(engine, score_threshold=0.5, nms_iou_threshold=0.45,
                                                             max_detections=20, tracking_score_threshold=0.1))
                 for name, engine in engines.items()}
        for path in paths.values():  # warm-up: first runs allocate and spin up thread pools
            for frame in frames:
                run_frame(path, frame, ipc)
        per_block = max(1, frames_per_backend // blocks)
        for block in range(blocks):
            for name, path in paths.items():
                for i in range(per_block):
                    frame = frames[(block * per_block + i) % len(frames)]
                    for stage, value in run_frame(path, frame, ipc).items():
                        samples[name][stage].append(value)
    results: dict[str, BackendTimes] = {}
    for name, stage_values in samples.items():
        overhead = [sum(stage_values[s][i] for s in OVERHEAD) for i in range(len(stage_values["infer"]))]
        total = [o + m for o, m in zip(overhead, stage_values["infer"], strict=True)]
        results[name] = BackendTimes(
            frames=len(total),
            stages={stage: stats(values) for stage, values in stage_values.items()},
            model=stats(stage_values["infer"]),
            overhead=stats(overhead),
            total=stats(total),
        )
    fastest = min((n for n in results if n not in LOWER_PRECISION), key=lambda n: results[n].model.median_ms)
    fastest_ms = results[fastest].model.median_ms
    best_dlr = dlr_builds[0] if dlr_builds else None  # what SsdInference runs here
    default = best_dlr or fastest
    dlr_vs_fastest = round(results[best_dlr].model.median_ms / fastest_ms, 2) if best_dlr else None
    # each backend's own overhead (same code, measured in the same blocks) over its model time
    overhead_vs_model = {n: round(r.overhead.median_ms / r.model.median_ms, 3) for n, r in results.items()}
    return InferenceRun(
        threads=threads,
        model=ModelUsed(name=model.bundle.name, version=model.bundle.version, folder=str(model_dir),
                        dlr_target=getattr(model.bundle.manifest.runtimes.get(dlr_builds[0] if dlr_builds else "dlr"),
                                           "target", None)),
        frames_per_backend=results[default].frames,
        load_average_1m_after=round(os.getloadavg()[0], 2),
        backends=results,
        checks=InferenceChecks(
            fastest_backend=fastest, dlr_vs_fastest=dlr_vs_fastest, dlr_vs_fastest_target=TARGET_DLR_RATIO,
            overhead_vs_model=overhead_vs_model, overhead_vs_model_target=TARGET_OVERHEAD,
            dlr_within_target=dlr_vs_fastest is not None and dlr_vs_fastest <= TARGET_DLR_RATIO,
            overhead_within_target={n: v <= TARGET_OVERHEAD for n, v in overhead_vs_model.items()},
        ),
    )


def run_in_child(frames: int, threads: int, size: str, model_dir: Path) -> InferenceRun:
    """One thread count per process: TVM sizes its thread pool once per process."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(  # nosec B603
            [sys.executable, __file__, "--single", "--frames", str(frames), "--threads", str(threads),
             "--size", size, "--model-dir", str(model_dir), "--out", out.name],
            check=True, stdout=subprocess.DEVNULL,
        )
        return InferenceRun.model_validate_json(Path(out.name).read_text())


def plot(report: InferenceResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = report.runs
    fig, axes = plt.subplots(1, len(runs), figsize=(6 * len(runs), 4.2), sharey=True, squeeze=False)
    for ax, run in zip(axes[0], runs, strict=True):
        names = list(run.backends)
        bottom = np.zeros(len(names))
        for stage, color in zip(STAGES, ("#9ecae1", "#6baed6", "#fd8d3c", "#3182bd", "#08519c"), strict=True):
            values = np.asarray([run.backends[n].stages[stage].median_ms for n in names])
            ax.bar(names, values, bottom=bottom, label=stage, color=color)
            bottom += values
        p90 = [run.backends[n].total.p90_ms for n in names]
        ax.scatter(names, p90, marker="_", s=600, color="black", label="p90 per frame", zorder=3)
        ax.set_xticks(range(len(names)), [
            f"{n}\nmodel {run.backends[n].model.median_ms:.1f} ms"
            f"\noverhead {run.backends[n].overhead.median_ms:.1f} ms" for n in names
        ])
        ax.set_title(f"{run.threads} thread{'s' if run.threads > 1 else ''}")
    axes[0][0].set_ylabel("ms per frame (median per stage)")
    axes[0][-1].legend(fontsize=8)
    fig.suptitle(f"{report.model.name} on {report.frames.size} raw frames ({report.machine.cpus} "
                 f"CPUs, load {report.machine.load_average_1m})")
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=60, help="timed frames per backend")
    parser.add_argument("--threads", default="1,2", help="thread counts to measure, comma separated")
    parser.add_argument("--size", default="640x480", help="camera frame size, WIDTHxHEIGHT")
    parser.add_argument("--model-dir", type=Path, default=MODEL_DIR, help="a packaged model folder (model.json)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "bench" / "inference.json")
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "bench" / "inference.png")
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)  # child: one run, JSON only
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    if args.single:
        run = benchmark(args.frames, int(args.threads), (width, height), args.model_dir)
        args.out.write_text(run.model_dump_json())
        return 0
    load_before = round(os.getloadavg()[0], 2)
    runs = [run_in_child(args.frames, int(t), args.size, args.model_dir) for t in args.threads.split(",")]
    report = InferenceResult(
        benchmark="smartcam.SsdInference per-frame latency",
        model=runs[0].model,
        frames=FramesUsed(size=f"{width}x{height}", source="tests/model_packaging/images as raw BGR ring slots",
                          per_backend=args.frames),
        machine=InferenceMachine(platform=platform.platform(), machine=platform.machine(), cpus=os.cpu_count(),
                                 python=platform.python_version(), load_average_1m=load_before),
        versions={p: version_of(p) for p in ("dlr", "onnxruntime", "ai-edge-litert", "opencv-python-headless",
                                             "numpy")},
        overhead_stages=list(OVERHEAD),
        targets=InferenceTargets(overhead_vs_model=TARGET_OVERHEAD, dlr_vs_fastest=TARGET_DLR_RATIO),
        runs=runs,
        measured_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    report.write(args.out)
    plot(report, args.plot)
    header = ("backend", "model med", "model p90", "overhead med", "total med", "total p90")
    for run in runs:
        print(f"threads={run.threads}")
        print(f"  {header[0]:<16} " + " ".join(f"{h:>13}" for h in header[1:]))
        for name, r in run.backends.items():
            values = (r.model.median_ms, r.model.p90_ms, r.overhead.median_ms, r.total.median_ms, r.total.p90_ms)
            print(f"  {name:<16} " + " ".join(f"{v:>13.2f}" for v in values))
        print("  " + run.checks.model_dump_json())
    print(f"wrote {args.out} and {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
