"""Lifecycle steps (setenv, install, run/startup, shutdown) and the processes that run them.

Every step runs as `sh -c <script>` in the component's work folder, in its own process group, with
its output appended to the component's log. Stopping signals the whole group: SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The nucleus's defaults (Lifecycle.java); Recover is DEFAULT_ERROR_RECOVERY_HANDLER_TIMEOUT_SEC.
DEFAULT_TIMEOUTS = {"install": 120.0, "startup": 120.0, "shutdown": 15.0, "recover": 60.0, "run": None}
_PR_SET_PDEATHSIG = 1
# Loaded before any fork: the child must not import or allocate between fork and exec.
_LIBC = ctypes.CDLL(None, use_errno=True)


class LifecycleError(ValueError):
    pass


@dataclass(frozen=True)
class Step:
    script: str
    timeout: float | None = None
    setenv: dict[str, str] = field(default_factory=dict)
    skipif: str | None = None


@dataclass(frozen=True)
class Lifecycle:
    setenv: dict[str, str] = field(default_factory=dict)
    steps: dict[str, Step] = field(default_factory=dict)

    def get(self, name: str) -> Step | None:
        return self.steps.get(name)


def parse_step(name: str, raw: Any) -> Step:
    default = DEFAULT_TIMEOUTS.get(name)
    if isinstance(raw, str):
        return Step(script=raw, timeout=default)
    if not isinstance(raw, dict) or not isinstance(raw.get("script"), str):
        raise LifecycleError(f"lifecycle step {name!r} must be a string or have a Script")
    timeout = raw.get("timeout", default)
    try:
        timeout = None if timeout is None else float(timeout)
    except (TypeError, ValueError) as exc:
        raise LifecycleError(f"lifecycle step {name!r}: Timeout {timeout!r} is not a number") from exc
    setenv = raw.get("setenv") or {}
    if not isinstance(setenv, dict):
        raise LifecycleError(f"lifecycle step {name!r}: Setenv must be a mapping")
    skipif = raw.get("skipif")
    return Step(script=raw["script"], timeout=timeout, setenv={str(k): str(v) for k, v in setenv.items()},
                skipif=None if skipif is None else str(skipif))


def parse_lifecycle(raw: dict[str, Any]) -> Lifecycle:
    """`raw` has lower-cased step names (recipes.load_recipe did that)."""
    setenv = raw.get("setenv") or {}
    if not isinstance(setenv, dict):
        raise LifecycleError("lifecycle Setenv must be a mapping")
    steps = {name: parse_step(name, value) for name, value in raw.items()
             if name in ("install", "run", "startup", "shutdown", "recover", "bootstrap") and value is not None}
    if "run" in steps and "startup" in steps:
        raise LifecycleError("a lifecycle has either Run or Startup, not both")
    return Lifecycle(setenv={str(k): str(v) for k, v in setenv.items()}, steps=steps)


def should_skip(skipif: str | None, env: dict[str, str]) -> bool:
    """`onpath <executable>` or `exists <file>`, as the nucleus supports."""
    if not skipif:
        return False
    words = shlex.split(skipif)
    if len(words) != 2 or words[0].lower() not in ("onpath", "exists"):
        raise LifecycleError(f"Skipif {skipif!r}: expected 'onpath <executable>' or 'exists <path>'")
    if words[0].lower() == "onpath":
        return shutil.which(words[1], path=env.get("PATH")) is not None
    return Path(words[1]).exists()


def _die_with_parent() -> None:
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class StepProcess:
    """One running step. `on_spawn(pid)` lets the daemon's watchdog learn the new process group."""

    def __init__(self, script: str, env: dict[str, str], cwd: Path, log_path: Path,
                 on_spawn: Callable[[int], None] | None = None) -> None:
        self.script, self.env, self.cwd, self.log_path = script, env, cwd, log_path
        self._on_spawn = on_spawn
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, label: str) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} {label}: {self.script}\n".encode())
            log.flush()
            # PDEATHSIG fires when the spawning THREAD exits: callers wait on the process from that thread.
            self.process = subprocess.Popen(
                ["/bin/sh", "-c", self.script], cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_die_with_parent)  # noqa: PLW1509 - only prctl through a preloaded libc
        if self._on_spawn:
            self._on_spawn(self.process.pid)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def wait(self, timeout: float | None = None) -> int | None:
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def signal_group(self, signum: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)

    def stop(self, grace: float = 15.0) -> int | None:
        """SIGTERM to the group, SIGKILL after `grace` seconds; returns the exit code."""
        if self.process is None:
            return None
        self.signal_group(signal.SIGTERM)
        code = self.wait(grace)
        # Also reap the rest of the group: the shell may be gone while its children linger.
        self.signal_group(signal.SIGKILL)
        if code is None:
            code = self.wait(5.0)
        return code


def run_to_completion(process: StepProcess, label: str, timeout: float | None) -> int:
    """Run a bounded step (install, startup, shutdown); a timeout kills it and counts as failure."""
    process.start(label)
    code = process.wait(timeout)
    if code is None:
        process.stop(grace=2.0)
        with open(process.log_path, "ab") as log:
            log.write(f"--- {label} timed out after {timeout:g} s\n".encode())
        return 124
    return code
