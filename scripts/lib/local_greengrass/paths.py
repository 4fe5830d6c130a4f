"""Where the local runtime keeps things, laid out like a nucleus root (packages/, work/, logs/)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from repo_layout import REPO_ROOT

DEFAULT_COMPONENTS_DIR = REPO_ROOT / "components"
# A Unix socket path must fit in sun_path (108 bytes on Linux, including the NUL).
_MAX_SOCKET_PATH = 100


def default_root() -> Path:
    return Path(os.environ.get("LOCAL_GREENGRASS_ROOT") or REPO_ROOT / ".local-greengrass").resolve()


@dataclass(frozen=True)
class RuntimePaths:
    root: Path

    @property
    def packages(self) -> Path:
        return self.root / "packages"

    def artifacts(self, component: str, version: str) -> Path:
        return self.packages / "artifacts" / component / version

    def unarchived(self, component: str, version: str) -> Path:
        return self.packages / "artifacts-unarchived" / component / version

    def work(self, component: str) -> Path:
        return self.root / "work" / component

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def log(self, component: str) -> Path:
        return self.logs / f"{component}.log"

    @property
    def daemon_log(self) -> Path:
        return self.logs / "local-greengrass.log"

    @property
    def run(self) -> Path:
        """Sockets and pid files. Falls back to a short per-root folder in /tmp when the root is deep."""
        preferred = self.root / "run"
        if len(str(preferred / "control.sock")) <= _MAX_SOCKET_PATH:
            return preferred
        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"local-greengrass-{digest}"

    @property
    def control_socket(self) -> Path:
        return self.run / "control.sock"

    @property
    def ipc_socket(self) -> Path:
        return self.run / "ipc.sock"

    @property
    def pid_file(self) -> Path:
        return self.run / "daemon.pid"

    @property
    def instance_file(self) -> Path:
        """Holds the marker every process started by the daemon carries in its environment."""
        return self.run / "instance"

    @property
    def metrics_file(self) -> Path:
        """Metrics the aws.greengrass.Cloudwatch stand-in accepted, one JSON line each (AWS's format)."""
        return self.root / "metrics" / "metrics.jsonl"

    def standin(self, name: str) -> Path:
        return self.root / "standins" / name

    def create(self) -> None:
        for folder in (self.packages, self.logs, self.root / "work", self.root / "standins"):
            folder.mkdir(parents=True, exist_ok=True)
        self.run.mkdir(parents=True, exist_ok=True, mode=0o700)
