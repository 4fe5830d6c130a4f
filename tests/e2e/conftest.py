"""One real local Greengrass runtime per test module: mosquitto, DynamoDB Local, the four components
from their built recipes. The root persists under .local-greengrass/e2e so the device venv that
smartcam.Runtime installs is built once and reused by later runs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local_device.process import LocalRuntime
from tests.e2e.helpers import E2E_ROOT, Pipeline, ensure_built, running_pipeline


@pytest.fixture(scope="module")
def pipeline() -> Iterator[Pipeline]:
    ensure_built()
    runtime = LocalRuntime(E2E_ROOT)
    runtime.down()  # a runtime left behind by an interrupted run
    with running_pipeline(runtime) as started:
        yield started
