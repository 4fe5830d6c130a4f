"""The two devices the e2e scenario runs on, behind one interface: the repository's local runtime
and nucleus lite. Each is started with the same built components and the same configuration, so
one test definition exercises both (tests/nucleus_lite/test_scenario.py).

Both offer what ``local_device.observe.Operator`` needs (``operator()``, ``thing_name()``), the
table the writer stores into, a configuration deployment and the process of a component.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Protocol

import psutil

from dynamo_writer.dynamo import create_table_if_missing
from local_device.overlay import pipeline_merges, write_overlay
from local_device.process import LocalRuntime, OperatorCredentials
from local_device.store import TABLE, table
from local_device.video import copy_people
from local_greengrass.deployment.documents import deep_merge
from local_greengrass.paths import RuntimePaths
from nucleus_lite import corebus
from nucleus_lite.build import ensure_built
from nucleus_lite.device import LiteDevice
from nucleus_lite.namespace import INSIDE_RUN_DIR
from nucleus_lite.reuse import OPERATOR, DynamoDBLocal
from nucleus_lite.sources import Sources
from nucleus_lite.wheelhouse import ensure_wheelhouse
from repo_layout import COMPONENTS_DIR, REPO_ROOT

CAMERA = "cam0"
PIPELINE = ("smartcam.CameraIngest", "smartcam.SsdInference", "smartcam.DynamoWriter")
LITE_RUNS = REPO_ROOT / ".nucleus-lite-run"


class ScenarioDevice(Protocol):
    name: str

    def operator(self) -> OperatorCredentials: ...
    def thing_name(self) -> str: ...
    def table(self) -> Any: ...
    def configure(self, merges: dict[str, dict[str, Any]]) -> None: ...
    def component_process(self, component: str) -> psutil.Process | None: ...
    def exposed_listeners(self) -> list[str]: ...
    def down(self) -> None: ...



def scenario_merges(camera_folder: str) -> dict[str, dict[str, Any]]:
    """The configuration both devices get: a folder camera of photos with one person each, a table
    created on first use, every frame summarised to IoT Core (local_device.overlay.pipeline_merges)."""
    # The motion gate is off: each frame is a cut to another photo, and the scenario follows every frame.
    camera = {"id": CAMERA, "source": {"type": "folder", "path": camera_folder, "fps": 10}, "width": 640,
              "height": 480, "loop": True, "motion": {"enabled": False}}
    return pipeline_merges(camera=camera)


class LocalRuntimeDevice:
    """scripts/local-greengrass under ``root``, deployed recipes/dev.json plus the scenario's merges."""

    name = "local runtime"

    def __init__(self, root: Path) -> None:
        self.runtime = LocalRuntime(root)
        self.root = root
        self.merges: dict[str, dict[str, Any]] = {}
        self.deploy_seconds = 0.0

    def up(self) -> None:
        self.runtime.down()  # a runtime left behind by an interrupted run
        self.merges = scenario_merges(str(copy_people(self.root / "scenario-camera")))
        document = write_overlay(self.root / "scenario" / "deployment.json", self.merges, name="smartcam-scenario")
        started = time.monotonic()
        self.runtime.up(document)
        self.deploy_seconds = time.monotonic() - started

    def operator(self) -> OperatorCredentials:
        return self.runtime.operator()

    def thing_name(self) -> str:
        return self.runtime.thing_name()

    def table(self) -> Any:
        return table(self.runtime.dynamodb_endpoint())

    def configure(self, merges: dict[str, dict[str, Any]]) -> None:
        self.merges = deep_merge(self.merges, merges)
        document = write_overlay(self.root / "scenario" / f"deployment-{time.monotonic_ns()}.json", self.merges,
                                 name="smartcam-scenario")
        self.runtime.deploy(document)

    def component_process(self, component: str) -> psutil.Process | None:
        return self.runtime.component_process(component)

    def exposed_listeners(self) -> list[str]:
        return [f"{name} {where}" for name, where, _ in tcp_listeners(self.nucleus_processes()) if not_loopback(where)]

    def nucleus_processes(self) -> list[psutil.Process]:
        """The local runtime's daemon and its own helpers (the watchdog), without components."""
        with contextlib.suppress(OSError, ValueError, psutil.Error):
            daemon = psutil.Process(int(RuntimePaths(self.root).pid_file.read_text().strip()))
            helpers = [p for p in daemon.children(recursive=True) if _is_local_greengrass(p)]
            return [daemon, *helpers]
        return []

    def down(self) -> None:
        self.runtime.down()


