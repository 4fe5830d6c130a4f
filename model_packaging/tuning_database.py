"""A DLR build's MetaSchedule record folder (tuning_records.py) as a TVM database: loaded strictly, counted
while the compiler reads it, written from a search keeping the best correct record of each operator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tvm
import tvm.tir.tensor_intrin.x86  # registers the AVX-512/VNNI intrinsics x86 schedule rules name
from tvm import meta_schedule as ms
from tvm.meta_schedule.utils import derived_object

from model_packaging.tuning_records import RECORDS, WORKLOADS, TuningRecordsError, check_folder

SYMBOL_PREFIX = "tvmgen_default_"


def load(folder: Path) -> ms.database.JSONDatabase:
    """The database in ``folder``; TuningRecordsError when a file is missing, empty or not TVM's format."""
    check_folder(folder)
    try:
        return ms.database.JSONDatabase(
            path_workload=str(folder / WORKLOADS), path_tuning_record=str(folder / RECORDS), allow_missing=False
        )
    except (tvm.TVMError, ValueError, IndexError, TypeError, KeyError) as exc:  # what TVM's JSON parsing raises
        reason = str(exc).strip().splitlines()[-1]
        raise TuningRecordsError(f"{folder}: not a MetaSchedule database: {reason}") from None


@derived_object
class CountingDatabase(ms.database.PyDatabase):
    """Passes every call to ``inner`` and notes which operators the compiler asked for and which had a
    schedule: records made for another model (or another TVM) silently match nothing, the count shows it."""

    def __init__(self, inner: ms.database.Database) -> None:
        super().__init__()
        self.inner = inner
        self.found: set[str] = set()
        self.missing: set[str] = set()

    def _note(self, name: str | None, result: object) -> object:
        # relay.build asks twice per operator, once with its final symbol name (tvmgen_default_...)
        operator = str(name).removeprefix(SYMBOL_PREFIX)
        (self.found if result is not None else self.missing).add(operator)
        return result

    def has_workload(self, mod):  # noqa: ANN001, ANN201  (TVM objects through its FFI)
        return self.inner.has_workload(mod)

    def commit_workload(self, mod):  # noqa: ANN001, ANN201
        return self.inner.commit_workload(mod)

    def commit_tuning_record(self, record) -> None:  # noqa: ANN001
        self.inner.commit_tuning_record(record)

    def get_top_k(self, workload, top_k):  # noqa: ANN001, ANN201
        return self.inner.get_top_k(workload, top_k)

    def get_all_tuning_records(self):  # noqa: ANN201
        return self.inner.get_all_tuning_records()

    def query_tuning_record(self, mod, target, workload_name=None):  # noqa: ANN001, ANN201
        return self._note(workload_name, self.inner.query_tuning_record(mod, target, workload_name))

    def query_schedule(self, mod, target, workload_name=None):  # noqa: ANN001, ANN201
        return self._note(workload_name, self.inner.query_schedule(mod, target, workload_name))

    def query_ir_module(self, mod, target, workload_name=None):  # noqa: ANN001, ANN201
        return self._note(workload_name, self.inner.query_ir_module(mod, target, workload_name))

    def __len__(self) -> int:
        return len(self.inner)


def computes_the_same(record: ms.database.TuningRecord, rng: np.random.Generator, tolerance: float = 1e-4) -> bool:
    """Whether the record's schedule computes what its unscheduled operator computes, on random inputs. TVM's
    runner times candidates without checking their results, so a schedule that miscompiles can win the search."""
    reference = record.workload.mod
    schedule = tvm.tir.Schedule(reference)
    record.trace.apply_to_schedule(schedule, remove_postproc=False)
    target = tvm.target.Target(record.target)
    arrays = [rng.uniform(-1, 1, [int(d) for d in info.shape]).astype(info.dtype)
              for info in ms.arg_info.ArgInfo.from_prim_func(reference["main"])]
    results = []
    for mod in (reference, schedule.mod):
        buffers = [tvm.nd.array(array) for array in arrays]
        tvm.build(mod, target=target)(*buffers)
        results.append([buffer.numpy() for buffer in buffers])
    return all(np.allclose(a, b, rtol=tolerance, atol=tolerance) for a, b in zip(*results, strict=True))


def write_best_valid(source: ms.database.Database, folder: Path, *, candidates: int = 8) -> dict[str, int]:
    """One record per operator of ``source``, as a new database in ``folder`` (what gets committed: the search's
    thousands of measured candidates are not needed to apply it): the fastest of its ``candidates`` best that
    computes_the_same; an operator none of them passes for gets no record (TVM's default schedule).
    Returns how many operators were kept, and how many schedules were refused."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for name in (WORKLOADS, RECORDS):
        (folder / name).unlink(missing_ok=True)
    target = ms.database.JSONDatabase(path_workload=str(folder / WORKLOADS),
                                      path_tuning_record=str(folder / RECORDS), allow_missing=True)
    workloads = {}
    for record in source.get_all_tuning_records():
        workloads.setdefault(tvm.ir.structural_hash(record.workload.mod), record.workload)
    kept = refused = 0
    for workload in workloads.values():
        for record in source.get_top_k(workload, candidates):
            if computes_the_same(record, rng):
                target.commit_tuning_record(ms.database.TuningRecord(
                    record.trace, target.commit_workload(workload.mod), record.run_secs, record.target,
                    record.args_info))
                kept += 1
                break
            refused += 1
    return {"operators_kept": kept, "schedules_refused": refused}
