"""Where a component's process runs: the CPUs of its ``cpuAffinity`` setting.

An edge device reserves cores the way a 2-core camera needs it: the model's process on one core, capture,
IPC and the writer on the other, so the model is not preempted mid-frame. The whole process moves, every
thread of it: pinning one thread apart from its siblings makes it wait for the GIL held by a preempted
sibling on another core (measured: 36 fps instead of 78). Threads already running (the IPC client's, a
runtime's workers) keep the mask they started with, so each is set through ``/proc/self/task``.

The CPUs a process may be given are those it was allowed when this module was imported (its ``taskset``,
a container's or cgroup's cpuset); ``null`` leaves the process where the OS put it, and a ``null`` after a
list puts it back there.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable
from typing import Annotated

from pydantic import AfterValidator, Field, NonNegativeInt

from smartcam.config import ComponentConfig, LiveConfig

log = logging.getLogger(__name__)

TASKS = "/proc/self/task"
MAX_CPUS = 1024  # CPU_SETSIZE of glibc
_SUPPORTED = hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity")
# The CPUs this process was allowed at start: what a configuration may choose from, and what null restores.
STARTING_CPUS: frozenset[int] = frozenset(os.sched_getaffinity(0)) if _SUPPORTED else frozenset()


def _within_starting_cpus(cpus: tuple[int, ...]) -> tuple[int, ...]:
    if not STARTING_CPUS:
        raise ValueError("CPU affinity cannot be set on this platform; use null")
    repeated = sorted({cpu for cpu in cpus if cpus.count(cpu) > 1})
    if repeated:
        raise ValueError(f"CPU ids must be unique; repeated: {repeated}")
    outside = sorted(set(cpus) - STARTING_CPUS)
    if outside:
        raise ValueError(f"CPU {outside} not among the CPUs this process was allowed at start "
                         f"{sorted(STARTING_CPUS)}")
    return cpus


CpuList = Annotated[tuple[NonNegativeInt, ...], Field(min_length=1, max_length=MAX_CPUS),
                    AfterValidator(_within_starting_cpus)]


class ProcessConfig(ComponentConfig):
    """A component's top-level configuration: its own settings plus those of its process."""

    cpu_affinity: CpuList | None = Field(
        None, description="CPU ids every thread of this component's process may run on, e.g. `[1]`; each must "
        "be one the process was allowed at start (its taskset or cpuset), unique. null: where the OS put it "
        "(a null after a list puts it back there). Applies live. On 2 cores with SsdInference's 1 inference "
        "thread, SsdInference on the last core and every other component on the others keeps the model from "
        "being preempted (see the README's Benchmarks)."
    )


def _thread_ids() -> set[int]:
    return {int(name) for name in os.listdir(TASKS)}


def apply_cpu_affinity(cpus: Iterable[int] | None) -> frozenset[int]:
    """Every thread of this process on ``cpus`` (None: the CPUs it was allowed at start); the set applied.

    Threads started meanwhile inherit from their creator, which may not have moved yet: the task list is
    read again until it holds no thread not yet moved. OSError when the kernel refuses the set (a cpuset
    shrunk since start)."""
    target = frozenset(cpus) if cpus is not None else STARTING_CPUS
    moved: set[int] = set()
    while pending := _thread_ids() - moved:
        for tid in pending:
            with contextlib.suppress(ProcessLookupError):  # the thread ended since the listing
                os.sched_setaffinity(tid, target)
        moved |= pending
    return target


def _apply_logged(cpus: tuple[int, ...] | None) -> None:
    try:
        applied = apply_cpu_affinity(cpus)
    except OSError as exc:
        log.error("cpuAffinity %s could not be applied, the process stays on CPUs %s: %s",
                  list(cpus) if cpus is not None else None, sorted(os.sched_getaffinity(0)), exc)
        return
    log.info("process on CPUs %s (cpuAffinity %s)", sorted(applied), list(cpus) if cpus is not None else None)


def follow_cpu_affinity(config: LiveConfig[ProcessConfig]) -> None:
    """The process on the configured CPUs now (when some are configured) and after every change of them.

    Call it before the component starts its threads, so that they start on them."""
    if config.current.cpu_affinity is not None:
        _apply_logged(config.current.cpu_affinity)

    def changed(old: ProcessConfig, new: ProcessConfig) -> None:
        if old.cpu_affinity != new.cpu_affinity:
            _apply_logged(new.cpu_affinity)

    config.on_change(changed)
