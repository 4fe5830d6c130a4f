"""Runs the components of a deployment as the nucleus does.

One thread per component: wait until every dependency is RUNNING or FINISHED, put the artifacts
in place, install (Skipif, Timeout), then run or startup. A run step that exits non-zero is
restarted after a short backoff; the third failure within the window makes the component BROKEN.
Other components are never affected. A redeploy restarts only what changed (and its HARD
dependents); configuration-only changes go to the running component as events.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from local_greengrass.artifacts import ArtifactError, install_artifacts
from local_greengrass.deployment import BUILTINS
from local_greengrass.lifecycle import DEFAULT_TIMEOUTS, LifecycleError, StepProcess, run_to_completion, should_skip
from local_greengrass.paths import RuntimePaths
from local_greengrass.specs import LaunchSpec

log = logging.getLogger(__name__)

NEW, INSTALLED, STARTING, RUNNING = "NEW", "INSTALLED", "STARTING", "RUNNING"
STOPPING, FINISHED, ERRORED, BROKEN = "STOPPING", "FINISHED", "ERRORED", "BROKEN"
READY_FOR_DEPENDENTS = (RUNNING, FINISHED)
SETTLED = (RUNNING, FINISHED, BROKEN)


class RuntimeHost(Protocol):
    """What the launcher needs from the daemon around it."""

    def environment(self, spec: LaunchSpec) -> dict[str, str]: ...

    def configure(self, name: str, configuration: dict) -> None: ...

    def retire(self, name: str) -> None: ...

    def spawned(self, pid: int) -> None: ...


@dataclass(frozen=True)
class RestartPolicy:
    max_failures: int = 3
    window_seconds: float = 3600.0
    backoff_seconds: float = 1.0


class ComponentRunner:
    def __init__(self, spec: LaunchSpec, launcher: Launcher) -> None:
        self.spec = spec
        self.launcher = launcher
        self.state = RUNNING if spec.builtin else NEW
        self.error: str | None = None
        self.blocked_by: str | None = None  # BROKEN dependencies it is waiting for
        self.reported_errored = False
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._process: StepProcess | None = None
        self._failures: deque[float] = deque()
        self._thread = threading.Thread(target=self._main, name=f"component-{spec.name}", daemon=True)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        if not self.spec.builtin:
            self._thread.start()

    # state ---------------------------------------------------------------------------------------
    def _set(self, state: str, error: str | None = None) -> None:
        with self.launcher.changed:
            self.state = state
            if error is not None or state in (RUNNING, FINISHED):
                self.error = error
            self.launcher.changed.notify_all()
        log.info("%s -> %s%s", self.name, state, f" ({error})" if error else "")

    def reported(self, state: str) -> None:
        """UpdateState from the component itself over IPC."""
        if self.stopping or self._process is None:
            return
        if state == RUNNING and self.state in (STARTING, ERRORED):
            self.reported_errored = False
            self._set(RUNNING)
        elif state == ERRORED and self.state in (STARTING, RUNNING):
            # It stays up (e.g. waiting for a deployment that fixes its configuration): not restarted here.
            self.reported_errored = True
            self._set(ERRORED, "the component reported ERRORED (see its log)")

    # the component's life -------------------------------------------------------------------------
    def _main(self) -> None:
        try:
            if not self.launcher.wait_for_dependencies(self):
                return
            install_artifacts(self.spec, self.launcher.paths)
            self.launcher.paths.work(self.name).mkdir(mode=0o700, parents=True, exist_ok=True)
            self._lifecycle()
        except (ArtifactError, LifecycleError, OSError) as exc:
            self._set(BROKEN, str(exc))
        except Exception as exc:
            log.exception("%s: launcher failure", self.name)
            self._set(BROKEN, f"launcher failure: {exc!r}")

    def _lifecycle(self) -> None:
        lifecycle = self.spec.lifecycle
        installed = False  # a failed run/startup is retried without installing again
        while not self.stopping:
            install = lifecycle.get("install")
            if not installed and install and not should_skip(install.skipif, self._env(install.setenv)):
                code = self._bounded("install", install.script, install.setenv, install.timeout)
                if self.stopping:
                    return
                if code != 0:
                    if self._failed(f"install exited with {code} (see {self.launcher.paths.log(self.name)})"):
                        return
                    continue
            installed = True
            self._set(INSTALLED)
            startup, run = lifecycle.get("startup"), lifecycle.get("run")
            if startup is None and run is None:
                self._set(FINISHED)
                return
            self._set(STARTING)
            if startup is not None:
                code = self._bounded("startup", startup.script, startup.setenv, startup.timeout, keep=True)
                if code == 0:
                    self._set(RUNNING)
                    return
            else:
                assert run is not None
                code = self._run(run.script, run.setenv)
                if code == 0:
                    self._set(FINISHED)
                    return
            if self.stopping or self._failed(f"{'startup' if startup else 'run'} exited with {code}"):
                return

    def _env(self, step_env: dict[str, str]) -> dict[str, str]:
        return {**self.launcher.host.environment(self.spec), **self.spec.lifecycle.setenv, **step_env}

    def _new_process(self, script: str, step_env: dict[str, str]) -> StepProcess | None:
        process = StepProcess(script, self._env(step_env), self.launcher.paths.work(self.name),
                              self.launcher.paths.log(self.name), on_spawn=self.launcher.host.spawned)
        with self._lock:
            if self.stopping:
                return None
            self._process = process
        return process

    def _bounded(self, label: str, script: str, step_env: dict[str, str], timeout: float | None,
                 keep: bool = False) -> int | None:
        process = self._new_process(script, step_env)
        if process is None:
            return None
        code = run_to_completion(process, label, timeout)
        if not keep:
            with self._lock:
                self._process = None
        return code

    def _run(self, script: str, step_env: dict[str, str]) -> int | None:
        process = self._new_process(script, step_env)
        if process is None:
            return None
        process.start("run")
        code = process.wait()
        # Leftovers of the group (children the script started) go with it.
        if self.stopping:
            process.signal_group(signal.SIGTERM)  # stop() waits and escalates
        else:
            process.signal_group(signal.SIGKILL)
        return code

    def _failed(self, message: str) -> bool:
        """Record a failure; True when the component is BROKEN (or stopping) and must not retry."""
        now = time.monotonic()
        policy = self.launcher.policy
        self._failures.append(now)
        while self._failures and now - self._failures[0] > policy.window_seconds:
            self._failures.popleft()
        if len(self._failures) >= policy.max_failures:
            self._set(BROKEN, f"{message}; {len(self._failures)} failures in a row, not restarting")
            return True
        self._set(ERRORED, f"{message}; restarting")
        return self._stop.wait(policy.backoff_seconds * len(self._failures))

    # stopping ------------------------------------------------------------------------------------
    def stop(self) -> None:
        """As the nucleus: the Shutdown step first, then SIGTERM to the group, SIGKILL after its timeout."""
        if self.spec.builtin:
            return
        was = self.state
        with self._lock:
            self._stop.set()
            process = self._process
        with self.launcher.changed:
            self.launcher.changed.notify_all()
        shutdown = self.spec.lifecycle.get("shutdown")
        grace = shutdown.timeout if shutdown and shutdown.timeout else DEFAULT_TIMEOUTS["shutdown"]
        if shutdown and was in (STARTING, RUNNING, ERRORED, FINISHED):
            step = StepProcess(shutdown.script, self._env(shutdown.setenv), self.launcher.paths.work(self.name),
                               self.launcher.paths.log(self.name), on_spawn=self.launcher.host.spawned)
            run_to_completion(step, "shutdown", shutdown.timeout)
        if process is not None:
            process.stop(grace=grace)
        if self._thread.is_alive():
            self._thread.join(timeout=grace + 10)
        with self.launcher.changed:
            self.state = STOPPING if self.state not in (BROKEN, FINISHED) else self.state
            self.launcher.changed.notify_all()


class Launcher:
    def __init__(self, paths: RuntimePaths, host: RuntimeHost, policy: RestartPolicy | None = None) -> None:
        self.paths = paths
        self.host = host
        self.policy = policy or RestartPolicy()
        self.changed = threading.Condition()
        self.runners: dict[str, ComponentRunner] = {}
        self.invalid: dict[str, tuple[str, str]] = {}  # name -> (version asked for, error)
        self._deploy_lock = threading.Lock()

    # queries -------------------------------------------------------------------------------------
    def runner(self, name: str) -> ComponentRunner | None:
        with self.changed:
            return self.runners.get(name)

    def snapshot(self) -> list[dict[str, Any]]:
        with self.changed:
            rows = [{"component": r.name, "version": r.spec.version, "state": r.state,
                     "error": self._error_of(r), "settled": self._settled(r)}
                    for r in self.runners.values()]
            rows += [{"component": name, "version": version, "state": BROKEN, "error": error, "settled": True}
                     for name, (version, error) in self.invalid.items() if name not in self.runners]
        return rows

    @staticmethod
    def _settled(runner: ComponentRunner) -> bool:
        """Nothing will change without a deployment (or the component's own doing)."""
        return runner.state in SETTLED or bool(runner.blocked_by) or (
            runner.state == ERRORED and runner.reported_errored)

    def _error_of(self, runner: ComponentRunner) -> str | None:
        if runner.name in self.invalid:  # the last deployment could not update it; the old one still runs
            return f"still {runner.spec.version}; the last deployment failed: {self.invalid[runner.name][1]}"
        if runner.blocked_by:
            return runner.error or f"waiting for {runner.blocked_by}, which is BROKEN"
        return runner.error

    def report_state(self, component: str, state: str) -> None:
        runner = self.runner(component)
        if runner is not None:
            runner.reported(str(getattr(state, "value", state)).upper())

    def wait_for_dependencies(self, runner: ComponentRunner) -> bool:
        """Block until every dependency is RUNNING or FINISHED; meanwhile, name the BROKEN ones it waits for."""
        with self.changed:
            while not runner.stopping:
                if all(self._dependency_ready(dep) for dep in runner.spec.dependencies):
                    runner.blocked_by = None
                    return True
                broken = [d for d in runner.spec.dependencies if d in self.runners and self.runners[d].state == BROKEN]
                blocked_by = ", ".join(broken) or None
                if blocked_by != runner.blocked_by:
                    runner.blocked_by = blocked_by
                    self.changed.notify_all()
                self.changed.wait()
        return False

    def _dependency_ready(self, name: str) -> bool:
        runner = self.runners.get(name)
        if runner is None:
            return name in BUILTINS
        return runner.state in READY_FOR_DEPENDENTS

    # deployments ---------------------------------------------------------------------------------
    def deploy(self, specs: dict[str, LaunchSpec], errors: dict[str, str],
               versions: dict[str, str] | None = None) -> dict[str, list[str]]:
        """Apply a deployment; returns what was started, restarted, reconfigured and removed."""
        versions = versions or {}
        with self._deploy_lock:
            current = dict(self.runners)
            removed = [n for n in current if n not in specs and n not in errors]
            changed = [n for n in specs if n in current and current[n].spec.fingerprint != specs[n].fingerprint]
            restart = self._with_hard_dependents(changed, specs)
            self._stop_in_order([current[n] for n in [*removed, *restart] if n in current])
            with self.changed:
                for name in removed:
                    self.runners.pop(name, None)
                self.invalid = {n: (versions.get(n, "?"), e) for n, e in errors.items()}
            for name in removed:
                self.host.retire(name)
            started, reconfigured = [], []
            for name, spec in specs.items():
                self.host.configure(name, spec.configuration)
                if name in current and name not in restart:
                    if current[name].spec.configuration != spec.configuration:
                        reconfigured.append(name)
                    current[name].spec.configuration = spec.configuration
                    continue
                runner = ComponentRunner(spec, self)
                with self.changed:
                    self.runners[name] = runner
                    self.changed.notify_all()
                started.append(name)
            for name in started:
                self.runners[name].start()
            return {"started": [n for n in started if n not in restart], "restarted": restart,
                    "reconfigured": reconfigured, "removed": removed, "errors": sorted(errors)}

    def _with_hard_dependents(self, changed: Iterable[str], specs: dict[str, LaunchSpec]) -> list[str]:
        result = list(changed)
        grew = True
        while grew:
            grew = False
            for name, spec in specs.items():
                if name not in result and name in self.runners and any(
                        dep in result and d.hard for dep, d in spec.dependencies.items()):
                    result.append(name)
                    grew = True
        return result

    def _stop_in_order(self, runners: list[ComponentRunner]) -> None:
        """Dependents before their dependencies."""
        remaining = {r.name: r for r in runners}
        while remaining:
            layer = [r for r in remaining.values()
                     if not any(r.name in other.spec.dependencies for other in remaining.values() if other is not r)]
            layer = layer or list(remaining.values())  # a cycle cannot be deployed, but never hang
            threads = [threading.Thread(target=r.stop, name=f"stop-{r.name}") for r in layer]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            for runner in layer:
                remaining.pop(runner.name)

    def stop_all(self) -> None:
        with self._deploy_lock:
            self._stop_in_order(list(self.runners.values()))
            with self.changed:
                self.runners.clear()
                self.changed.notify_all()

    def wait_settled(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.changed:
            return self.changed.wait_for(
                lambda: all(self._settled(r) for r in self.runners.values()),
                max(0.0, deadline - time.monotonic()))
