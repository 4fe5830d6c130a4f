"""cpuAffinity: refused unless it is a set of the CPUs the process started with; applied to every thread."""

from __future__ import annotations

import logging
import os
import threading
from unittest.mock import MagicMock

import pytest

from smartcam import cpu_affinity
from smartcam.component import run_component
from smartcam.config import ConfigError, LiveConfig, validate_config
from smartcam.cpu_affinity import STARTING_CPUS, ProcessConfig, apply_cpu_affinity
from smartcam.ipc import Ipc
from tests.support.fake_nucleus import FakeNucleus, wait_until

GENEROUS_S = 120.0
FIRST, LAST = min(STARTING_CPUS), max(STARTING_CPUS)
needs_two_cpus = pytest.mark.skipif(len(STARTING_CPUS) < 2, reason="moving threads between CPUs needs 2 of them")


class PlacedConfig(ProcessConfig):
    score_threshold: float = 0.5


@pytest.fixture(autouse=True)
def restore_the_process_cpus():
    yield
    apply_cpu_affinity(None)


def thread_cpus(thread: threading.Thread) -> set[int]:
    assert thread.native_id is not None
    return os.sched_getaffinity(thread.native_id)


def parked_thread() -> tuple[threading.Thread, threading.Event]:
    release = threading.Event()
    thread = threading.Thread(target=release.wait, daemon=True)
    thread.start()
    return thread, release


# --- validation ---------------------------------------------------------------------------------

def test_null_and_absent_leave_the_process_alone_and_a_subset_is_kept():
    assert validate_config(PlacedConfig, {}).cpu_affinity is None
    assert validate_config(PlacedConfig, {"cpuAffinity": None}).cpu_affinity is None
    assert validate_config(PlacedConfig, {"cpuAffinity": [LAST]}).cpu_affinity == (LAST,)
    every = sorted(STARTING_CPUS, reverse=True)
    assert validate_config(PlacedConfig, {"cpuAffinity": every}).cpu_affinity == tuple(every)


@pytest.mark.parametrize(("value", "reason"), [
    ([], "should have at least 1 item"),
    ([FIRST, FIRST], f"repeated: [{FIRST}]"),
    ([-1], "greater than or equal to 0"),
    ([max(STARTING_CPUS) + 1], f"CPU [{max(STARTING_CPUS) + 1}] not among the CPUs this process was allowed"),
    ([True], "must be a whole number"),
    (["0"], "must be a whole number"),
    ([0.0], "must be a whole number"),
    (0, "must be a JSON array"),
    ("0-1", "must be a JSON array"),
    (list(range(2000)), "should have at most 1024 items"),
])
def test_anything_but_a_set_of_the_starting_cpus_is_refused_with_the_reason(value, reason):
    with pytest.raises(ConfigError) as refused:
        validate_config(PlacedConfig, {"cpuAffinity": value})
    assert "cpuAffinity" in str(refused.value) and reason in str(refused.value)


def test_a_cpu_outside_the_starting_set_is_refused_even_if_the_machine_has_it(monkeypatch):
    monkeypatch.setattr(cpu_affinity, "STARTING_CPUS", frozenset({1}))
    with pytest.raises(ConfigError, match=r"CPU \[0\] not among the CPUs this process was allowed at start \[1\]"):
        validate_config(PlacedConfig, {"cpuAffinity": [0, 1]})


def test_a_deployment_proposing_a_bad_affinity_is_rejected_and_an_update_keeps_the_last_good_one():
    nucleus = FakeNucleus({"cpuAffinity": [FIRST]})
    config = LiveConfig(Ipc(nucleus.client), PlacedConfig)
    listener = MagicMock()
    config.on_change(listener)
    bad = {"cpuAffinity": [LAST + 1]}
    assert "not among the CPUs this process was allowed" in (config.check(bad) or "")
    nucleus.update_configuration(bad, "cpuAffinity")
    assert config.current.cpu_affinity == (FIRST,)
    assert config.refused is not None and "cpuAffinity" in config.refused
    listener.assert_not_called()


# --- applying -----------------------------------------------------------------------------------

@needs_two_cpus
def test_every_thread_moves_even_one_started_before_and_null_puts_them_back():
    before, release = parked_thread()
    try:
        assert apply_cpu_affinity([LAST]) == {LAST}
        assert thread_cpus(before) == {LAST}
        assert os.sched_getaffinity(0) == {LAST}  # this thread too
        assert apply_cpu_affinity(None) == STARTING_CPUS
        assert thread_cpus(before) == STARTING_CPUS and os.sched_getaffinity(0) == STARTING_CPUS
    finally:
        release.set()


def idle_app() -> MagicMock:
    app = MagicMock()
    app.start.return_value = None  # RUNNING
    return app


def _run(nucleus: FakeNucleus, factory) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    runner = threading.Thread(target=run_component, args=("demo", PlacedConfig, factory, nucleus.client, stop),
                              daemon=True)
    runner.start()
    return runner, stop


@needs_two_cpus
def test_run_component_places_the_process_before_the_app_and_follows_every_change():
    nucleus = FakeNucleus({"cpuAffinity": [LAST]})
    seen_by_the_app: list[set[int]] = []
    app_thread, release = None, threading.Event()

    def factory(ipc, live):
        nonlocal app_thread
        seen_by_the_app.append(os.sched_getaffinity(0))
        app_thread = threading.Thread(target=release.wait, daemon=True)
        app_thread.start()  # a thread of the app's, started before any change
        return idle_app()

    runner, stop = _run(nucleus, factory)
    try:
        wait_until(lambda: "RUNNING" in nucleus.states(), GENEROUS_S)
        assert seen_by_the_app == [{LAST}]
        assert app_thread is not None and thread_cpus(app_thread) == {LAST}

        nucleus.update(cpuAffinity=[FIRST])
        assert thread_cpus(app_thread) == {FIRST} and thread_cpus(runner) == {FIRST}

        nucleus.update(cpuAffinity=[FIRST, FIRST])  # refused: the process stays where it was
        assert thread_cpus(app_thread) == {FIRST}

        nucleus.update(cpuAffinity=None)
        assert thread_cpus(app_thread) == STARTING_CPUS and thread_cpus(runner) == STARTING_CPUS
    finally:
        stop.set()
        release.set()
        runner.join(GENEROUS_S)


class Recorded(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_a_kernel_refusal_is_logged_and_the_component_keeps_running(monkeypatch):
    def refuse(_tid: int, _cpus: object) -> None:
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(os, "sched_setaffinity", refuse)
    recorded = Recorded()  # on the module's logger: run_component sets the root logger's handlers up anew
    monkeypatch.setattr(logging.getLogger("smartcam.cpu_affinity"), "handlers", [recorded])
    nucleus = FakeNucleus({"cpuAffinity": [FIRST]})
    runner, stop = _run(nucleus, lambda ipc, live: idle_app())
    try:
        wait_until(lambda: "RUNNING" in nucleus.states(), GENEROUS_S)
        assert any(f"cpuAffinity [{FIRST}] could not be applied" in m for m in recorded.messages)
    finally:
        stop.set()
        runner.join(GENEROUS_S)
    assert nucleus.states() == ["RUNNING"]
