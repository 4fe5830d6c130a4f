"""Settings for the whole test run."""

from __future__ import annotations

import os

import pytest

from local_greengrass.standins.dynamodb_local import JAVA_OPTIONS_ENV

# DynamoDB Local starts more than a dozen times in a run (the writer tests, every local runtime,
# nucleus lite's device), each time on the critical path. With the client compiler only and the
# serial collector the JVM answers in about half the time on a busy 2-core machine; what the tests
# ask of it is correctness, not throughput (the benchmarks run it with the JVM's defaults). The local
# runtime's daemon inherits it through the environment.
os.environ.setdefault(JAVA_OPTIONS_ENV, "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")


LOCAL_RUNTIME = "local-runtime"  # the e2e tests and nucleus_lite's scenario: one runtime root, one worker


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """With pytest-xdist (-n 2): each test module runs whole on one worker (module fixtures, tests in
    order); the e2e tests and nucleus_lite's scenario share one local runtime root
    (.local-greengrass/e2e), so they run on one worker, one after another, and start first: they are
    the longest, and mostly wait on the pipeline while the other worker runs the in-process tests."""
    from xdist.scheduler import LoadScopeScheduling

    class ByModuleLocalRuntimeFirst(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return LOCAL_RUNTIME if module.startswith(("tests/e2e/", "tests/nucleus_lite/")) else module

        def _assign_work_unit(self, node: object) -> None:
            if LOCAL_RUNTIME in self.workqueue:
                self.workqueue.move_to_end(LOCAL_RUNTIME, last=False)
            super()._assign_work_unit(node)

    return ByModuleLocalRuntimeFirst(config, log)
