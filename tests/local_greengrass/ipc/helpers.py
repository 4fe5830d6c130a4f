"""An IPC server bridged to the mosquitto stand-in, shared by the IoT Core tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from local_greengrass.configuration.store import ConfigStore
from local_greengrass.ipc.iot_core import IoTCoreBridge
from local_greengrass.ipc.server import IpcServer
from local_greengrass.standins.mosquitto import Mosquitto


@contextlib.contextmanager
def bridged_server(broker: Mosquitto, short_dir: Path, config: ConfigStore, thing: str) -> Iterator[IpcServer]:
    """An IpcServer bridged to mosquitto with ``thing``'s certificate, as the nucleus is to IoT Core."""
    cert, key = broker.issue_client_cert(thing)
    bridge = IoTCoreBridge(broker.host, broker.port, broker.ca_path, cert, key, client_id=thing)
    bridge.start()
    server = IpcServer(short_dir / "ipc.sock", config, iot=bridge, thing_name=thing)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        bridge.stop()
