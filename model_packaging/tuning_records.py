"""Where each DLR build's MetaSchedule tuning records live, and a check of their files that needs no TVM
(build_model runs TensorFlow, whose LLVM does not share a process with TVM's).

A record folder, ``model_packaging/tuning/<build>/``, is a MetaSchedule JSON database: ``workloads.json`` (one
operator's TIR per line) and ``records.json`` (the best schedule found for each, as a trace, with its measured
time). tvm_tune.py writes it; tvm_compile.py --tuning applies it (tuning_database.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)

TUNING_ROOT = Path(__file__).resolve().parent / "tuning"
WORKLOADS = "workloads.json"
RECORDS = "records.json"


class TuningRecordsError(Exception):
    """A record folder that is incomplete, unreadable or matches nothing: the build stops rather than
    silently ship an untuned build."""


def folder_for(build: str, root: Path = TUNING_ROOT) -> Path:
    return root / build


def _count_json_lines(path: Path) -> int:
    if not path.is_file():
        raise TuningRecordsError(f"{path}: missing (a record folder needs {WORKLOADS} and {RECORDS})")
    count = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            json.loads(line)
        except json.JSONDecodeError as exc:
            raise TuningRecordsError(f"{path}:{number}: not a JSON line ({exc})") from None
        count += 1
    if count == 0:
        raise TuningRecordsError(f"{path}: empty")
    return count


def check_folder(folder: Path) -> int:
    """How many records ``folder`` has; TuningRecordsError when a file is missing, empty or not JSON lines."""
    _count_json_lines(folder / WORKLOADS)
    return _count_json_lines(folder / RECORDS)


def folders_to_apply(builds: Iterable[str], *, use_tuning: bool, root: Path = TUNING_ROOT) -> dict[str, Path]:
    """The record folder of each build that has one, checked now (before the compiling starts; a broken one
    raises TuningRecordsError), or none at all when ``use_tuning`` is off. Each build's choice is logged."""
    chosen = {}
    for build in builds:
        folder = folder_for(build, root)
        if not folder.exists():
            log.info("%s: TVM's default schedules (no tuning records in %s)", build, folder)
        elif not use_tuning:
            log.info("%s: TVM's default schedules (its tuning records are switched off)", build)
        else:
            log.info("%s: applying %d MetaSchedule records from %s", build, check_folder(folder), folder)
            chosen[build] = folder
    return chosen
