"""Tune one DLR build's operators with TVM's MetaSchedule and keep the best schedule of each.

Runs in the build venv on a machine of the build's CPU level (the search measures candidates here); it takes
an hour or more of CPU, so run it niced:
    nice -n 19 python -m model_packaging.tvm_tune MODEL.tflite --build dlr-avx512 --trials 1500 \\
        --work-dir /path/to/scratch
The search's full log and database stay in --work-dir; the best record per operator that computes what the
operator computes (checked on random inputs: TVM's runner only times candidates) goes to
model_packaging/tuning/<build>/ (tuning_records.py), which `make model` applies to that build. A search stopped
early (the database grows as it goes) keeps what it found: `... --keep-best-only --work-dir DIR`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TOPHUB_LOCATION", "NONE")
import tvm
from tvm import meta_schedule as ms

from model_packaging import model_card as card
from model_packaging import tuning_database, tuning_records
from model_packaging.tvm_compile import relay_module

SKIPPED_TASK_PREFIX = "fused_layout_transform"


def tuning_target(build: str, cores: int) -> tvm.target.Target:
    """The build's own target plus the core count MetaSchedule's parallel rules need (codegen ignores it)."""
    return tvm.target.Target(f"{card.DLR_BUILDS[build]} -num-cores {cores}")


def tune(tflite_file: Path, build: str, trials: int, work_dir: Path, *, per_iteration: int, cores: int,
         seed: int, only: list[str] | None = None, population: int = 128) -> dict:
    module, params = relay_module(tflite_file)
    target = tuning_target(build, cores)
    started = time.perf_counter()
    extracted = ms.relay_integration.extract_tasks(module, target, params)
    # Layout transforms only copy memory: no schedule choice worth a measured trial.
    tasks = [task for task in extracted if not task.task_name.startswith(SKIPPED_TASK_PREFIX)
             and (not only or task.task_name in only)]
    if only and len(tasks) != len(only):
        unknown = sorted(set(only) - {task.task_name for task in tasks})
        raise SystemExit(f"tvm_tune: no such operator in this model: {', '.join(unknown)}")
    # A smaller population and fewer generations than TVM's defaults (512, 4): on two shared cores the default
    # search took about a minute per round, longer than measuring its candidates.
    strategy = ms.search_strategy.EvolutionarySearch(population_size=population, genetic_num_iters=2)
    contexts, weights = ms.relay_integration.extracted_tasks_to_tune_contexts(
        tasks, str(work_dir), strategy=strategy, seed=seed, num_tuning_cores=cores)
    database = ms.relay_integration.tune_tasks(
        tasks=contexts, task_weights=weights, work_dir=str(work_dir), max_trials_global=trials,
        num_trials_per_iter=per_iteration)
    seconds = time.perf_counter() - started
    out = tuning_records.folder_for(build)
    checked = tuning_database.write_best_valid(database, out)
    return {"build": build, "target": str(target), "trials": trials, "tasks": len(tasks),
            "tuning_seconds": round(seconds), "records": str(out), **checked}


def main() -> None:
    if importlib.util.find_spec("xgboost") is None:
        raise SystemExit("tvm_tune: MetaSchedule's cost model needs xgboost: model_packaging/.venv-build/bin/python "
                         "-m pip install -r model_packaging/requirements-tune.txt")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tflite_file", type=Path)
    parser.add_argument("--build", required=True, choices=sorted(card.DLR_BUILDS))
    parser.add_argument("--trials", type=int, default=1500, help="measured candidates over all operators")
    parser.add_argument("--per-iteration", type=int, default=32, help="candidates measured per search round")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--population", type=int, default=128, help="evolutionary search population per round")
    parser.add_argument("--task", action="append", help="tune only this operator (repeatable; MetaSchedule's task "
                        "name, e.g. the heaviest ones of a profile); default: every operator but layout transforms")
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--keep-best-only", action="store_true",
                        help="no search: write the best records of a search stopped early (its --work-dir)")
    args = parser.parse_args()
    if args.keep_best_only:
        out = tuning_records.folder_for(args.build)
        searched = ms.database.JSONDatabase(work_dir=str(args.work_dir), allow_missing=False)
        print(json.dumps({"build": args.build, "records": str(out), **tuning_database.write_best_valid(searched, out)}))
        return
    print(json.dumps(tune(args.tflite_file, args.build, args.trials, args.work_dir, per_iteration=args.per_iteration,
                          cores=args.cores, seed=args.seed, only=args.task,
                          population=args.population)))


if __name__ == "__main__":
    main()
