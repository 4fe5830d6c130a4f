#!/usr/bin/env python3
"""A DLR build compiled with its MetaSchedule tuning records against the same build without them.

    .venv/bin/python -m benchmarks.tuning --untuned DIR --tuned DIR [--build dlr-avx512] [--threads 1,2]
        [--repeats 7] [--frames 40] [--out docs/bench/tuning.json]

Each DIR is a DLR build folder as model_packaging/tvm_compile.py writes it (model.so, model.json, model.params,
model.meta); make both with `python -m model_packaging.tvm_compile ... [--tuning FOLDER]` in the build venv. They
run under DLR 1.6 on the photos of tests/model_packaging/images (model_packaging.preprocess), with SsdInference's
thread settings (ssd_inference.backends.dlr_backend). Each thread count runs in its own process (TVM sizes its
thread pool once per process), which loads both builds and alternates: each repeat times ``--frames`` frames on one
build, then on the other, the order swapped every repeat, so a change in machine load hits both alike. Reported:
each repeat's median, and the min and median of those; the tuned build counts as faster when, at every thread count,
its median is lower by more than NOISE_MARGIN and it wins at least two thirds of the repeats (on this shared 2-core
machine two identical builds measured 0.67x apart over 2 short repeats). Also the largest difference between the
two builds' raw outputs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess  # nosec B404
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.results import BuildTimes, PipelineMachine, TuningResult, TuningRun
from model_packaging.preprocess import model_input
from repo_layout import REPO_ROOT as REPO

IMAGES = REPO / "tests" / "model_packaging" / "images"
NOISE_MARGIN = 0.05
WARM_UP_PASSES = 3
BUILDS = ("untuned", "tuned")


def load_dlr(folder: Path, threads: int):  # noqa: ANN201  # dlr.DLRModel, imported late (phone-home, threads)
    from ssd_inference.backends.dlr_privacy import ensure_phone_home_disabled

    ensure_phone_home_disabled()
    # what DlrBackend sets before TVM's thread pool exists
    os.environ["TVM_NUM_THREADS"] = str(threads)
    os.environ.setdefault("TVM_BIND_THREADS", "0")
    os.environ.setdefault("TVM_THREAD_POOL_SPIN_COUNT", "10000")
    import dlr

    return dlr.DLRModel(str(folder), dev_type="cpu")


def inputs() -> list[np.ndarray]:
    return [model_input(path) for path in sorted(IMAGES.iterdir()) if path.suffix in (".jpg", ".png")]


def output_difference(models: dict, tensors: list[np.ndarray]) -> float:
    """Largest absolute difference between the builds' raw outputs (box encodings and class logits)."""
    worst = 0.0
    for tensor in tensors:
        untuned, tuned = (models[name].run({"image": tensor}) for name in BUILDS)
        worst = max(worst, *(float(np.max(np.abs(a - b))) for a, b in zip(untuned, tuned, strict=True)))
    return worst


def measure(folders: dict[str, Path], threads: int, repeats: int, frames: int) -> TuningRun:
    models = {name: load_dlr(folders[name], threads) for name in BUILDS}
    tensors = inputs()
    for model in models.values():  # warm-up: the first runs allocate and start the thread pool
        for tensor in tensors * WARM_UP_PASSES:
            model.run({"image": tensor})
    per_repeat: dict[str, list[float]] = {name: [] for name in BUILDS}
    for repeat in range(repeats):
        for name in BUILDS if repeat % 2 == 0 else reversed(BUILDS):
            samples = []
            for i in range(frames):
                tensor = tensors[i % len(tensors)]
                started = time.perf_counter()
                models[name].run({"image": tensor})
                samples.append((time.perf_counter() - started) * 1000)
            per_repeat[name].append(round(float(np.median(samples)), 3))
    times = {name: BuildTimes(repeat_medians_ms=values, min_ms=min(values),
                              median_ms=round(float(np.median(values)), 3))
             for name, values in per_repeat.items()}
    wins = sum(t < u for u, t in zip(per_repeat["untuned"], per_repeat["tuned"], strict=True))
    ratio = round(times["tuned"].median_ms / times["untuned"].median_ms, 3)
    return TuningRun(threads=threads, repeats=repeats, frames_per_repeat=frames, untuned=times["untuned"],
                     tuned=times["tuned"], tuned_vs_untuned=ratio,
                     tuned_wins_repeats=wins, max_abs_output_difference=output_difference(models, tensors))


def run_in_child(args: argparse.Namespace, threads: int) -> TuningRun:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(  # nosec B603
            [sys.executable, "-m", "benchmarks.tuning", "--single", "--untuned", str(args.untuned), "--tuned",
             str(args.tuned), "--threads", str(threads), "--repeats", str(args.repeats), "--frames",
             str(args.frames), "--out", out.name],
            check=True, stdout=subprocess.DEVNULL,
        )
        return TuningRun.model_validate_json(Path(out.name).read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--untuned", type=Path, required=True, help="the build compiled without tuning records")
    parser.add_argument("--tuned", type=Path, required=True, help="the same build compiled with them")
    parser.add_argument("--build", default="dlr-avx512", help="which DLR build the two folders are")
    parser.add_argument("--records", default="model_packaging/tuning/dlr-avx512", help="the records applied")
    parser.add_argument("--threads", default="1,2", help="thread counts, comma separated")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--frames", type=int, default=40, help="timed frames per build and repeat")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "bench" / "tuning.json")
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)  # child: one thread count
    args = parser.parse_args(argv)
    folders = {"untuned": args.untuned, "tuned": args.tuned}
    if args.single:
        args.out.write_text(measure(folders, int(args.threads), args.repeats, args.frames).model_dump_json())
        return 0
    runs = [run_in_child(args, int(t)) for t in args.threads.split(",")]
    target = json.loads((args.tuned / "model.meta").read_text())["Compiler"]["target"]
    result = TuningResult(
        command=f".venv/bin/python -m benchmarks.tuning {' '.join(argv if argv is not None else sys.argv[1:])}",
        when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        machine=PipelineMachine(cpus=os.cpu_count(), platform=platform.platform(), python=platform.python_version(),
                                loadavg_at_end=os.getloadavg()),
        build=args.build, target=target, records=args.records, runs=runs,
        noise_margin=NOISE_MARGIN,
        tuned_is_faster=all(r.tuned_vs_untuned < 1 - NOISE_MARGIN and 3 * r.tuned_wins_repeats >= 2 * r.repeats
                            for r in runs),
    )
    result.write(args.out)
    for run in runs:
        print(f"threads={run.threads}: untuned median {run.untuned.median_ms} ms (min {run.untuned.min_ms}), "
              f"tuned median {run.tuned.median_ms} ms (min {run.tuned.min_ms}), ratio {run.tuned_vs_untuned}, "
              f"tuned wins {run.tuned_wins_repeats}/{run.repeats}, max output diff {run.max_abs_output_difference:.2e}")
    print(f"tuned is faster: {result.tuned_is_faster}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
