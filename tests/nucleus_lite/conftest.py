"""The devices the scenario runs on, one module-scoped fixture parametrized over both: the repo's
local runtime and nucleus lite (skipped, with the reason, where it cannot run). Nothing is left
running after the module: the fixture's teardown takes each device down (for lite: kills the
private systemd's PID namespace) and checks a marker file in the host's /tmp survived."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_device.observe import Operator
from nucleus_lite.devices import LiteRuntimeDevice, LocalRuntimeDevice, ScenarioDevice
from nucleus_lite.namespace import available
from nucleus_lite.sources import find_sources
from tests.e2e.helpers import E2E_ROOT, ensure_built
from tests.nucleus_lite.observe import SummaryWatcher


def lite_unavailable() -> str | None:
    if find_sources() is None:
        return "nucleus lite sources not found (SMARTCAM_GREENGRASS_LITE_SOURCES or ../shared/vendor/greengrass-lite)"
    return available()


@pytest.fixture(scope="module", params=["local", "lite"])
def device(request: pytest.FixtureRequest) -> Iterator[ScenarioDevice]:
    ensure_built()
    if request.param == "lite":
        reason = lite_unavailable()
        if reason:
            pytest.skip(f"nucleus lite: {reason}")
        sources = find_sources()
        assert sources is not None
        chosen: LiteRuntimeDevice | LocalRuntimeDevice = LiteRuntimeDevice(sources)
    else:
        chosen = LocalRuntimeDevice(E2E_ROOT)  # the e2e tests' root: its device venv is reused
    # Someone else's file in the host's /tmp: a systemd that could see /tmp would delete it.
    marker = Path(tempfile.mkstemp(prefix="smartcam-nucleus-lite-marker-", dir="/tmp")[1])
    try:
        chosen.up()
        yield chosen
    finally:
        chosen.down()
        survived = marker.exists()
        marker.unlink(missing_ok=True)
        assert survived, f"{marker} in the host's /tmp was deleted while {chosen.name} ran"


@pytest.fixture(scope="module")
def operator(device: ScenarioDevice) -> Iterator[Operator]:
    made = Operator(device)  # type: ignore[arg-type]
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(scope="module")
def watcher(device: ScenarioDevice) -> Iterator[SummaryWatcher]:
    made = SummaryWatcher(device)
    try:
        yield made
    finally:
        made.close()


def pid_of(device: ScenarioDevice, component: str) -> int:
    process = device.component_process(component)
    assert process is not None, f"{component} has no process on {device.name}"
    return process.pid


