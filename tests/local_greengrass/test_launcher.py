"""The launcher with real `sh` processes and a fake host (no IPC): order, the nucleus's states and error
handling (Recover, restart, BROKEN), redeploys, configuration validation, stop."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import Future
from pathlib import Path

import psutil
import pytest

from local_greengrass.configuration.validation import ValidityReport
from local_greengrass.deployment.documents import parse_document, plan_deployment
from local_greengrass.deployment.recipes import scan_built
from local_greengrass.lifecycle.launcher import (
    BROKEN,
    FINISHED,
    RUNNING,
    STARTING,
    ConfigurationValidationError,
    Launcher,
    RestartPolicy,
)
from local_greengrass.lifecycle.specs import LaunchSpec, build_specs
from local_greengrass.paths import RuntimePaths
from tests.local_greengrass.helpers import write_component

WAIT = 60.0


class FakeHost:
    def __init__(self) -> None:
        self.configured: list[tuple[str, dict]] = []
        self.retired: list[str] = []
        self.pids: list[int] = []

    def environment(self, spec: LaunchSpec) -> dict[str, str]:
        return {"PATH": os.environ["PATH"], "SVCUID": f"token-{spec.name}"}

    def configure(self, name: str, configuration: dict) -> None:
        self.configured.append((name, configuration))

    def retire(self, name: str) -> None:
        self.retired.append(name)

    def spawned(self, pid: int) -> None:
        self.pids.append(pid)


class Rig:
    def __init__(self, tmp_path: Path) -> None:
        self.components = tmp_path / "components"
        self.paths = RuntimePaths(tmp_path / "root")
        self.paths.create()
        self.host = FakeHost()
        self.launcher = Launcher(self.paths, self.host, RestartPolicy(max_failures=3, backoff_seconds=0.1))

    def deploy(self, components: dict) -> dict:
        document = parse_document({"components": components}, "test.json")
        plan = plan_deployment(document, scan_built(self.components), {})
        specs, errors = build_specs(plan, self.paths, "cam-1")
        return self.launcher.deploy(specs, errors, {n: c.version for n, c in document.components.items()})

    def state(self, name: str) -> str | None:
        runner = self.launcher.runner(name)
        return runner.state if runner else None

    def wait_state(self, name: str, *states: str) -> None:
        with self.launcher.changed:
            assert self.launcher.changed.wait_for(lambda: self.state(name) in states, WAIT), \
                f"{name} is {self.state(name)}, not {states}; log: {self.log(name)}"

    def report_running(self, name: str) -> None:
        """What the component does over IPC once its process is up."""
        deadline = time.monotonic() + WAIT
        runner = self.launcher.runner(name)
        while (runner._process is None or runner._process.pid is None) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.launcher.report_state(name, "RUNNING")
        self.wait_state(name, RUNNING)

    def log(self, name: str) -> str:
        path = self.paths.log(name)
        return path.read_text() if path.exists() else ""


@pytest.fixture
def rig(tmp_path: Path):
    rig = Rig(tmp_path)
    yield rig
    rig.launcher.stop_all()


V1 = {"componentVersion": "1.0.0"}


def test_dependencies_first_then_install_only_finishes_and_run_exits_zero_finishes(rig: Rig) -> None:
    write_component(rig.components, "test.Base", lifecycle={"Install": "sleep 0.5; echo ready > {work:path}/ready"})
    # Fails (and would end BROKEN) if it started before test.Base FINISHED.
    write_component(rig.components, "test.App", dependencies={"test.Base": "^1.0.0"},
                    lifecycle={"Run": "test -f {test.Base:work:path}/ready && echo app ran"})
    rig.deploy({"test.App": V1, "test.Base": V1})
    rig.wait_state("test.App", FINISHED, BROKEN)
    assert rig.state("test.Base") == FINISHED
    assert rig.state("test.App") == FINISHED
    assert "app ran" in rig.log("test.App")
    assert oct(rig.paths.work("test.App").stat().st_mode & 0o777) == "0o700"


def test_install_does_not_wait_for_dependencies_but_run_does(rig: Rig) -> None:
    # As the Java nucleus (installs in parallel) and nucleus lite (all installs before any run) do.
    write_component(rig.components, "test.Base", lifecycle={"Install": "sleep 1.5; echo ready > {work:path}/ready"})
    write_component(rig.components, "test.App", dependencies={"test.Base": "^1.0.0"}, lifecycle={
        "Install": "test ! -f {test.Base:work:path}/ready && echo early > {work:path}/installed",
        "Run": "test -f {test.Base:work:path}/ready && echo app ran"})
    rig.deploy({"test.App": V1, "test.Base": V1})
    rig.wait_state("test.App", FINISHED, BROKEN)
    assert (rig.paths.work("test.App") / "installed").read_text().strip() == "early"
    assert rig.state("test.App") == FINISHED and "app ran" in rig.log("test.App")


def test_crash_loop_ends_broken_and_others_keep_running(rig: Rig) -> None:
    write_component(rig.components, "test.Crash", lifecycle={
        "Install": "echo installing", "Run": "echo crashing; exit 3", "Recover": "echo recovering"})
    write_component(rig.components, "test.Steady", lifecycle={"Startup": "true"})
    rig.deploy({"test.Crash": V1, "test.Steady": V1})
    rig.wait_state("test.Crash", BROKEN)
    runner = rig.launcher.runner("test.Crash")
    assert "run exited with 3" in runner.error and "3 failures" in runner.error
    assert rig.log("test.Crash").splitlines().count("crashing") == 3
    assert rig.log("test.Crash").splitlines().count("installing") == 1  # restarts do not reinstall
    assert rig.log("test.Crash").splitlines().count("recovering") == 2  # not after the error that breaks it
    assert rig.state("test.Steady") == RUNNING


def test_install_timeout_skipif_and_setenv(rig: Rig) -> None:
    write_component(rig.components, "test.Slow", lifecycle={"Install": {"Script": "sleep 30", "Timeout": 0.5}})
    write_component(rig.components, "test.Skip", lifecycle={
        "Setenv": {"GREETING": "hello from {iot:thingName}"},
        "Install": {"Script": "exit 1", "Skipif": "onpath sh"},
        "Run": {"Script": "echo $GREETING $STEP_VAR", "Setenv": {"STEP_VAR": "step"}}})
    rig.deploy({"test.Slow": V1, "test.Skip": V1})
    rig.wait_state("test.Slow", BROKEN)
    rig.wait_state("test.Skip", FINISHED)
    assert "install timed out after 0.5 s" in rig.log("test.Slow")
    assert "hello from cam-1 step" in rig.log("test.Skip")


def test_components_report_running_and_stop_ends_the_whole_group(rig: Rig) -> None:
    # The shell starts a grandchild; stopping must end both.
    write_component(rig.components, "test.Tree", lifecycle={"Run": "sleep 300 & sleep 301; wait"})
    rig.deploy({"test.Tree": V1})
    rig.report_running("test.Tree")
    deadline = time.monotonic() + WAIT
    while not rig.host.pids and time.monotonic() < deadline:
        time.sleep(0.05)
    group = rig.host.pids[-1]
    while len([p for p in psutil.process_iter() if _pgid(p) == group]) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    members = [p for p in psutil.process_iter() if _pgid(p) == group]
    assert len(members) >= 3
    rig.launcher.stop_all()
    # SIGKILL is delivered at once but the kernel ends a process a moment later: wait, generously.
    _, alive = psutil.wait_procs(members, timeout=30)
    assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []


def _pgid(process: psutil.Process) -> int | None:
    try:
        return os.getpgid(process.pid)
    except (ProcessLookupError, PermissionError):
        return None


def test_redeploy_restarts_changed_and_hard_dependents_but_only_reconfigures_the_rest(rig: Rig) -> None:
    write_component(rig.components, "test.Base", lifecycle={"Startup": "true"}, configuration={"n": 1})
    write_component(rig.components, "test.App", dependencies={"test.Base": "^1.0.0"}, lifecycle={"Startup": "true"})
    write_component(rig.components, "test.Other", lifecycle={"Startup": "true"}, configuration={"x": 1})
    rig.deploy({"test.Base": V1, "test.App": V1, "test.Other": V1})
    for name in ("test.Base", "test.App", "test.Other"):
        rig.wait_state(name, RUNNING)
    other = rig.launcher.runner("test.Other")
    write_component(rig.components, "test.Base", lifecycle={"Startup": "echo v2"}, configuration={"n": 1})
    result = rig.deploy({"test.Base": V1, "test.App": V1,
                         "test.Other": {"componentVersion": "1.0.0", "configurationUpdate": {"merge": '{"x": 2}'}}})
    assert result["restarted"] == ["test.Base", "test.App"]
    assert result["reconfigured"] == ["test.Other"]
    assert rig.launcher.runner("test.Other") is other
    assert ("test.Other", {"x": 2}) in rig.host.configured
    rig.wait_state("test.App", RUNNING)
    result = rig.deploy({"test.Base": V1, "test.App": V1})
    assert result["removed"] == ["test.Other"] and rig.host.retired == ["test.Other"]
    assert rig.launcher.runner("test.Other") is None


def test_invalid_components_are_reported_and_a_running_one_is_left_alone(rig: Rig) -> None:
    write_component(rig.components, "test.Keep", lifecycle={"Startup": "true"})
    rig.deploy({"test.Keep": V1})
    rig.wait_state("test.Keep", RUNNING)
    keep = rig.launcher.runner("test.Keep")
    result = rig.deploy({"test.Keep": {"componentVersion": "1.0.0", "configurationUpdate": {"merge": "{bad"}},
                         "test.Ghost": V1})
    assert result["errors"] == ["test.Ghost", "test.Keep"]
    assert rig.launcher.runner("test.Keep") is keep and keep.state == RUNNING
    rows = {row["component"]: row for row in rig.launcher.snapshot()}
    assert rows["test.Keep"]["state"] == RUNNING and "the last deployment failed" in rows["test.Keep"]["error"]
    assert rows["test.Ghost"]["state"] == BROKEN and "no built recipe" in rows["test.Ghost"]["error"]


def test_a_dependent_of_a_broken_component_waits_and_says_why(rig: Rig) -> None:
    write_component(rig.components, "test.Base", lifecycle={"Install": "exit 1"})
    write_component(rig.components, "test.App", dependencies={"test.Base": "^1.0.0"}, lifecycle={"Run": "true"})
    rig.deploy({"test.Base": V1, "test.App": V1})
    rig.wait_state("test.Base", BROKEN)
    with rig.launcher.changed:
        assert rig.launcher.changed.wait_for(lambda: rig.launcher.runner("test.App").blocked_by, WAIT)
    rows = {row["component"]: row for row in rig.launcher.snapshot()}
    assert rows["test.App"]["state"] == "INSTALLED" and rows["test.App"]["settled"]  # installs do not wait
    assert rows["test.App"]["error"] == "waiting for test.Base, which is BROKEN"
    assert rig.launcher.wait_settled(WAIT)


def test_shutdown_step_runs_before_the_run_process_is_signalled(rig: Rig) -> None:
    write_component(rig.components, "test.Svc", lifecycle={
        "Run": "trap 'echo got TERM >> {work:path}/order; exit 0' TERM; while true; do sleep 0.1; done",
        "Shutdown": {"Script": "echo shutdown step >> {work:path}/order", "Timeout": 5}})
    rig.deploy({"test.Svc": V1})
    rig.report_running("test.Svc")
    rig.launcher.stop_all()
    assert (rig.paths.work("test.Svc") / "order").read_text().splitlines() == ["shutdown step", "got TERM"]


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _gone(pid: int) -> bool:
    try:
        _, alive = psutil.wait_procs([psutil.Process(pid)], timeout=WAIT)
        return all(process.status() == psutil.STATUS_ZOMBIE for process in alive)
    except psutil.NoSuchProcess:
        return True


def test_run_is_running_once_its_process_started_without_update_state(rig: Rig) -> None:
    write_component(rig.components, "test.Quiet", lifecycle={"Run": "echo $$ > {work:path}/pid; exec sleep 300"})
    rig.deploy({"test.Quiet": V1})
    rig.wait_state("test.Quiet", RUNNING)  # nobody called UpdateState
    assert rig.launcher.runner("test.Quiet").error is None
    assert rig.launcher.wait_settled(WAIT)
    [row] = rig.launcher.snapshot()
    assert (row["state"], row["reported"]) == (RUNNING, None)
    rig.launcher.report_state("test.Quiet", "RUNNING")  # the component's own word, shown apart
    [row] = rig.launcher.snapshot()
    assert (row["state"], row["reported"]) == (RUNNING, RUNNING)


def test_startup_is_running_only_once_its_script_exits_zero(rig: Rig) -> None:
    write_component(rig.components, "test.Boot", lifecycle={
        "Startup": "echo waiting; while [ ! -f {work:path}/go ]; do sleep 0.05; done"})
    rig.deploy({"test.Boot": V1})
    _wait_until(lambda: "waiting" in rig.log("test.Boot"), "the startup script")
    assert rig.state("test.Boot") == STARTING
    (rig.paths.work("test.Boot") / "go").touch()
    rig.wait_state("test.Boot", RUNNING)


def test_reported_errored_runs_recover_restarts_and_the_third_is_broken(rig: Rig) -> None:
    write_component(rig.components, "test.Picky", lifecycle={
        "Run": "echo $$ >> {work:path}/runs; exec sleep 300",
        "Recover": "echo recovered >> {work:path}/recovers",
        "Shutdown": "echo shutdown >> {work:path}/shutdowns"})
    rig.deploy({"test.Picky": V1})
    work = rig.paths.work("test.Picky")
    for attempt in (1, 2):
        _wait_until(lambda n=attempt: len(_lines(work / "runs")) == n and rig.state("test.Picky") == RUNNING,
                    f"run {attempt}")
        rig.launcher.report_state("test.Picky", "ERRORED")
        # The nucleus: Recover, then Shutdown and stop, then start again (no reinstall).
        _wait_until(lambda n=attempt: len(_lines(work / "runs")) == n + 1, f"the restart after error {attempt}")
        assert len(_lines(work / "recovers")) == attempt
        assert len(_lines(work / "shutdowns")) == attempt
        assert _gone(int(_lines(work / "runs")[attempt - 1]))
    rig.wait_state("test.Picky", RUNNING)
    rig.launcher.report_state("test.Picky", "ERRORED")
    rig.wait_state("test.Picky", BROKEN)
    runner = rig.launcher.runner("test.Picky")
    assert "reported ERRORED" in runner.error and "3 failures in a row" in runner.error
    assert len(_lines(work / "recovers")) == 2  # BROKEN stops it without recovering
    assert _gone(int(_lines(work / "runs")[2]))
    assert rig.launcher.wait_settled(WAIT)


def test_a_run_timeout_is_an_error(rig: Rig) -> None:
    write_component(rig.components, "test.Slow", lifecycle={"Run": {"Script": "echo slow; exec sleep 300",
                                                                    "Timeout": 0.5}})
    rig.deploy({"test.Slow": V1})
    rig.wait_state("test.Slow", BROKEN)
    assert "run timed out after 0.5 s" in rig.launcher.runner("test.Slow").error
    assert rig.log("test.Slow").splitlines().count("slow") == 3


def test_failing_startup_counts_toward_broken_and_a_redeploy_reinstalls_a_broken_component(
        rig: Rig, tmp_path: Path) -> None:
    fixed = tmp_path / "fixed"
    write_component(rig.components, "test.Flaky", lifecycle={
        "Install": "echo installing",
        "Startup": f"test -f {fixed} || {{ echo failing; exit 4; }}"})
    rig.deploy({"test.Flaky": V1})
    rig.wait_state("test.Flaky", BROKEN)
    assert "startup exited with 4" in rig.launcher.runner("test.Flaky").error
    assert rig.log("test.Flaky").splitlines().count("failing") == 3
    fixed.touch()
    result = rig.deploy({"test.Flaky": V1})  # the same document: the nucleus reinstalls BROKEN components
    assert result["restarted"] == ["test.Flaky"]
    rig.wait_state("test.Flaky", RUNNING)
    assert rig.log("test.Flaky").splitlines().count("installing") == 2


class ValidatingHost(FakeHost):
    """Components that answer validation requests at once, as `answers` says (None: never answers)."""

    def __init__(self, answers: dict[str, tuple[str, str | None] | None]) -> None:
        super().__init__()
        self.answers = answers
        self.asked: list[tuple[str, str, dict]] = []
        self.discarded: list[tuple[str, str]] = []

    def request_validation(self, name: str, deployment_id: str, configuration: dict) -> Future | None:
        if name not in self.answers:
            return None  # not subscribed
        self.asked.append((name, deployment_id, configuration))
        future: Future = Future()
        answer = self.answers[name]
        if answer is not None:
            future.set_result(ValidityReport(answer[0], deployment_id, answer[1]))
        return future

    def discard_validation(self, name: str, deployment_id: str) -> None:
        self.discarded.append((name, deployment_id))


def _merge(version: str, merge: dict) -> dict:
    return {"componentVersion": version, "configurationUpdate": {"merge": json.dumps(merge)}}


def test_a_rejected_configuration_fails_the_deployment_and_nothing_is_applied(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.host = rig.launcher.host = ValidatingHost({"test.Picky": ("REJECTED", "limit must be positive"),
                                                   "test.Easy": ("ACCEPTED", None)})
    try:
        write_component(rig.components, "test.Picky", lifecycle={"Startup": "true"}, configuration={"limit": 1})
        write_component(rig.components, "test.Easy", lifecycle={"Startup": "true"}, configuration={"x": 1})
        write_component(rig.components, "test.Old", lifecycle={"Startup": "true"})
        rig.deploy({"test.Picky": V1, "test.Easy": V1, "test.Old": V1})
        for name in ("test.Picky", "test.Easy", "test.Old"):
            rig.wait_state(name, RUNNING)
        assert rig.host.asked == []  # new components are not asked
        runners = dict(rig.launcher.runners)
        configured = list(rig.host.configured)

        with pytest.raises(ConfigurationValidationError) as failure:
            rig.launcher.deploy(*_specs(rig, {"test.Picky": _merge("1.0.0", {"limit": -1}),
                                              "test.Easy": _merge("1.0.0", {"x": 2})}),
                                deployment_id="dep-1", validation_timeout=5)
        assert "test.Picky rejected its new configuration: limit must be positive" in str(failure.value)
        assert "nothing was applied" in str(failure.value)
        assert sorted(n for n, _, _ in rig.host.asked) == ["test.Easy", "test.Picky"]
        assert ("test.Picky", "dep-1", {"limit": -1}) in rig.host.asked
        assert sorted(rig.host.discarded) == [("test.Easy", "dep-1"), ("test.Picky", "dep-1")]
        # Nothing applied: test.Old is not removed, nobody reconfigured or restarted.
        assert rig.host.configured == configured and rig.host.retired == []
        assert rig.launcher.runners == runners
        assert runners["test.Picky"].spec.configuration == {"limit": 1}
        assert all(r.state == RUNNING for r in runners.values())

        rig.host.answers["test.Picky"] = None  # subscribed, never answers
        with pytest.raises(ConfigurationValidationError, match=r"no configuration validity report from "
                                                               r"test\.Picky within 0\.5 s"):
            rig.launcher.deploy(*_specs(rig, {"test.Picky": _merge("1.0.0", {"limit": 2})}),
                                validation_timeout=0.5)
        assert runners["test.Picky"].spec.configuration == {"limit": 1}

        rig.host.answers["test.Picky"] = ("ACCEPTED", None)
        rig.host.asked.clear()
        result = rig.launcher.deploy(*_specs(rig, {"test.Picky": _merge("1.0.0", {"limit": 2}),
                                                   "test.Easy": V1, "test.Old": V1}))
        assert [n for n, _, _ in rig.host.asked] == ["test.Picky"]  # only what changes is asked
        assert result["reconfigured"] == ["test.Picky"]
        assert ("test.Picky", {"limit": 2}) in rig.host.configured
    finally:
        rig.launcher.stop_all()


def test_a_new_version_is_not_asked_to_validate(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.host = rig.launcher.host = ValidatingHost({"test.Picky": ("REJECTED", "no")})
    try:
        write_component(rig.components, "test.Picky", lifecycle={"Startup": "true"}, configuration={"limit": 1})
        rig.deploy({"test.Picky": V1})
        rig.wait_state("test.Picky", RUNNING)
        write_component(rig.components, "test.Picky", "2.0.0", lifecycle={"Startup": "true"},
                        configuration={"limit": 1})
        result = rig.launcher.deploy(*_specs(rig, {"test.Picky": _merge("2.0.0", {"limit": 9})}))
        assert rig.host.asked == [] and result["restarted"] == ["test.Picky"]
    finally:
        rig.launcher.stop_all()


def _specs(rig: Rig, components: dict) -> tuple[dict, dict, dict]:
    document = parse_document({"components": components}, "test.json")
    previous = {name: runner.spec.configuration for name, runner in rig.launcher.runners.items()}
    plan = plan_deployment(document, scan_built(rig.components), previous)
    specs, errors = build_specs(plan, rig.paths, "cam-1")
    return specs, errors, {n: c.version for n, c in document.components.items()}
