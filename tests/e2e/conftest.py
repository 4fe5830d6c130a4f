"""One real local Greengrass runtime per test module: mosquitto, DynamoDB Local, the four components
from their built recipes. The root persists under .local-greengrass/e2e so the device venv that
smartcam.Runtime installs is built once and reused by later runs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local_device.observe import Operator, PipelineObserver
from local_device.overlay import write_overlay
from local_device.process import LocalRuntime
from local_device.store import table
from tests.e2e.helpers import E2E_ROOT, Pipeline, ensure_built, merges


@pytest.fixture(scope="module")
def pipeline() -> Iterator[Pipeline]:
    ensure_built()
    runtime = LocalRuntime(E2E_ROOT)
    runtime.down()  # a runtime left behind by an interrupted run
    document = write_overlay(E2E_ROOT / "e2e" / "deployment.json", merges(E2E_ROOT), name="smartcam-e2e")
    operator = observer = None
    try:
        runtime.up(document)
        observer = PipelineObserver(runtime)
        operator = Operator(runtime)
        yield Pipeline(runtime, operator, observer, table(runtime.dynamodb_endpoint()), runtime.thing_name(),
                       document)
    finally:
        for closable in (operator, observer):
            if closable is not None:
                closable.close()
        runtime.down()
