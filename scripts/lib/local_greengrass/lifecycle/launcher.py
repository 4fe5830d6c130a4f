"""Runs the components of a deployment with the nucleus's lifecycle states (Lifecycle.java).

One thread per component: put the artifacts in place, install (Skipif, Timeout), wait until every
dependency is RUNNING or FINISHED, then run or startup. Installs do not wait for dependencies, as on
the Java nucleus (installs run in parallel; dependencies gate startup/run only) and nucleus lite
(every install unit finishes before any run unit starts). A Run step is RUNNING as soon as its
process started; a Startup step once its script exited 0. An error (a non-zero exit, a timeout, or
UpdateState ERRORED from the component) runs the Recover step if there is one, then the Shutdown
step, stops the processes and starts the component again (without reinstalling); the third error in
the same state, each within the error window of the previous one, makes it BROKEN. Other components
are never affected. A redeploy restarts only what changed (and its HARD dependents) and reinstalls
BROKEN components; configuration-only changes are first validated by the running components that
subscribed to validation, then go to them as events.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import Future
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from typing import Any, Protocol

from local_greengrass.deployment.documents import BUILTINS, DEFAULT_VALIDATION_TIMEOUT, DeploymentError
from local_greengrass.lifecycle.artifacts import ArtifactError, install_artifacts
from local_greengrass.lifecycle.specs import LaunchSpec
from local_greengrass.lifecycle.steps import (
    DEFAULT_TIMEOUTS,
    LifecycleError,
    StepProcess,
    run_to_completion,
    should_skip,
)
from local_greengrass.paths import RuntimePaths

log = logging.getLogger(__name__)

NEW, INSTALLED, STARTING, RUNNING = "NEW", "INSTALLED", "STARTING", "RUNNING"
STOPPING, FINISHED, ERRORED, BROKEN = "STOPPING", "FINISHED", "ERRORED", "BROKEN"
READY_FOR_DEPENDENTS = (RUNNING, FINISHED)
SETTLED = (RUNNING, FINISHED, BROKEN)
REJECTED = "REJECTED"


class RuntimeHost(Protocol):
    """What the launcher needs from the daemon around it."""

    def environment(self, spec: LaunchSpec) -> dict[str, str]: ...

    def configure(self, name: str, configuration: dict) -> None: ...

    def retire(self, name: str) -> None: ...

    def spawned(self, pid: int) -> None: ...


class ValidatingHost(RuntimeHost, Protocol):
    """A host whose components can validate proposed configuration (SubscribeToValidateConfigurationUpdates)."""

    def request_validation(self, name: str, deployment_id: str, configuration: dict) -> Future | None: ...

    def discard_validation(self, name: str, deployment_id: str) -> None: ...


class ConfigurationValidationError(DeploymentError):
    """A running component rejected, or did not validate in time, the configuration a deployment proposed."""


@dataclass(frozen=True)
class RestartPolicy:
    max_failures: int = 3  # the nucleus's MAXIMUM_CONTINUAL_ERROR
    window_seconds: float = 3600.0  # its default errorResetTime: an older error no longer counts
    backoff_seconds: float = 1.0  # not in the nucleus: keeps a crash loop from spinning a loaded machine


@dataclass(frozen=True)
class _Outcome:
    """How a startup/run attempt ended: FINISHED, STOPPING (we are being stopped) or an error in `state`."""

    kind: str
    state: str = ""
    message: str = ""


class ComponentRunner:
    def __init__(self, spec: LaunchSpec, launcher: Launcher) -> None:
        self.spec = spec
        self.launcher = launcher
        self.state = RUNNING if spec.builtin else NEW
        self.error: str | None = None
        self.blocked_by: str | None = None  # BROKEN dependencies it is waiting for
        # What the current process last said with UpdateState (RUNNING is the launcher's word, this is
        # the component's: e.g. "ready" for tools that wait for a restarted component to serve).
        self.reported_state: str | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()  # the process exited, the component reported ERRORED, or stop()
        self._reported_error = False
        self._lock = threading.Lock()
        self._process: StepProcess | None = None
        self._errors: dict[str, list[float]] = {}  # state -> times of the errors in a row in that state
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
            if state not in (ERRORED, BROKEN):
                # As the nucleus: leaving a state without an error forgets the errors counted in it.
                self._errors.pop(self.state, None)
            self.state = state
            if error is not None or state in (RUNNING, FINISHED):
                self.error = error
            self.launcher.changed.notify_all()
        log.info("%s -> %s%s", self.name, state, f" ({error})" if error else "")

    def reported(self, state: str) -> None:
        """UpdateState from the component itself over IPC (the nucleus's allowed transitions)."""
        if self.stopping or self._process is None:
            return
        with self.launcher.changed:
            self.reported_state = state
            self.launcher.changed.notify_all()
        if state == RUNNING and self.state == STARTING:
            self._set(RUNNING)  # e.g. what a Startup step started says so before the script exits
        elif state == ERRORED and self.state in (STARTING, RUNNING):
            self._reported_error = True
            self._wake.set()  # the component's thread handles it, like any other error

    # the component's life -------------------------------------------------------------------------
    def _main(self) -> None:
        try:
            install_artifacts(self.spec, self.launcher.paths)
            self.launcher.paths.work(self.name).mkdir(mode=0o700, parents=True, exist_ok=True)
            self._lifecycle()
        except (ArtifactError, LifecycleError, OSError) as exc:
            self._set(BROKEN, str(exc))
        except Exception as exc:
            log.exception("%s: launcher failure", self.name)
            self._set(BROKEN, f"launcher failure: {exc!r}")

    def _lifecycle(self) -> None:  # noqa: PLR0911 - one return per way a component stops
        lifecycle = self.spec.lifecycle
        installed = False  # an error after install restarts the component without installing again
        while not self.stopping:
            install = lifecycle.get("install")
            if not installed and install and not should_skip(install.skipif, self._env(install.setenv)):
                code = self._bounded("install", install.script, install.setenv, install.timeout)
                if self.stopping:
                    return
                if code != 0:
                    message = f"install exited with {code} (see {self.launcher.paths.log(self.name)})"
                    if self._errored(_Outcome(ERRORED, NEW, message), None):
                        return
                    self._set(NEW)
                    continue
            installed = True
            self._set(INSTALLED)
            if not self.launcher.wait_for_dependencies(self):
                return
            startup, run = lifecycle.get("startup"), lifecycle.get("run")
            if startup is None and run is None:
                self._set(FINISHED)
                return
            with self.launcher.changed:
                self.reported_state = None
            self._set(STARTING)
            self._wake.clear()
            self._reported_error = False
            step = startup or run
            assert step is not None
            process = self._new_process(step.script, step.setenv)
            if process is None:
                return
            outcome = self._startup(process, step.timeout) if startup else self._run(process, step.timeout)
            if outcome.kind == FINISHED:
                self._set(FINISHED)
                return
            if outcome.kind == STOPPING or self._errored(outcome, process):
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

    def _bounded(self, label: str, script: str, step_env: dict[str, str], timeout: float | None) -> int | None:
        process = self._new_process(script, step_env)
        if process is None:
            return None
        code = run_to_completion(process, label, timeout)
        with self._lock:
            self._process = None
        return code

    def _watch(self, process: StepProcess, label: str) -> threading.Event | None:
        """Start the step (None if we are being stopped); a reaper thread sets the returned event (and
        wakes us) when it exits."""
        exited = threading.Event()

        def reap() -> None:
            process.wait()
            exited.set()
            self._wake.set()

        with self._lock:  # stop() either sees the started process or keeps us from starting it
            if self.stopping:
                return None
            process.start(label)
        threading.Thread(target=reap, name=f"reap-{self.name}", daemon=True).start()
        return exited

    def _wait(self, process: StepProcess, exited: threading.Event, timeout: float | None) -> str:
        """Until the process exits, the component reports ERRORED, we are stopped, or `timeout` passes."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self.stopping:
                # Stay until stop() ended the process: it is signalled when this (its spawning) thread ends.
                shutdown = self.spec.lifecycle.get("shutdown")
                grace = shutdown.timeout if shutdown and shutdown.timeout else DEFAULT_TIMEOUTS["shutdown"]
                if not exited.wait(2 * grace + 10):
                    process.stop(grace=2.0)  # it started after stop() looked: nobody else ends it
                    exited.wait(10)
                return STOPPING
            if exited.is_set():
                return "exited"
            if self._reported_error:
                return ERRORED
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return "timeout"
            self._wake.wait(remaining)
            self._wake.clear()

    def _startup(self, process: StepProcess, timeout: float | None) -> _Outcome:
        exited = self._watch(process, "startup")
        why = STOPPING if exited is None else self._wait(process, exited, timeout)
        if why == STOPPING:
            return _Outcome(STOPPING)
        if why == "timeout":
            with open(process.log_path, "ab") as log_file:
                log_file.write(f"--- startup timed out after {timeout:g} s\n".encode())
            return _Outcome(ERRORED, STARTING, f"startup timed out after {timeout:g} s")
        if why == ERRORED:
            return _Outcome(ERRORED, self.state, "the component reported ERRORED (see its log)")
        code = process.process.returncode if process.process else None
        if code != 0:
            return _Outcome(ERRORED, STARTING, f"startup exited with {code}")
        if self.state == STARTING:
            self._set(RUNNING)
        return self._until_errored()

    def _until_errored(self) -> _Outcome:
        """RUNNING after a Startup script exited 0: until the component reports ERRORED or we are stopped."""
        while not self.stopping and not self._reported_error:
            self._wake.wait()
            self._wake.clear()
        if self.stopping:
            return _Outcome(STOPPING)
        return _Outcome(ERRORED, RUNNING, "the component reported ERRORED (see its log)")

    def _run(self, process: StepProcess, timeout: float | None) -> _Outcome:
        exited = self._watch(process, "run")
        if exited is None:
            return _Outcome(STOPPING)
        self._set(RUNNING)  # as the nucleus: RUNNING once the Run process started
        why = self._wait(process, exited, timeout)
        if why == STOPPING:
            process.signal_group(signal.SIGTERM)  # leftovers of the group; stop() waits and escalates
            return _Outcome(STOPPING)
        if why == "timeout":
            return _Outcome(ERRORED, RUNNING, f"run timed out after {timeout:g} s")
        if why == ERRORED:
            return _Outcome(ERRORED, RUNNING, "the component reported ERRORED (see its log)")
        process.signal_group(signal.SIGKILL)  # children the script left behind go with it
        code = process.process.returncode if process.process else None
        if code == 0:
            return _Outcome(FINISHED)
        return _Outcome(ERRORED, RUNNING, f"run exited with {code}")

    def _errored(self, outcome: _Outcome, process: StepProcess | None) -> bool:
        """The nucleus's error handling; True when the component is BROKEN (or stopping) and must not retry."""
        now = time.monotonic()
        policy = self.launcher.policy
        with self.launcher.changed:
            errors = self._errors.setdefault(outcome.state, [])
            if errors and now - errors[-1] >= policy.window_seconds:
                errors.clear()
            errors.append(now)
            count = len(errors)
        if count >= policy.max_failures:
            self._set(BROKEN, f"{outcome.message}; {count} failures in a row, not restarting")
            if process is not None:
                self._shut_down(process)
            return True
        self._set(ERRORED, f"{outcome.message}; restarting")
        self._recover()
        if process is not None:
            self._set(STOPPING, f"{outcome.message}; restarting")
            self._shut_down(process)
        return self._stop.wait(policy.backoff_seconds * count)

    def _recover(self) -> None:
        recover = self.spec.lifecycle.get("recover")
        if recover is None or self.stopping or should_skip(recover.skipif, self._env(recover.setenv)):
            return
        step = StepProcess(recover.script, self._env(recover.setenv), self.launcher.paths.work(self.name),
                           self.launcher.paths.log(self.name), on_spawn=self.launcher.host.spawned)
        code = run_to_completion(step, "recover", recover.timeout)
        if code != 0:
            log.warning("%s: the recover step exited with %s", self.name, code)

    def _shut_down(self, process: StepProcess) -> None:
        """The Shutdown step, then the step's process group: SIGTERM, SIGKILL after the shutdown timeout."""
        if self.stopping:
            return  # stop() does it
        shutdown = self.spec.lifecycle.get("shutdown")
        if shutdown is not None:
            step = StepProcess(shutdown.script, self._env(shutdown.setenv), self.launcher.paths.work(self.name),
                               self.launcher.paths.log(self.name), on_spawn=self.launcher.host.spawned)
            run_to_completion(step, "shutdown", shutdown.timeout)
        grace = shutdown.timeout if shutdown and shutdown.timeout else DEFAULT_TIMEOUTS["shutdown"]
        process.stop(grace=grace)

    # stopping ------------------------------------------------------------------------------------
    def stop(self) -> None:
        """As the nucleus: the Shutdown step first, then SIGTERM to the group, SIGKILL after its timeout."""
        if self.spec.builtin:
            return
        was = self.state
        with self._lock:
            self._stop.set()
            process = self._process
        self._wake.set()
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
                     "error": self._error_of(r), "settled": self._settled(r), "reported": r.reported_state}
                    for r in self.runners.values()]
            rows += [{"component": name, "version": version, "state": BROKEN, "error": error, "settled": True,
                      "reported": None}
                     for name, (version, error) in self.invalid.items() if name not in self.runners]
        return rows

    @staticmethod
    def _settled(runner: ComponentRunner) -> bool:
        """Nothing will change without a deployment (or the component's own doing)."""
        return runner.state in SETTLED or bool(runner.blocked_by)

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
               versions: dict[str, str] | None = None, *, deployment_id: str | None = None,
               validation_timeout: float = DEFAULT_VALIDATION_TIMEOUT) -> dict[str, list[str]]:
        """Apply a deployment; returns what was started, restarted, reconfigured and removed.

        Raises ConfigurationValidationError, with nothing applied, when a running component rejects
        (or does not validate within `validation_timeout` s) the configuration proposed to it.
        """
        versions = versions or {}
        with self._deploy_lock:
            current = dict(self.runners)
            self._validate_configuration(specs, current, deployment_id or str(uuid.uuid4()), validation_timeout)
            removed = [n for n in current if n not in specs and n not in errors]
            changed = [n for n in specs if n in current and current[n].spec.fingerprint != specs[n].fingerprint]
            restart = self._with_hard_dependents(changed, specs)
            # As the nucleus (DefaultActivator): a deployment reinstalls the BROKEN components it lists.
            restart += [n for n in specs if n in current and n not in restart and current[n].state == BROKEN]
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

    def _validate_configuration(self, specs: dict[str, LaunchSpec], current: dict[str, ComponentRunner],
                                deployment_id: str, timeout: float) -> None:
        """DynamicComponentConfigurationValidator: ask the running components whose configuration changes
        (and whose version does not: a new version starts with it anyway) and wait for every report."""
        request = getattr(self.host, "request_validation", None)
        if request is None:
            return
        proposals = {name: spec.configuration for name, spec in specs.items()
                     if name in current and not spec.builtin and current[name].spec.version == spec.version
                     and current[name].spec.configuration != spec.configuration}
        futures: dict[str, Future] = {}
        try:
            for name, configuration in proposals.items():
                try:
                    future = request(name, deployment_id, configuration)
                except RuntimeError as exc:
                    raise ConfigurationValidationError(f"deployment {deployment_id} failed: {exc}") from exc
                if future is not None:
                    futures[name] = future
            if not futures:
                return
            log.info("deployment %s: waiting up to %g s for %s to validate their configuration",
                     deployment_id, timeout, ", ".join(futures))
            wait_futures(list(futures.values()), timeout=timeout)
            late = sorted(n for n, f in futures.items() if not f.done() or f.cancelled())
            rejected = {n: f.result() for n, f in futures.items()
                        if n not in late and f.result().status == REJECTED}
            problems = [f"{name} rejected its new configuration: {report.message or '(no message)'}"
                        for name, report in sorted(rejected.items())]
            if late:
                problems.append(f"no configuration validity report from {', '.join(late)} within {timeout:g} s")
            if problems:
                message = f"deployment {deployment_id} failed, nothing was applied: {'; '.join(problems)}"
                log.error("%s", message)
                raise ConfigurationValidationError(message)
        finally:
            discard = getattr(self.host, "discard_validation", None)
            for name in futures:
                if discard is not None:
                    discard(name, deployment_id)

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
