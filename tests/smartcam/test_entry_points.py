
"""Each app component's main.py keeps the Greengrass lifecycle contract with a mocked IPC client.

Only the contract is tested (RUNNING reported, configuration read, clean exit 0 once stopped), not
what the apps do, so these tests hold while the apps behind the entry points are replaced.
"""

from __future__ import annotations

import copy
import importlib.util
import re
import threading
import time
import uuid
from pathlib import Path
from unittest.mock import MagicMock

import pytest
import yaml

from local_device.operator_page import free_page_port
from repo_layout import REPO_ROOT
from tests.support.fake_nucleus import FakeNucleus
from tests.support.frame_root import nucleus_frame_root

REPO = REPO_ROOT
COMPONENTS = REPO / "components"
APP_COMPONENTS = ["CameraIngest", "SsdInference", "DynamoWriter", "EventTracker", "OperatorView"]
GENEROUS_S = 120.0
THING = "foundation-test-thing"


def recipe(folder: str) -> dict:
    return yaml.safe_load((COMPONENTS / folder / "recipe.yaml").read_text())


def default_configuration(folder: str) -> dict:
    return copy.deepcopy(recipe(folder).get("ComponentConfiguration", {}).get("DefaultConfiguration", {}))


def recipe_environment(folder: str, work: Path) -> dict[str, str]:
    """The Setenv of the first manifest (lifecycle and run step), interpolated as the nucleus would on
    this machine; ``{kernel:rootPath}/work/smartcam.X/app`` is this checkout's components/X (what the
    install step of X unpacks there)."""
    lifecycle = recipe(folder)["Manifests"][0].get("Lifecycle", {})
    run = lifecycle.get("run") if isinstance(lifecycle.get("run"), dict) else {}
    setenv = {k: str(v) for k, v in {**(lifecycle.get("Setenv") or {}), **(run.get("Setenv") or {})}.items()}
    config = default_configuration(folder)
    root = work.parent / "kernel-root"
    for component in COMPONENTS.iterdir():
        if (component / "recipe.yaml").exists():
            (root / "work" / f"smartcam.{component.name}").mkdir(parents=True, exist_ok=True)
            app = root / "work" / f"smartcam.{component.name}" / "app"
            if not app.exists():
                app.symlink_to(component)

    def interpolate(match: re.Match) -> str:
        token = match.group(1)
        if token == "work:path":
            return str(work)
        if token == "kernel:rootPath":
            return str(root)
        if token == "iot:thingName":
            return THING
        if token.endswith("artifacts:decompressedPath"):
            return str(COMPONENTS)  # the unpacked zip of component X is <path>/X/, like this checkout
        if token.startswith("configuration:"):
            value = config
            for part in token.split(":", 1)[1].strip("/").split("/"):
                value = value[part]
            return str(value)
        return match.group(0)

    return {k: re.sub(r"\{([^{}]+)\}", interpolate, v) for k, v in setenv.items()}


def mock_client(folder: str) -> MagicMock:
    configuration = default_configuration(folder)
    if folder == "OperatorView":  # a demo left running on this machine may hold the recipe's port
        configuration["port"] = free_page_port(configuration["port"])
    return FakeNucleus(configuration, f"smartcam.{folder}").client


def load_main(folder: str):
    spec = importlib.util.spec_from_file_location(
        f"smartcam_entry_{folder}_{uuid.uuid4().hex}", COMPONENTS / folder / "main.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reported_states(client: MagicMock) -> list[str]:
    return [str(c.kwargs.get("state", c.args[0] if c.args else None)) for c in client.update_state.call_args_list]


@pytest.mark.parametrize("folder", APP_COMPONENTS)
def test_entry_point_reports_running_reads_config_and_stops_cleanly(folder, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(COMPONENTS / folder))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_IOT_THING_NAME", THING)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    for key, value in recipe_environment(folder, tmp_path / "work").items():
        monkeypatch.setenv(key, value)
    nucleus_frame_root(monkeypatch, tmp_path)  # the nucleus gives every component its IPC socket's path
    (tmp_path / "work").mkdir()
    module = load_main(folder)
    client = mock_client(folder)
    stop = threading.Event()
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(module.main(client=client, stop=stop)), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + GENEROUS_S
        while "RUNNING" not in reported_states(client) and thread.is_alive() and time.monotonic() < deadline:
            assert "ERRORED" not in reported_states(client), f"{folder} reported ERRORED with its default config"
            time.sleep(0.05)
        assert "RUNNING" in reported_states(client), f"{folder} never reported RUNNING (returned {result})"
    finally:
        stop.set()
        thread.join(GENEROUS_S)
    assert not thread.is_alive(), f"{folder} did not stop after the stop event"
    assert result == [0]
    assert client.get_configuration.called
    assert client.subscribe_to_configuration_update.called
    assert client.close.called
