"""A handle on one local Greengrass runtime (scripts/local-greengrass) under its own root.

Everything goes through the runtime's CLI and its `status --json`; component processes are found by
their work folder (Greengrass starts a component in <root>/work/<component>).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from local_greengrass.lifecycle.processes import marked_processes
from local_greengrass.paths import RuntimePaths
from local_greengrass.standins.dynamodb_local import is_dynamodb_local
from repo_layout import REPO_ROOT

CLI = REPO_ROOT / "scripts" / "local-greengrass"
SCRIPTS = REPO_ROOT / "scripts"


class RuntimeFailure(RuntimeError):
    pass


@dataclass(frozen=True)
class OperatorCredentials:
    host: str
    port: int
    ca: Path
    cert: Path
    key: Path


class LocalRuntime:
    def __init__(self, root: Path, echo: Callable[[str], None] | None = None) -> None:
        self.root = Path(root).resolve()
        self.echo = echo or (lambda line: None)

    # the CLI ------------------------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        return dict(os.environ, LOCAL_GREENGRASS_ROOT=str(self.root))

    def cli(self, *args: str, timeout: float = 600.0, stream: bool = False) -> subprocess.CompletedProcess[str]:
        """Run `local-greengrass <args>`; with ``stream`` each output line goes to ``echo`` as it comes."""
        command = [str(CLI), *args, "--root", str(self.root)]
        if not stream:
            return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=self._env(),
                                  check=False)
        lines: list[str] = []
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=self._env()) as process:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                self.echo(line.rstrip())
            code = process.wait(timeout)
        return subprocess.CompletedProcess(command, code, "".join(lines), "")

    def up(self, document: Path, timeout: float = 900.0, options: tuple[str, ...] = ()) -> None:
        """``options``: more `up` options, e.g. ("--thing-name", "cam-1", "--iot-core-of", str(other.root))."""
        self.root.mkdir(parents=True, exist_ok=True)
        result = self.cli("up", str(document), "--timeout", str(timeout), *options, timeout=timeout + 300,
                          stream=True)
        if result.returncode != 0:
            raise RuntimeFailure(f"`local-greengrass up` failed ({result.returncode}); "
                                 f"logs in {self.root / 'logs'}")

    def deploy(self, document: Path, timeout: float = 300.0) -> str:
        result = self.cli("deploy", str(document), "--timeout", str(timeout), timeout=timeout + 60)
        if result.returncode != 0:
            raise RuntimeFailure(f"`local-greengrass deploy` failed: {result.stdout}{result.stderr}")
        return result.stdout

    def down(self) -> None:
        self.cli("down", timeout=400)  # also removes this device's frame ring, as a reboot would


    def status(self) -> dict[str, Any]:
        result = self.cli("status", "--json", timeout=60)
        if result.returncode != 0:
            raise RuntimeFailure(f"the runtime at {self.root} is not up: {result.stderr.strip()}")
        return json.loads(result.stdout)

    def states(self) -> dict[str, str]:
        return {row["component"]: row["state"] for row in self.status()["components"]}

    def env(self, component: str) -> dict[str, str]:
        result = self.cli("env", component, timeout=60)
        if result.returncode != 0:
            raise RuntimeFailure(result.stderr.strip())
        variables = {}
        for line in result.stdout.splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            variables[name] = _unquote(value)
        return variables

    def thing_name(self) -> str:
        return str(self.status()["thing_name"])

    def dynamodb_endpoint(self) -> str:
        return str(self.status()["standins"]["dynamodb"])

    def operator(self) -> OperatorCredentials:
        """An operator certificate from the IoT Core stand-in's CA (identity `operator` in its ACL)."""
        from local_greengrass.standins.mosquitto import OPERATOR, Mosquitto

        iot = self.status()["standins"]["iot_core"]
        broker = Mosquitto(Path(iot["workdir"]))  # only issues a certificate; the running broker is untouched
        cert, key = broker.issue_client_cert(OPERATOR)
        return OperatorCredentials(iot["host"], int(iot["port"]), Path(iot["ca_path"]), cert, key)

    # processes ---------------------------------------------------------------------------------
    def component_process(self, component: str) -> psutil.Process | None:
        """The component's Python process (started in its work folder, running main.py)."""
        work = str(self.root / "work" / component)
        for process in psutil.process_iter(["cmdline", "cwd"]):
            info = process.info
            cmdline = info.get("cmdline") or []
            if info.get("cwd") == work and any(part.endswith("main.py") for part in cmdline) \
                    and "python" in Path(cmdline[0]).name:
                return process
        return None

    def wait_component_process(self, component: str, timeout: float = 180.0,
                               not_pid: int | None = None) -> psutil.Process:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.component_process(component)
            row = next((r for r in self.status()["components"] if r["component"] == component), {})
            # RUNNING comes at process start (as on the nucleus); the component's own UpdateState
            # RUNNING comes after it has subscribed, i.e. when a command can reach it.
            if process is not None and process.pid != not_pid and row.get("reported") == "RUNNING":
                return process
            time.sleep(0.5)
        raise RuntimeFailure(f"{component} did not report RUNNING again within {timeout:g} s "
                             f"(states {self.states()})")

    def kill_component(self, component: str) -> int:
        process = self.component_process(component)
        if process is None:
            raise RuntimeFailure(f"{component} has no running process")
        os.kill(process.pid, signal.SIGKILL)
        return process.pid

    def kill_daemon(self, timeout: float = 60.0) -> int:
        """SIGKILL the runtime daemon, as a crash would, and wait until its watchdog has ended everything
        it started (components and stand-ins). State on disk (work folders, the frame ring in /dev/shm,
        the stand-ins' data) stays, as it does on a device whose nucleus crashed. Returns the daemon's pid."""
        paths = RuntimePaths(self.root)
        pid = int(paths.pid_file.read_text().strip())
        marker = paths.instance_file.read_text().strip()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while psutil.pid_exists(pid) or marked_processes(marker):
            if time.monotonic() > deadline:
                raise RuntimeFailure(f"processes of the killed daemon {pid} still run after {timeout:g} s")
            time.sleep(0.2)
        return pid

    def dynamodb_process(self) -> psutil.Process:
        """The runtime's DynamoDB Local (java ... LoopbackDynamoDBLocal 127.0.0.1 ... -port <its port>)."""
        port = self.dynamodb_endpoint().rsplit(":", 1)[1]
        for process in psutil.process_iter(["cmdline"]):
            cmdline = process.info.get("cmdline") or []
            if is_dynamodb_local(cmdline) and port in cmdline:
                return process
        raise RuntimeFailure(f"no DynamoDB Local process on port {port}")


def _unquote(value: str) -> str:
    import shlex

    parts = shlex.split(value)
    return parts[0] if parts else ""
