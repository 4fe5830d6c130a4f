"""Runs in make model's build venv (TVM), driven by test_tuning_compile.py: a one-convolution Relay module,
MetaSchedule records for it, and tvm_compile.build with and without them. Prints one JSON line.

    python -m tests.model_packaging.tuning_probe records DIR [--channels N] [--size N]
    python -m tests.model_packaging.tuning_probe compile DIR
    python -m tests.model_packaging.tuning_probe check DIR
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TOPHUB_LOCATION", "NONE")
import numpy as np
import tvm
from tvm import meta_schedule as ms
from tvm import relay
from tvm.contrib import graph_executor

from model_packaging import tuning_database, tuning_records
from model_packaging.model_card import DLR_BUILDS
from model_packaging.tvm_compile import build

TARGET = DLR_BUILDS["dlr-avx2"]  # runs on any machine the tests run on


def conv_module(channels: int = 8, size: int = 16) -> tuple[tvm.IRModule, dict]:
    data = relay.var("image", shape=(1, 3, size, size), dtype="float32")
    weight = relay.var("weight", shape=(channels, 3, 3, 3), dtype="float32")
    out = relay.nn.relu(relay.nn.conv2d(data, weight, padding=(1, 1), channels=channels, kernel_size=(3, 3)))
    weights = np.random.default_rng(0).standard_normal((channels, 3, 3, 3)).astype("float32")
    return tvm.IRModule.from_expr(relay.Function([data, weight], out)), {"weight": tvm.nd.array(weights)}


def write_records(folder: Path, channels: int, size: int) -> int:
    """One record per operator: its loops as TVM lowered them (a trace that only looks up the root block; MetaSchedule
    passes over records with an empty trace), which applies on any machine."""
    module, params = conv_module(channels, size)
    target = tvm.target.Target(TARGET)
    folder.mkdir(parents=True, exist_ok=True)
    database = ms.database.JSONDatabase(path_workload=str(folder / tuning_records.WORKLOADS),
                                        path_tuning_record=str(folder / tuning_records.RECORDS), allow_missing=True)
    tasks = ms.relay_integration.extract_tasks(module, target, params)
    for task in tasks:
        func = task.dispatched[0]
        schedule = tvm.tir.Schedule(func)
        schedule.get_block("root")
        database.commit_tuning_record(ms.database.TuningRecord(
            schedule.trace, database.commit_workload(func), run_secs=[1e-3], target=target,
            args_info=ms.arg_info.ArgInfo.from_prim_func(func["main"])))
    return len(tasks)


def run(factory: object, tensor: np.ndarray) -> np.ndarray:
    graph = graph_executor.GraphModule(factory["default"](tvm.cpu()))
    graph.set_input("image", tensor)
    graph.run()
    return graph.get_output(0).numpy()


def compile_both(folder: Path) -> dict:
    module, params = conv_module()
    tensor = np.random.default_rng(1).standard_normal((1, 3, 16, 16)).astype("float32")
    untuned, none = build(module, params, TARGET)
    try:
        tuned, applied = build(module, params, TARGET, folder)
    except tuning_records.TuningRecordsError as exc:
        return {"error": str(exc)}
    difference = float(np.max(np.abs(run(untuned, tensor) - run(tuned, tensor))))
    return {"untuned_applied": none, "applied": applied, "max_abs_difference": difference}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=("records", "compile", "check"))
    parser.add_argument("folder", type=Path)
    parser.add_argument("--channels", type=int, default=8, help="records for a convolution with this many outputs")
    parser.add_argument("--size", type=int, default=16, help="records for an input of this height and width")
    args = parser.parse_args()
    if args.action == "records":
        print(json.dumps({"records": write_records(args.folder, args.channels, args.size)}))
    elif args.action == "check":
        records = tuning_database.load(args.folder).get_all_tuning_records()
        rng = np.random.default_rng(0)
        print(json.dumps({"compute_the_same": [tuning_database.computes_the_same(r, rng) for r in records]}))
    else:
        print(json.dumps(compile_both(args.folder)))


if __name__ == "__main__":
    main()
