"""One nucleus lite device for tests: its cloud side on loopback, a private systemd running the
nucleus, deployments with ``ggl-cli deploy`` and component states from its health service."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

import psutil

from nucleus_lite import config, corebus
from nucleus_lite.cloud import ROLE_ALIAS, CloudSide
from nucleus_lite.namespace import INSIDE_RUN_DIR, PrivateSystemd
from nucleus_lite.staging import stage

log = logging.getLogger(__name__)

ROOT_INSIDE = Path("/var/lib/greengrass")
SOCKETS_INSIDE = Path("/run/greengrass")
REGION = "us-east-1"
SETTLED = ("RUNNING", "FINISHED", "BROKEN")
TES_UNIT = "ggl.aws.greengrass.TokenExchangeService.service"


class DeviceError(RuntimeError):
    pass


class LiteDevice:
    def __init__(self, prefix: Path, run_dir: Path, thing_name: str = "smartcam-lite-core",
                 environment: dict[str, str] | None = None) -> None:
        self.prefix = prefix
        self.run_dir = run_dir
        self.thing_name = thing_name
        self.environment = dict(environment or {})
        self.cloud = CloudSide(run_dir / "cloud", thing_name)
        self.systemd = PrivateSystemd(run_dir, f"smartcam-nucleus-lite-{run_dir.name}")
        self.versions: dict[str, str] = {}

    # lifecycle of the device -------------------------------------------------------------------
    def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.chmod(0o755)  # seen at /tmp/ggl inside; the nucleus's users traverse it
        try:
            self.cloud.start()
            self.cloud.device_certificates(self.run_dir / "certs")
            assert self.cloud.credentials is not None and self.cloud.data_plane is not None
            settings = config.DeviceSettings(self.thing_name, REGION, f"localhost:{self.cloud.credentials.port}",
                                             self.cloud.data_plane.port, ROLE_ALIAS)
            (self.run_dir / "config.yaml").write_text(config.render(settings))
            self.systemd.start()
            self._start_nucleus()
        except BaseException:
            self.stop()
            raise

    def _start_nucleus(self) -> None:
        if self.environment:  # inherited by every unit the nucleus starts (components included)
            self.systemd.run("systemctl", "set-environment", *(f"{k}={v}" for k, v in self.environment.items()))
        # Lite's tes-serverd (the components' credentials endpoint) binds 0.0.0.0 on a random port
        # (tes-serverd/src/http_server.c), and this namespace shares the host's network: a drop-in
        # keeps it to loopback traffic (systemd's IP access control, a cgroup BPF filter).
        drop_in = self.systemd.host_path(f"/etc/systemd/system/{TES_UNIT}.d/loopback-only.conf")
        drop_in.parent.mkdir(parents=True, exist_ok=True)
        drop_in.write_text("[Service]\nIPAddressDeny=any\nIPAddressAllow=localhost\n")
        units = sorted((self.prefix / "lib" / "systemd" / "system").iterdir())
        self.systemd.run("systemctl", "link", *map(str, units))
        enable = [u.name for u in units if u.suffix in (".socket", ".service", ".target")]
        self.systemd.run("systemctl", "enable", *enable)
        self.systemd.run("systemctl", "daemon-reload")
        self.systemd.run("systemctl", "start", "greengrass-lite.target", timeout=120)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.systemd.host_path(SOCKETS_INSIDE / "gg_deployment").exists() and \
                    self.systemd.host_path(SOCKETS_INSIDE / "gg_health").exists():
                return
            time.sleep(0.2)
        raise DeviceError(f"nucleus lite's core bus did not come up; {self.journal(lines=80)}")

    def stop(self) -> None:
        try:
            self.systemd.stop()
        finally:
            self.cloud.stop()

    # deployments -------------------------------------------------------------------------------
    def deploy_built_components(self) -> dict[str, str]:
        """Stage ``components/*/greengrass-build`` and deploy all of it with ``ggl-cli deploy``."""
        self.versions = stage(self.run_dir / "deploy")
        inside = INSIDE_RUN_DIR / "deploy"
        command = [str(self.prefix / "bin" / "ggl-cli"), "deploy", "--recipe-dir", str(inside / "recipes"),
                   "--artifacts-dir", str(inside / "artifacts")]
        for name, version in self.versions.items():
            command += ["--add-component", f"{name}={version}"]
        self.systemd.run(*command, timeout=60)
        return self.versions

    def update_configuration(self, merges: dict[str, dict[str, Any]]) -> str:
        """A local deployment that merges configuration (what ``ggl-cli deploy`` has no option for),
        sent to the deployment service on lite's core bus as ggl-cli sends its own."""
        params = {"root_component_versions_to_add": dict(self.versions),
                  "component_to_configuration": {name: {"merge": merge} for name, merge in merges.items()}}
        return str(corebus.call(self._sockets(), "gg_deployment", "create_local_deployment", params))

    # state -------------------------------------------------------------------------------------
    def _sockets(self) -> Path:
        return self.systemd.host_path(SOCKETS_INSIDE)

    def state(self, component: str) -> str:
        try:
            answer = corebus.call(self._sockets(), "gg_health", "get_status", {"component_name": component})
        except corebus.CoreBusError:
            return "UNKNOWN"
        return str(answer.get("lifecycle_state", "UNKNOWN")) if isinstance(answer, dict) else "UNKNOWN"

    def states(self) -> dict[str, str]:
        return {name: self.state(name) for name in self.versions}

    def wait_states(self, wanted: dict[str, tuple[str, ...]], timeout: float = 600.0) -> dict[str, str]:
        """Wait until each named component is in one of its wanted states; BROKEN fails at once."""
        deadline = time.monotonic() + timeout
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            states = {name: self.state(name) for name in wanted}
            broken = [name for name, state in states.items() if state == "BROKEN" and "BROKEN" not in wanted[name]]
            if broken:
                raise DeviceError(f"{broken} BROKEN: {self.journal(f'ggl.{broken[0]}.service')}")
            if all(states[name] in wanted[name] for name in wanted):
                return states
            time.sleep(0.5)
        raise DeviceError(f"states {states} after {timeout:g} s; deployment log:\n"
                          f"{self.journal('ggl.core.ggdeploymentd.service', lines=60)}")

    def journal(self, unit: str | None = None, lines: int = 200) -> str:
        command = ["journalctl", "--no-pager", "-n", str(lines), "-o", "short-precise"]
        if unit:
            command += ["-u", unit]
        return self.systemd.run(*command, check=False, timeout=30).stdout

    def processes(self) -> list[psutil.Process]:
        return self.systemd.processes()

    def component_process(self, component: str) -> psutil.Process | None:
        """The component's Python process (cwd = its work folder, running main.py)."""
        work = str(ROOT_INSIDE / "work" / component)
        for process in self.processes():
            try:
                cmdline = process.cmdline()
                if process.cwd().rstrip("/") == work and any(p.endswith("main.py") for p in cmdline):
                    return process
            except psutil.Error:
                continue
        return None

    def host_path(self, inside: str | Path) -> Path:
        return self.systemd.host_path(inside)

    def remove_run_dir(self) -> None:
        shutil.rmtree(self.run_dir, ignore_errors=True)
