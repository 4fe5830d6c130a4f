"""`make model BUILDS=...` keeps the model folder's other DLR builds (model_packaging/kept_builds.py)."""

from __future__ import annotations

import shutil

import pytest

from model_packaging.kept_builds import TFLITE, KeptBuildError, builds_to_keep, copy_kept
from model_packaging.model_card import DLR_BUILDS
from repo_layout import REPO_ROOT

MODEL = REPO_ROOT / "components" / "SsdModelStore" / "model"


@pytest.fixture
def model_copy(tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(MODEL, copy)
    return copy


def test_every_build_not_rebuilt_is_kept_with_its_compiler():
    kept = builds_to_keep(MODEL, ["dlr-avx512"])
    assert set(kept) == set(DLR_BUILDS) - {"dlr-avx512"}
    assert all(compiler.startswith("hhb-tvm 3.2.3") for compiler in kept.values())


def test_a_first_build_keeps_nothing(tmp_path):
    assert builds_to_keep(tmp_path / "model", ["dlr-avx512"]) == {}


def test_an_altered_folder_is_not_kept(model_copy):
    (model_copy / "dlr-avx2" / "model.so").write_bytes(b"not the compiled library")
    with pytest.raises(KeptBuildError, match=r"dlr-avx2/model\.so"):
        builds_to_keep(model_copy, ["dlr-avx512"])


def test_kept_builds_are_copied_next_to_the_same_export(model_copy, tmp_path):
    staging = tmp_path / "staging"
    staging.mkdir()
    shutil.copy(model_copy / TFLITE, staging / TFLITE)
    copy_kept(model_copy, staging, ["dlr-avx2", "dlr-x86-64"])
    assert sorted(path.name for path in staging.iterdir()) == ["dlr-avx2", "dlr-x86-64", TFLITE]
    assert (staging / "dlr-avx2" / "model.so").read_bytes() == (model_copy / "dlr-avx2" / "model.so").read_bytes()


def test_a_changed_export_refuses_to_keep_builds_compiled_from_the_old_one(model_copy, tmp_path):
    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / TFLITE).write_bytes((model_copy / TFLITE).read_bytes() + b"\0")
    with pytest.raises(KeptBuildError, match="the TFLite export changed"):
        copy_kept(model_copy, staging, ["dlr-avx2"])
    assert not (staging / "dlr-avx2").exists()
