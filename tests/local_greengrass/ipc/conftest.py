"""Fixtures for the IPC server tests: a server on a private Unix socket, and real client processes."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local_greengrass.configuration.store import ConfigStore
from local_greengrass.ipc.server import IpcServer
from local_greengrass.standins.mosquitto import Mosquitto

CLIENT_SCRIPT = Path(__file__).with_name("client_process.py")
REPLY_TIMEOUT = 90.0


class ClientProcess:
    """A separate Python process running the unmodified GreengrassCoreIPCClientV2."""

    def __init__(self, socket_path: Path, token: str) -> None:
        env = {
            **os.environ,
            "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT": str(socket_path),
            "SVCUID": token,
            "PYTHONUNBUFFERED": "1",
        }
        self.process = subprocess.Popen(
            [sys.executable, str(CLIENT_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self._replies: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._replies.put(line)
        self._replies.put(None)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._stderr.append(line)

    def call(self, op: str, timeout: float = REPLY_TIMEOUT, **arguments: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": op, **arguments}) + "\n")
        self.process.stdin.flush()
        try:
            line = self._replies.get(timeout=timeout)
        except queue.Empty:
            stderr = "".join(self._stderr)[-3000:]
            raise AssertionError(f"no reply to {op} within {timeout}s; stderr: {stderr}") from None
        if line is None:
            raise AssertionError(f"client exited during {op}; stderr: {''.join(self._stderr)[-3000:]}")
        return json.loads(line)

    def ok(self, op: str, **arguments: Any) -> Any:
        reply = self.call(op, **arguments)
        assert reply["ok"], reply
        return reply["result"]

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.write(json.dumps({"op": "exit"}) + "\n")
                self.process.stdin.flush()
                self.process.wait(timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A private directory with a short path (Unix socket paths are limited to ~107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="ggipc-", dir="/tmp"))
    os.chmod(path, 0o700)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def config() -> ConfigStore:
    return ConfigStore()


@pytest.fixture
def states() -> list[tuple[str, str]]:
    return []


@pytest.fixture
def server(short_dir: Path, config: ConfigStore, states: list[tuple[str, str]]) -> Iterator[IpcServer]:
    ipc = IpcServer(short_dir / "ipc.sock", config, on_state=lambda component, state: states.append((component, state)))
    ipc.start()
    yield ipc
    ipc.stop()


@pytest.fixture
def spawn_client(server: IpcServer) -> Iterator[Callable[[str], ClientProcess]]:
    clients: list[ClientProcess] = []

    def spawn(token: str) -> ClientProcess:
        client = ClientProcess(server.socket_path, token)
        clients.append(client)
        return client

    yield spawn
    for client in clients:
        client.close()



@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    mosquitto = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    mosquitto.start()
    yield mosquitto
    mosquitto.stop()
