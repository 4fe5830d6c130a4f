"""The MetaSchedule record folders `make model` applies (model_packaging/tuning_records.py), checked without TVM,
and the committed records themselves."""

from __future__ import annotations

import json
import logging
import re

import pytest

from model_packaging.model_card import DLR_BUILDS
from model_packaging.tuning_records import (
    RECORDS,
    TUNING_ROOT,
    WORKLOADS,
    TuningRecordsError,
    check_folder,
    folders_to_apply,
)
from repo_layout import REPO_ROOT

WORKLOAD_LINE = json.dumps(["123", "base64 of an IRModule"])
RECORD_LINE = json.dumps([0, [[[], []], [0.001], {"kind": "llvm", "mcpu": "skylake-avx512"}, []]])


def record_folder(root, build="dlr-avx512", workloads=WORKLOAD_LINE + "\n", records=RECORD_LINE + "\n" + RECORD_LINE):
    folder = root / build
    folder.mkdir(parents=True)
    if workloads is not None:
        (folder / WORKLOADS).write_text(workloads)
    if records is not None:
        (folder / RECORDS).write_text(records)
    return folder


def test_a_complete_folder_counts_its_records(tmp_path):
    assert check_folder(record_folder(tmp_path)) == 2


@pytest.mark.parametrize(("files", "message"), [
    ({"records": None}, r"records\.json: missing"),
    ({"workloads": None}, r"workloads\.json: missing"),
    ({"records": "\n\n"}, r"records\.json: empty"),
    ({"records": RECORD_LINE + "\n[0, [trunc"}, r"records\.json:2: not a JSON line"),
])
def test_a_missing_empty_or_corrupt_file_is_a_clear_error(tmp_path, files, message):
    with pytest.raises(TuningRecordsError, match=message):
        check_folder(record_folder(tmp_path, **files))


def test_builds_with_records_get_them_and_each_choice_is_logged(tmp_path, caplog):
    record_folder(tmp_path, "dlr-avx512")
    with caplog.at_level(logging.INFO, logger="model_packaging.tuning_records"):
        chosen = folders_to_apply(["dlr-avx2", "dlr-avx512"], use_tuning=True, root=tmp_path)
    assert chosen == {"dlr-avx512": tmp_path / "dlr-avx512"}
    assert "dlr-avx2: TVM's default schedules (no tuning records in" in caplog.text
    assert "dlr-avx512: applying 2 MetaSchedule records from" in caplog.text


def test_switched_off_every_build_gets_the_default_schedules(tmp_path, caplog):
    record_folder(tmp_path, "dlr-avx512")
    with caplog.at_level(logging.INFO, logger="model_packaging.tuning_records"):
        assert folders_to_apply(["dlr-avx512"], use_tuning=False, root=tmp_path) == {}
    assert "dlr-avx512: TVM's default schedules (its tuning records are switched off)" in caplog.text


def test_a_broken_folder_stops_the_build_before_compiling(tmp_path):
    record_folder(tmp_path, "dlr-avx512", records=None)
    with pytest.raises(TuningRecordsError, match="missing"):
        folders_to_apply(["dlr-avx2", "dlr-avx512"], use_tuning=True, root=tmp_path)


COMMITTED = sorted(path.name for path in TUNING_ROOT.iterdir()) if TUNING_ROOT.is_dir() else []


@pytest.mark.parametrize("build", COMMITTED)
def test_committed_records_are_for_their_builds_cpu_and_small(build):
    folder = TUNING_ROOT / build
    assert build in DLR_BUILDS
    assert check_folder(folder) >= 1
    mcpu = re.search(r"-mcpu=(\S+)", DLR_BUILDS[build]).group(1)
    for line in (folder / RECORDS).read_text().splitlines():
        _workload, (_trace, run_secs, target, _args) = json.loads(line)
        assert target["mcpu"] == mcpu
        assert run_secs and all(0 < seconds < 1 for seconds in run_secs)
    assert sum(path.stat().st_size for path in folder.iterdir()) < 8_000_000  # best record per operator only


@pytest.mark.parametrize("build", COMMITTED)
def test_a_build_with_committed_records_ships_compiled_with_them(build):
    model_json = json.loads((REPO_ROOT / "components" / "SsdModelStore" / "model" / "model.json").read_text())
    compiler = model_json["runtimes"][build]["compiler"]
    assert compiler.endswith(f"MetaSchedule schedules from model_packaging/tuning/{build}")
