"""Greengrass IPC server on a Unix socket, served by an asyncio loop on a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from local_greengrass.configuration.validation import ConfigValidation
from local_greengrass.ipc.connection import MAX_PENDING_EVENT_BYTES, IpcConnection
from local_greengrass.ipc.operations import Operations
from local_greengrass.ipc.pubsub import LocalPubSub

if TYPE_CHECKING:
    from local_greengrass.configuration.store import ConfigStore
    from local_greengrass.ipc.iot_core import IoTCoreBridge

log = logging.getLogger(__name__)

SOCKET_MODE = 0o600
MAX_SOCKET_PATH_BYTES = 107  # sun_path is 108 bytes with the terminating NUL


class IpcServer:
    def __init__(
        self,
        socket_path: Path,
        config: ConfigStore,
        iot: IoTCoreBridge | None = None,
        on_state: Callable[[str, str], None] = lambda component, state: None,
        *,
        thing_name: str | None = None,
        socket_mode: int = SOCKET_MODE,
        max_pending_event_bytes: int = MAX_PENDING_EVENT_BYTES,
    ) -> None:
        self.socket_path = Path(socket_path)
        self.config = config
        self.pubsub = LocalPubSub()
        self.validation = ConfigValidation()  # the deployment side asks components through this
        self.operations = Operations(config, self.pubsub, iot, on_state, thing_name, validation=self.validation)
        self._socket_mode = socket_mode
        self.max_pending_event_bytes = max_pending_event_bytes
        self._lock = threading.Lock()
        self._tokens: dict[str, str] = {}  # token -> component
        self._connections: set[IpcConnection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None

    # components --------------------------------------------------------------------------------
    def add_component(self, name: str) -> str:
        """A new SVCUID for ``name``; an earlier token of the same component stops working."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            for old in [t for t, component in self._tokens.items() if component == name]:
                del self._tokens[old]
            self._tokens[token] = name
        return token

    def remove_component(self, name: str) -> None:
        with self._lock:
            for old in [t for t, component in self._tokens.items() if component == name]:
                del self._tokens[old]
        self._call_on_loop(lambda: [c.close() for c in list(self._connections) if c.component == name])

    def authenticate(self, token: str) -> str | None:
        with self._lock:
            return self._tokens.get(token)

    def connected_components(self) -> list[str]:
        return sorted({c.component for c in list(self._connections) if c.component})

    def dropped_events(self) -> dict[str, int]:
        """Stream events dropped per connected component because it did not read its socket."""
        counts: dict[str, int] = {}
        for connection in list(self._connections):
            if connection.component and connection.dropped_events:
                counts[connection.component] = counts.get(connection.component, 0) + connection.dropped_events
        return counts

    # connection bookkeeping (event loop thread) -----------------------------------------------
    def connection_opened(self, connection: IpcConnection) -> None:
        self._connections.add(connection)

    def connection_closed(self, connection: IpcConnection) -> None:
        self._connections.discard(connection)

    # lifecycle -----------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("IpcServer already started")
        self._prepare_socket_path()
        ready = threading.Event()
        failure: list[Exception] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    loop.create_unix_server(lambda: IpcConnection(self, loop), path=str(self.socket_path), backlog=128)
                )
                os.chmod(self.socket_path, self._socket_mode)
            except Exception as exc:  # noqa: BLE001 - handed to start() and re-raised there
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="ipc-server", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]
        log.info("IPC server listening on %s", self.socket_path)

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._thread = None
        self._loop = None
        self.operations.shutdown()
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections):
            connection.close()
        for _ in range(3):  # let connection_lost run and release subscriptions
            await asyncio.sleep(0)

    # helpers -------------------------------------------------------------------------------------
    def _call_on_loop(self, action: Callable[[], object]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(action)

    def _prepare_socket_path(self) -> None:
        if len(os.fsencode(self.socket_path)) > MAX_SOCKET_PATH_BYTES:
            raise ValueError(f"{self.socket_path} is too long for a Unix socket path ({MAX_SOCKET_PATH_BYTES} bytes)")
        parent = self.socket_path.parent
        if not parent.exists():
            parent.mkdir(mode=0o700, parents=True)
        mode = parent.stat().st_mode
        if mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise PermissionError(f"{parent} is writable by others; the IPC socket needs a private directory")
        if self.socket_path.exists() or self.socket_path.is_symlink():
            if not stat.S_ISSOCK(self.socket_path.lstat().st_mode):
                raise FileExistsError(f"{self.socket_path} exists and is not a socket")
            if self._socket_in_use():
                raise OSError(f"another server is listening on {self.socket_path}")
            self.socket_path.unlink()

    def _socket_in_use(self) -> bool:
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(self.socket_path))
        except OSError:
            return False
        finally:
            probe.close()
        return True