class LiteRuntimeDevice:
    """Nucleus lite built from ``sources``, in a private systemd, with its loopback cloud side and
    DynamoDB Local; the built components deployed with ``ggl-cli deploy``, then the scenario's
    configuration merged in one local deployment."""

    name = "nucleus lite"

    def __init__(self, sources: Sources, runs: Path = LITE_RUNS) -> None:
        self.sources = sources
        self.runs = runs
        self.dynamodb: DynamoDBLocal | None = None
        self.device: LiteDevice | None = None
        self.merges: dict[str, dict[str, Any]] = {}
        self.deploy_seconds = 0.0

    def up(self) -> None:
        prefix = ensure_built(self.sources)
        wheels = ensure_wheelhouse(COMPONENTS_DIR / "Runtime" / "requirements.txt")
        self.runs.mkdir(parents=True, exist_ok=True)
        run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=self.runs))
        try:
            self.dynamodb = DynamoDBLocal(run_dir / "dynamodb")
            self.dynamodb.start()
            # The table exists before the device does, as infrastructure/dynamodb.yaml makes it.
            create_table_if_missing(self.dynamodb.client(), TABLE)
            environment = {"AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb.endpoint,  # the stand-in, as locally
                           "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels)}  # the venv from the wheelhouse
            self.device = LiteDevice(prefix, run_dir, environment=environment)
            self.device.start()
            people = copy_people(run_dir / "camera")
            for path in (people, *people.iterdir()):
                path.chmod(0o755 if path.is_dir() else 0o644)
            started = time.monotonic()
            self.device.deploy_built_components()
            self.device.wait_states({name: ("RUNNING",) for name in self.device.versions}, timeout=600)
            self.deploy_seconds = time.monotonic() - started
            self.configure(scenario_merges(str(INSIDE_RUN_DIR / "camera")))
        except BaseException:
            self.down()
            raise

    def _lite(self) -> LiteDevice:
        if self.device is None:
            raise RuntimeError("nucleus lite is not up")
        return self.device

    def operator(self) -> OperatorCredentials:
        broker = self._lite().cloud.broker
        cert, key = broker.issue_client_cert(OPERATOR)
        return OperatorCredentials(broker.host, broker.port, broker.ca_path, cert, key)

    def thing_name(self) -> str:
        return self._lite().thing_name

    def table(self) -> Any:
        if self.dynamodb is None:
            raise RuntimeError("nucleus lite is not up")
        return table(self.dynamodb.endpoint)

    def configure(self, merges: dict[str, dict[str, Any]], timeout: float = 120.0) -> None:
        """One local deployment merging ``merges``; returns once lite's configuration holds them."""
        device = self._lite()
        self.merges = deep_merge(self.merges, merges)
        device.update_configuration(merges)
        deadline = time.monotonic() + timeout
        pending = [(component, key, value) for component, merge in merges.items() for key, value in merge.items()]
        while pending and time.monotonic() < deadline:
            component, key, value = pending[0]
            path = ["services", component, "configuration", key]
            with contextlib.suppress(corebus.CoreBusError):
                current = corebus.call(device.host_path("/run/greengrass"), "gg_config", "read", {"key_path": path})
                if _holds(current, value):
                    pending.pop(0)
                    continue
            time.sleep(0.25)
        if pending:
            raise TimeoutError(f"lite's configuration did not take {pending[0][:2]} within {timeout:g} s")

    def component_process(self, component: str) -> psutil.Process | None:
        return self._lite().component_process(component)

    def exposed_listeners(self) -> list[str]:
        """TCP listeners of lite's daemons that take non-loopback traffic: one bound to 0.0.0.0 counts
        unless its systemd unit refuses every non-loopback address (IPAddressDeny=any)."""
        device = self._lite()
        exposed = []
        for name, where, process in tcp_listeners(self.nucleus_processes()):
            if not not_loopback(where):
                continue
            unit = _unit_of(process)
            shown = device.systemd.run("systemctl", "show", "-p", "IPAddressDeny", "-p", "IPAddressAllow", unit,
                                       check=False).stdout if unit else ""
            rules = dict(line.split("=", 1) for line in shown.splitlines() if "=" in line)
            denied = set(rules.get("IPAddressDeny", "").split())
            if not {"0.0.0.0/0", "::/0"} <= denied or "127.0.0.0/8" not in rules.get("IPAddressAllow", "").split():
                exposed.append(f"{name} {where} ({unit or 'no unit'})")
        return exposed

    def nucleus_processes(self) -> list[psutil.Process]:
        """Lite's own daemons (ggl binaries), without its components."""
        found = []
        bin_dir = str(self._lite().prefix / "bin")
        for process in self._lite().processes():
            with contextlib.suppress(psutil.Error):
                if process.exe().startswith(bin_dir):
                    found.append(process)
        return found

    def down(self) -> None:
        device, self.device = self.device, None
        dynamodb, self.dynamodb = self.dynamodb, None
        try:
            if device is not None:
                device.stop()
        finally:
            if dynamodb is not None:
                dynamodb.stop()
            if device is not None:
                shutil.rmtree(device.run_dir, ignore_errors=True)


def tcp_listeners(processes: list[psutil.Process]) -> list[tuple[str, str, psutil.Process]]:
    """(process name, address:port, process) of every listening TCP socket of ``processes``."""
    found = []
    for process in processes:
        with contextlib.suppress(psutil.Error):
            for connection in process.net_connections(kind="tcp"):
                if connection.status == psutil.CONN_LISTEN:
                    found.append((process.name(), f"{connection.laddr.ip}:{connection.laddr.port}", process))
    return found


def not_loopback(where: str) -> bool:
    host = where.rsplit(":", 1)[0]
    return not (host.startswith("127.") or host in ("::1", "localhost"))


def _unit_of(process: psutil.Process) -> str | None:
    """The systemd unit a process of the namespace runs in (from its cgroup path)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{process.pid}/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                leaf = line.rsplit("/", 1)[-1]
                return leaf if leaf.endswith(".service") else None
    return None


def _is_local_greengrass(process: psutil.Process) -> bool:
    with contextlib.suppress(psutil.Error):
        return any("local_greengrass" in part for part in process.cmdline())
    return False


def _holds(current: Any, wanted: Any) -> bool:
    """Whether lite's configuration ``current`` holds the merge ``wanted`` (maps: every merged key;
    lite keeps the keys a merge does not name; numbers compared as JSON values)."""
    if isinstance(wanted, dict):
        return isinstance(current, dict) and all(k in current and _holds(current[k], v) for k, v in wanted.items())
    return json.loads(json.dumps(current)) == json.loads(json.dumps(wanted))
