"""The life of a component process, the same for every smartcam component.

``run_component`` connects the pieces in order: logging, IPC, configuration (waiting, ERRORED,
while it is invalid), the process's CPUs (``cpuAffinity``, followed on every change), the component's
own app, UpdateState RUNNING, then waits for SIGTERM from the nucleus and stops the app and the IPC
connection cleanly.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Literal, Protocol, TypeVar

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

from smartcam.config import ComponentConfig, ConfigError, LiveConfig
from smartcam.cpu_affinity import ProcessConfig, follow_cpu_affinity
from smartcam.ipc import Ipc
from smartcam.logs import setup_logging

log = logging.getLogger(__name__)

C = TypeVar("C", bound=ComponentConfig)


State = Literal["RUNNING", "ERRORED"]


class App(Protocol):
    def start(self) -> State | None:
        """Start serving; return "ERRORED" when nothing can be served (None means RUNNING)."""
        ...

    def stop(self) -> None: ...


def run_component(
    name: str,
    config_model: type[C],
    app_factory: Callable[[Ipc, LiveConfig[C]], App],
    client: GreengrassCoreIPCClientV2,
    stop: threading.Event | None = None,
) -> int:
    """Run until ``stop`` is set (SIGTERM/SIGINT set it when called from the main thread)."""
    setup_logging(name)
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())

    ipc = Ipc(client)
    try:
        def config_error(exc: ConfigError) -> None:
            log.error("configuration unusable, waiting for a deployment that fixes it: %s", exc)
            ipc.report_state("ERRORED")

        config = LiveConfig(ipc, config_model, on_error=config_error)
        if not config.wait_until_valid(stop):
            return 0
        if issubclass(config_model, ProcessConfig):  # before the app starts its threads: they inherit the CPUs
            follow_cpu_affinity(config)  # type: ignore[arg-type]
        try:
            app = app_factory(ipc, config)
            state = app.start() or "RUNNING"
        except Exception:
            log.exception("%s failed to start", name)
            ipc.report_state("ERRORED")
            return 1
        ipc.report_state(state)
        log.info("%s started: %s", name, state)
        while not stop.wait(1.0):
            pass
        log.info("%s stopping", name)
        app.stop()
        return 0
    finally:
        ipc.close()
