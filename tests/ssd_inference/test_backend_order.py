"""What ``backend: auto`` means per machine: model.json's ``runtime_preference`` for that machine first,
then the other backends, only those installed there. The machine is a parameter, so the aarch64 order is
checked on any host."""

from __future__ import annotations

import pytest

from ssd_inference.backends import resolve_backend
from ssd_inference.backends.dlr_privacy import dlr_installed
from ssd_inference.model_bundle import load_model_bundle
from tests.ssd_inference.helpers import MODEL_DIR, fake_factories, write_model_dir

ALL = {name: {"path": "fake.model", "outputs": {}} for name in ("dlr", "onnxruntime", "litert")}


@pytest.fixture(scope="module")
def packaged():
    return load_model_bundle(MODEL_DIR)


def test_the_packaged_model_runs_dlr_first_on_x86_64(packaged):
    assert dlr_installed(), "the runtime venv installs dlr 1.6.0 (requirements-dev.txt)"
    assert resolve_backend("auto", packaged, machine="x86_64") == ["dlr", "onnxruntime", "litert"]


def test_the_packaged_model_runs_onnxruntime_first_on_aarch64_and_never_pypis_dlr(packaged):
    # PyPI's DLR wheel has no aarch64 runtime library: installed or not, it is not a backend there.
    assert resolve_backend("auto", packaged, machine="aarch64") == ["onnxruntime", "litert"]
    assert resolve_backend("litert", packaged, machine="aarch64") == ["litert", "onnxruntime"]


@pytest.mark.parametrize(("machine", "order"), [
    ("aarch64", ["litert", "onnxruntime", "dlr"]),
    ("x86_64", ["onnxruntime", "dlr", "litert"]),
    ("armv7l", ["dlr", "onnxruntime", "litert"]),  # no preference for it: the injected order
])
def test_the_preference_of_the_machine_comes_first(tmp_path, machine, order):
    bundle = load_model_bundle(write_model_dir(tmp_path / "model", runtimes=ALL, runtime_preference={
        "aarch64": ["litert", "onnxruntime"], "x86_64": ["onnxruntime"]}))
    factories = fake_factories("dlr", "onnxruntime", "litert")
    assert resolve_backend("auto", bundle, factories, machine=machine) == order
    assert resolve_backend("dlr", bundle, factories, machine=machine) == ["dlr", *(n for n in order if n != "dlr")]


def test_only_backends_the_model_has_an_export_for(tmp_path):
    runtimes = {name: ALL[name] for name in ("onnxruntime", "litert")}
    bundle = load_model_bundle(write_model_dir(tmp_path / "model", runtimes=runtimes,
                                               runtime_preference={"aarch64": ["dlr", "litert"]}))
    factories = fake_factories("dlr", "onnxruntime", "litert")
    assert resolve_backend("auto", bundle, factories, machine="aarch64") == ["litert", "onnxruntime"]
