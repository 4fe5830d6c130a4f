"""The default inference thread count follows cpuAffinity: at start and after every change.

On an imagined 8-CPU machine (the kernel's affinity calls are stubbed), so that every count differs."""

from __future__ import annotations

import os
import threading

import pytest

from smartcam import cpu_affinity
from tests.ssd_inference.helpers import FakeBackend, fake_factories, write_model_dir
from tests.ssd_inference.test_component import RUNTIMES, load_inference_main
from tests.support.fake_nucleus import FakeNucleus, wait_until
from tests.support.frame_root import nucleus_frame_root

EIGHT_CPUS = frozenset(range(8))


@pytest.fixture
def eight_cpus(monkeypatch):
    """The process's mask as the stubbed kernel holds it (one for every thread, which is what is set)."""
    mask = {"cpus": set(EIGHT_CPUS)}
    monkeypatch.setattr(cpu_affinity, "STARTING_CPUS", EIGHT_CPUS)
    monkeypatch.setattr(os, "sched_setaffinity", lambda _tid, cpus: mask.update(cpus=set(cpus)))
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(mask["cpus"]))
    return mask


@pytest.fixture
def component(tmp_path, monkeypatch, eight_cpus):
    monkeypatch.setenv("AWS_IOT_THING_NAME", "thing-1")
    nucleus_frame_root(monkeypatch, tmp_path)  # the nucleus's environment main() derives the frame root from
    monkeypatch.setenv("SMARTCAM_MODEL_DIR", str(write_model_dir(tmp_path / "model", runtimes=RUNTIMES)))
    monkeypatch.setattr("ssd_inference.backends.registry.BACKENDS", fake_factories("onnxruntime"))
    monkeypatch.setattr("ssd_inference.backends.registry._installed", lambda name, machine: True)
    FakeBackend.calls.clear()
    started: list[FakeNucleus] = []
    stop = threading.Event()
    runners: list[threading.Thread] = []

    def start(configuration: dict) -> FakeNucleus:
        nucleus = FakeNucleus({"backend": "onnxruntime", "healthIntervalS": 3600, **configuration},
                              "smartcam.SsdInference")
        runner = threading.Thread(target=load_inference_main().main, args=(nucleus.client, stop), daemon=True)
        runner.start()
        runners.append(runner)
        started.append(nucleus)
        wait_until(lambda: "RUNNING" in nucleus.states(), what="RUNNING")
        return nucleus

    yield start
    stop.set()
    for runner in runners:
        runner.join(timeout=30)


def test_one_configured_cpu_means_one_inference_thread(component, eight_cpus):
    component({"cpuAffinity": [1]})
    assert eight_cpus["cpus"] == {1}
    assert FakeBackend.calls == [("onnxruntime", 1)]


def test_without_an_affinity_the_threads_are_the_starting_cpus_but_one(component):
    component({})
    assert FakeBackend.calls == [("onnxruntime", 7)]


def test_a_changed_affinity_reloads_the_runtime_with_its_thread_count(component):
    nucleus = component({"cpuAffinity": [0, 1, 2, 3]})
    assert FakeBackend.calls == [("onnxruntime", 3)]
    nucleus.update(cpuAffinity=[2, 3])
    wait_until(lambda: len(FakeBackend.calls) == 2, what="a reload")
    nucleus.update(cpuAffinity=None)
    wait_until(lambda: len(FakeBackend.calls) == 3, what="a reload")
    assert FakeBackend.calls == [("onnxruntime", 3), ("onnxruntime", 1), ("onnxruntime", 7)]


def test_a_configured_thread_count_ignores_the_affinity(component):
    component({"cpuAffinity": [5], "threads": 2})
    assert FakeBackend.calls == [("onnxruntime", 2)]
