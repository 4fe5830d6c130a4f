"""tvm_compile.build with MetaSchedule records (model_packaging/tuning_database.py): applied, or a clear error.
TVM lives in make model's build venv only, so each case runs tests/model_packaging/tuning_probe.py there on a
one-convolution module (seconds, not the model's minutes)."""

from __future__ import annotations

import json
import subprocess  # nosec B404

import pytest

from model_packaging.tuning_records import RECORDS
from repo_layout import REPO_ROOT

BUILD_PYTHON = REPO_ROOT / "model_packaging" / ".venv-build" / "bin" / "python"
pytestmark = pytest.mark.skipif(not BUILD_PYTHON.is_file(), reason="needs make model's build venv (TVM)")


def probe(*args: str) -> dict:
    completed = subprocess.run([str(BUILD_PYTHON), "-m", "tests.model_packaging.tuning_probe", *args],  # nosec B603
                               cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=300)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_records_of_the_module_replace_the_default_schedules(tmp_path):
    assert probe("records", str(tmp_path / "r"))["records"] == 3
    result = probe("compile", str(tmp_path / "r"))
    assert result["untuned_applied"] is None
    assert result["applied"]["operators_tuned"] == result["applied"]["operators"] == 3
    assert result["max_abs_difference"] < 1e-4  # the same convolution, another loop order


def test_the_correctness_check_passes_schedules_that_compute_the_operator(tmp_path):
    probe("records", str(tmp_path / "r"))
    assert probe("check", str(tmp_path / "r"))["compute_the_same"] == [True, True, True]


def test_records_of_another_module_cover_only_what_they_share(tmp_path):
    probe("records", str(tmp_path / "r"), "--channels", "4")
    applied = probe("compile", str(tmp_path / "r"))["applied"]
    assert applied["operators_tuned"] == 1 and applied["operators"] == 3  # only the input's layout change


def test_records_matching_nothing_are_an_error_not_a_silent_untuned_build(tmp_path):
    probe("records", str(tmp_path / "r"), "--size", "12")
    assert "no record matches any of the model's 3 operators" in probe("compile", str(tmp_path / "r"))["error"]


def test_a_record_tvm_cannot_read_is_a_clear_error(tmp_path):
    probe("records", str(tmp_path / "r"))
    (tmp_path / "r" / RECORDS).write_text('[0, ["not a trace"]]\n')
    assert "not a MetaSchedule database" in probe("compile", str(tmp_path / "r"))["error"]


def test_a_missing_folder_is_a_clear_error(tmp_path):
    assert "workloads.json: missing" in probe("compile", str(tmp_path / "absent"))["error"]
