"""The benchmarks `make bench` runs (scripts/bench.py), each a module runnable on its own with
``python -m benchmarks.<name>``; results go to docs/bench/ as JSON (and plots)."""

# The order they run in: cheapest first (tracking needs no runtime), the three that run the whole pipeline last
# (cameras after inference, whose result names the fastest build it also runs).
NAMES = ["tracking", "ipc", "capture", "inference", "streams", "writer", "events", "pipeline", "cameras",
         "operator_view"]
# Further runs of a benchmark with other settings (each writes its own result files).
VARIANTS: dict[str, list[list[str]]] = {
    # One inference thread leaves a core to capture, IPC and the writer: the other side of the trade-off;
    # with SsdInference alone on that core (cpuAffinity), nothing preempts the model.
    "pipeline": [["--threads", "1", "--pin-inference", "--out", "docs/bench/pipeline-threads1.json",
                  "--plot", "docs/bench/pipeline-threads1.png"],
                 # The cores as two copies of the model, one thread each: frames in parallel, no thread waiting.
                 ["--threads", "1", "--streams", "2", "--rates", "5,10,20,30,60,90,120,150",
                  "--out", "docs/bench/pipeline-streams2.json",
                  "--plot", "docs/bench/pipeline-streams2.png"]],
}
