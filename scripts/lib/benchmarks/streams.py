#!/usr/bin/env python3
"""Model throughput on every core: one copy of the model with N threads against N copies of 1 thread.

    .venv/bin/python scripts/bench.py streams [--backends dlr,litert,onnxruntime,onnxruntime-int8] [--cores N]
                                              [--seconds 4] [--repeats 3] [--out docs/bench/streams.json]
                                              [--plot docs/bench/streams.png]

What SsdInference's ``threads`` and ``streams`` trade (ssd_inference.engine.Engine): with ``threads`` N one frame
is split over N cores, each operator a parallel region that waits for its slowest thread; with ``streams`` N,
N frames run at once, one per copy, and no thread waits for another. For each backend (``dlr``: the build
SsdInference picks on this CPU) and both shapes, a child process loads the component's engine, feeds it the
photos of tests/model_packaging/images preprocessed as the component does, and runs it flat out from as many
threads as copies for --seconds: frames per second and process CPU per frame. The shapes alternate, repeated
--repeats times, so a change in machine load hits both alike; the medians are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess  # nosec B404
import sys
import threading
import time
from pathlib import Path

from benchmarks.plots import save_figure
from benchmarks.results import PipelineMachine, StreamsResult, StreamsRun, StreamsShape
from repo_layout import REPO_ROOT as REPO

MODEL_DIR = REPO / "components" / "SsdModelStore" / "model"
IMAGES = REPO / "tests" / "model_packaging" / "images"
WARM_UP_FRAMES = 4


def measure(backend: str, threads: int, streams: int, seconds: float) -> dict[str, float | str | None]:
    """In this (child) process: the engine flat out from ``streams`` threads."""
    from ssd_inference.engine import Engine, PreparedModel
    from ssd_inference.preprocessing import decode_image

    model = PreparedModel.load(MODEL_DIR)
    engine = Engine.start(model, backend, threads, fall_back=False, streams=streams)
    try:
        tensors = [model.preprocess(decode_image(path.read_bytes()))
                   for path in sorted(IMAGES.iterdir()) if path.suffix in (".jpg", ".png")]
        for tensor in tensors * WARM_UP_FRAMES:
            engine.infer(tensor)
        counts = [0] * streams
        deadline = time.monotonic() + seconds

        def run(index: int) -> None:
            while time.monotonic() < deadline:
                engine.infer(tensors[(counts[index] + index) % len(tensors)])
                counts[index] += 1

        workers = [threading.Thread(target=run, args=(i,)) for i in range(streams)]
        cpu, started = time.process_time(), time.monotonic()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
        return {"fps": sum(counts) / elapsed, "cpu_ms_per_frame": cpu * 1000 / max(1, sum(counts)),
                "variant": engine.backend_variant}
    finally:
        engine.close()


def in_child(backend: str, threads: int, streams: int, seconds: float) -> dict[str, float | str | None]:
    """Its own process: TVM sizes its thread pool once per process."""
    done = subprocess.run(  # nosec B603
        [sys.executable, "-m", "benchmarks.streams", "--child", backend, str(threads), str(streams), str(seconds)],
        capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{backend} {threads} thread(s) x {streams} stream(s) failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def shape(samples: list[dict[str, float | str | None]], threads: int, streams: int) -> StreamsShape:
    fps = [float(s["fps"] or 0) for s in samples]
    cpu = [float(s["cpu_ms_per_frame"] or 0) for s in samples]
    return StreamsShape(threads=threads, streams=streams, repeat_fps=[round(f, 1) for f in fps],
                        fps=round(statistics.median(fps), 1), cpu_ms_per_frame=round(statistics.median(cpu), 2))


def bench_backend(backend: str, cores: int, seconds: float, repeats: int) -> StreamsRun:
    one_copy: list[dict[str, float | str | None]] = []
    copies: list[dict[str, float | str | None]] = []
    for repeat in range(repeats):
        order = [(one_copy, cores, 1), (copies, 1, cores)]
        for samples, threads, streams in order if repeat % 2 == 0 else reversed(order):
            samples.append(in_child(backend, threads, streams, seconds))
    one, many = shape(one_copy, cores, 1), shape(copies, 1, cores)
    result = StreamsRun(backend=backend, variant=str(one_copy[0]["variant"] or backend), cores=cores,
                        one_copy=one, copies=many, copies_vs_one_copy=round(many.fps / one.fps, 2))
    print(f"{result.variant}: 1 copy x {cores} threads {result.one_copy.fps} fps, {cores} copies x 1 thread "
          f"{result.copies.fps} fps ({result.copies_vs_one_copy}x)", flush=True)
    return result


def plot(result: StreamsResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [run.variant for run in result.runs]
    x = range(len(names))
    fig, ax = plt.subplots(figsize=(8, 4))
    cores = result.runs[0].cores if result.runs else 0
    ax.bar([i - 0.2 for i in x], [run.one_copy.fps for run in result.runs], width=0.4,
           label=f"1 copy x {cores} threads")
    ax.bar([i + 0.2 for i in x], [run.copies.fps for run in result.runs], width=0.4,
           label=f"{cores} copies x 1 thread (streams)")
    ax.set_xticks(list(x), names)
    ax.set(ylabel="frames/s, model alone", title=f"Model throughput on {cores} cores: threads or streams")
    ax.legend(fontsize=8)
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="dlr,litert,onnxruntime,onnxruntime-int8")
    parser.add_argument("--cores", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "bench" / "streams.json")
    parser.add_argument("--plot", type=Path, default=REPO / "docs" / "bench" / "streams.png")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)  # backend threads streams seconds
    args = parser.parse_args(argv)
    if args.child:
        backend, threads, streams, seconds = args.child
        print(json.dumps(measure(backend, int(threads), int(streams), float(seconds))))
        return 0
    runs = [bench_backend(backend, args.cores, args.seconds, args.repeats) for backend in args.backends.split(",")]
    result = StreamsResult(
        command=f".venv/bin/python scripts/bench.py streams {' '.join(argv if argv is not None else sys.argv[1:])}",
        when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        machine=PipelineMachine(cpus=os.cpu_count(), platform=platform.platform(), python=platform.python_version(),
                                loadavg_at_end=os.getloadavg()),
        seconds=args.seconds, repeats=args.repeats, runs=runs)
    result.write(args.out)
    plot(result, args.plot)
    print(f"wrote {args.out} and {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
