"""A private systemd in its own PID + mount + cgroup namespace (root only), started and killed whole.

``data/outer.sh`` puts the process into a per-run cgroup and ``unshare``s; ``data/inner.sh`` (PID 1
inside) mounts tmpfs on /run, /tmp and /dev/shm, overlays /etc and /var, masks every early-boot unit
and execs systemd. The host's /tmp is never visible inside: a systemd that sees it runs
``systemd-tmpfiles --boot`` and empties it. Commands run inside with ``nsenter``; stopping kills
the namespace's PID 1, which takes every process inside with it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psutil

DATA = Path(__file__).resolve().parent / "data"
CGROUP_ROOT = Path("/sys/fs/cgroup")
HIERARCHIES = ("systemd", "unified")
_PR_SET_PDEATHSIG = 1
# The run folder as seen inside the namespace's own tmpfs.
INSIDE_RUN_DIR = Path("/tmp/ggl")  # noqa: S108  # nosec B108


class NamespaceError(RuntimeError):
    pass


def available() -> str | None:
    """Why a private systemd cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "needs root (CAP_SYS_ADMIN) for its own PID/mount/cgroup namespace"
    for tool in ("unshare", "nsenter", "systemctl"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not Path("/lib/systemd/systemd").exists():
        return "systemd is not installed"
    if not all((CGROUP_ROOT / h).is_dir() for h in HIERARCHIES):
        return f"cgroup hierarchies {HIERARCHIES} not mounted under {CGROUP_ROOT}"
    return None


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the process that started it dies (a killed test run),
    which reaches unshare, whose --kill-child then takes the namespace's PID 1 and everything inside."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def alive(process: psutil.Process) -> bool:
    """Still running (a zombie waiting for its reaper is not)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class PrivateSystemd:
    """One private systemd whose only host folder is ``run_dir`` (seen at /tmp/ggl inside)."""

    def __init__(self, run_dir: Path, name: str) -> None:
        if run_dir.resolve().is_relative_to("/var") or run_dir.resolve().is_relative_to("/etc"):
            raise NamespaceError(f"{run_dir}: the run folder must be outside /var and /etc (overlaid inside)")
        # refusing /tmp, not using it
        if run_dir.resolve().is_relative_to("/tmp"):  # noqa: S108  # nosec B108
            raise NamespaceError(f"{run_dir}: never under the host's /tmp")
        self.run_dir = run_dir.resolve()
        self.name = name
        self._outer: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None  # the namespace's PID 1 (systemd), as the host sees it
        self.console = self.run_dir / "systemd-console.log"

    # start / stop ------------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> None:
        ns = self.run_dir / "ns"
        for sub in ("etc-upper", "etc-work", "var-upper", "var-work"):
            (ns / sub).mkdir(parents=True, exist_ok=True)
        for script in ("outer.sh", "inner.sh", "ggtest.target"):
            shutil.copy2(DATA / script, ns / script)
        with self.console.open("ab") as console:
            self._outer = subprocess.Popen(
                ["/bin/bash", str(ns / "outer.sh"), self.name, str(self.run_dir)],
                stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_die_with_parent)  # noqa: PLW1509 - one prctl, no locks
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pid = self._find_init()
            if self.pid is not None and self._booted():
                return
            if self._outer.poll() is not None:
                raise NamespaceError(f"the private systemd exited ({self._outer.returncode}); see {self.console}")
            time.sleep(0.2)
        self.stop()
        raise NamespaceError(f"the private systemd did not boot within {timeout:g} s; see {self.console}")

    def _find_init(self) -> int | None:
        if self._outer is None:
            return None
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self._outer.pid).children():  # unshare --fork -> PID 1 inside
                return child.pid
        return None

    def _booted(self) -> bool:
        result = self.run("systemctl", "is-system-running", check=False, timeout=10)
        return result.stdout.strip() in ("running", "degraded")

    def stop(self) -> None:
        """Kill the namespace's PID 1 (every process inside dies with it), then remove its cgroups."""
        inside = self.processes()
        outer, self._outer = self._outer, None
        pid, self.pid = self.pid, None
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if outer is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(outer.pid, signal.SIGKILL)
            outer.wait(timeout=30)
        deadline = time.monotonic() + 30
        while any(alive(p) for p in inside) and time.monotonic() < deadline:
            time.sleep(0.1)
        self._remove_cgroups()

    def _remove_cgroups(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        for hierarchy in HIERARCHIES:
            top = CGROUP_ROOT / hierarchy / self.name
            while top.exists() and time.monotonic() < deadline:
                for folder in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                    with contextlib.suppress(OSError):
                        folder.rmdir()
                with contextlib.suppress(OSError):
                    top.rmdir()
                if top.exists():
                    time.sleep(0.2)

    # inside ------------------------------------------------------------------------------------
    def run(self, *command: str, check: bool = True, timeout: float = 120.0,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``command`` inside every namespace of the private systemd."""
        if self.pid is None:
            raise NamespaceError("the private systemd is not running")
        prefix = ["nsenter", "-t", str(self.pid), "-a", "--"]
        if env:
            prefix += ["env", *(f"{k}={v}" for k, v in env.items())]
        result = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise NamespaceError(f"{' '.join(command)} exited {result.returncode}: {result.stderr.strip()[-2000:]}")
        return result

    def host_path(self, inside: str | Path) -> Path:
        """A path inside the namespace, reachable from the host through PID 1's root."""
        if self.pid is None:
            raise NamespaceError("the private systemd is not running")
        return Path(f"/proc/{self.pid}/root") / str(inside).lstrip("/")

    def processes(self) -> list[psutil.Process]:
        """Every process of the namespace (PID 1 and its descendants)."""
        if self.pid is None:
            return []
        try:
            init = psutil.Process(self.pid)
            return [init, *init.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    @property
    def running(self) -> bool:
        return self.pid is not None and psutil.pid_exists(self.pid)
