"""One real local Greengrass runtime for the whole e2e package: mosquitto, DynamoDB Local, the four
components from their built recipes. Starting one takes a while (the stand-ins' JVM, every component),
so the modules share it; each module starts with the e2e deployment (a module that deploys other
settings gets the e2e ones back when it ends). The root persists under .local-greengrass/e2e so the
device venv that smartcam.Runtime installs is built once and reused by later runs.

As root, the writer's work folder (its spool) is a small tmpfs of its own, mounted before the runtime
starts, so tests/e2e/test_faults.py can fill that disk for real.

The runtime counts a component's failures as the nucleus does (BROKEN at the third within an hour),
across modules: no component may be killed three times in one run of the package, unless a test
restarts the runtime in between (test_faults.py's daemon kill does)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local_device.process import LocalRuntime
from tests.e2e.helpers import E2E_ROOT, WRITER, Pipeline, ensure_built, running_pipeline, spool_disk


@pytest.fixture(scope="package")
def shared_pipeline() -> Iterator[Pipeline]:
    ensure_built()
    runtime = LocalRuntime(E2E_ROOT)
    runtime.down()  # a runtime left behind by an interrupted run
    with spool_disk(E2E_ROOT / "work" / WRITER) as mounted, running_pipeline(runtime) as started:
        started.spool_disk_mounted = mounted
        yield started


@pytest.fixture(scope="module")
def pipeline(shared_pipeline: Pipeline) -> Iterator[Pipeline]:
    yield shared_pipeline
    if shared_pipeline.changed:
        shared_pipeline.redeploy()
