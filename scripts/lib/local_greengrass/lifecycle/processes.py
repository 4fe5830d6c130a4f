"""Finding and ending every process the daemon started, even ones that left its process groups.

Every process the daemon starts inherits LOCAL_GREENGRASS_INSTANCE=<marker> in its environment;
`down` and the watchdog end whatever still carries it.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterable

import psutil

MARKER_VARIABLE = "LOCAL_GREENGRASS_INSTANCE"
# The stand-ins (mosquitto for IoT Core, DynamoDB Local) play cloud services, which cost a device no
# CPU at all: on a small machine they get the CPU after the components, not before. Their latency
# still counts in everything measured end to end.
STANDIN_NICENESS = 10


def lower_priority() -> None:
    """For a stand-in, between fork and exec (a single syscall, nothing that takes a lock)."""
    os.nice(STANDIN_NICENESS)


def marked_processes(marker: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        if process.pid == os.getpid():
            continue
        try:
            if process.environ().get(MARKER_VARIABLE) == marker:
                found.append(process)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess, OSError):
            continue
    return found


def signal_groups(pgids: Iterable[int], signum: int) -> None:
    for pgid in pgids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signum)


def terminate(processes: list[psutil.Process], grace: float = 5.0) -> list[psutil.Process]:
    """SIGTERM, then SIGKILL what is left after `grace` seconds; returns processes that survived both."""
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    _, alive = psutil.wait_procs(processes, timeout=grace)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    _, alive = psutil.wait_procs(alive, timeout=5.0)
    return alive


def end_everything(marker: str, pgids: Iterable[int] = (), grace: float = 5.0) -> list[psutil.Process]:
    groups = list(pgids)
    signal_groups(groups, signal.SIGTERM)
    survivors = terminate(marked_processes(marker), grace)
    signal_groups(groups, signal.SIGKILL)
    # Something may have forked while we were signalling: one more pass.
    return survivors + terminate(marked_processes(marker), 1.0)
