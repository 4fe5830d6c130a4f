"""A canary rollout on two real local core devices (two local Greengrass runtimes, one IoT Core stand-in):
`scripts/deploy.py canary` promotes a good model version to the fleet, and rolls a broken one back on
the canary while the fleet never gets it.

Both devices run the pipeline (Runtime, SsdModelStore, CameraIngest, SsdInference, DynamoWriter) on a
folder camera of photos with one person each, capturing continuously; SsdInference summarises every
frame to IoT Core, which the rollout reads. The model versions are built here from the packaged model
(tests/fleet/canary_devices.py): 1.1.0 is the same network, 1.2.0 the same network packaged with
shuffled anchors. The roots persist under .local-greengrass/canary/ so each device's venv is built
once."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fleet import deploy_cli
from local_device.observe import Operator
from local_device.overlay import pipeline_merges, write_overlay
from local_device.process import LocalRuntime
from local_device.video import copy_people
from repo_layout import REPO_ROOT
from smartcam.contracts import CaptureCommand
from tests.e2e.helpers import ensure_built
from tests.fleet.canary_devices import components_dir, model_store_version, runtime_here

ROOT = REPO_ROOT / ".local-greengrass" / "canary"
CANARY, FLEET = "smartcam-canary", "smartcam-fleet"
CAMERA = "cam0"
MODEL_STORE = "smartcam.SsdModelStore"
NEW_VERSIONS = ("1.1.0", "1.2.0")
# Short windows: each device infers ~4 frames a second, so a few seconds give enough frames to judge.
# Latency is judged too, but loosely: on a machine busy with other tests a few seconds of inference time
# say little (the unit tests hold the latency check to its threshold).
WINDOW = ["--baseline-s", "4", "--watch-s", "5", "--min-frames", "6", "--max-latency-increase", "4",
          "--timeout", "300"]


def document(root: Path) -> Path:
    people = copy_people(root / "camera")
    camera = {"id": CAMERA, "source": {"type": "folder", "path": str(people), "fps": 10}, "width": 640,
              "height": 480, "loop": True, "motion": {"enabled": False}}
    path = write_overlay(root / "deployment.json", pipeline_merges(camera=camera), name="smartcam-canary-e2e")
    data = json.loads(path.read_text())
    del data["components"]["smartcam.EventTracker"]  # not needed to judge a model; one process less per device
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


@pytest.fixture(scope="module")
def devices() -> Iterator[tuple[LocalRuntime, LocalRuntime, Path]]:
    ensure_built()
    components = components_dir(ROOT / "components")
    runtime = runtime_here()
    model_store_version(components, "1.1.0", runtime)
    model_store_version(components, "1.2.0", runtime, shuffle_anchors=7)
    canary, fleet = LocalRuntime(ROOT / "canary"), LocalRuntime(ROOT / "fleet")
    for device in (fleet, canary):
        device.down()  # left by an interrupted run
        for version in NEW_VERSIONS:  # what an earlier run deployed: each device starts without them
            shutil.rmtree(device.root / "packages" / "artifacts" / MODEL_STORE / version, ignore_errors=True)
    doc = document(ROOT)
    options = ("--components-dir", str(components))
    operators: list[Operator] = []
    try:
        # The fleet device starts once the canary's runtime (and with it the IoT Core stand-in) answers,
        # while the canary's components still start.
        with ThreadPoolExecutor(max_workers=1) as background:
            canary_up = background.submit(canary.up, doc, options=(*options, "--thing-name", f"{CANARY}-core"))
            while canary.cli("status").returncode != 0 and not canary_up.done():
                time.sleep(0.2)
            if canary_up.done():
                canary_up.result()  # raises why the canary device did not start
            fleet.up(doc, options=(*options, "--thing-name", f"{FLEET}-core", "--iot-core-of", str(canary.root)))
            canary_up.result()
        for device in (canary, fleet):
            operator = Operator(device)
            operators.append(operator)
            operator.send(CaptureCommand(action="start", camera_id=CAMERA, fps=4, request_id="canary-e2e"))
        yield canary, fleet, doc
    finally:
        for operator in operators:
            operator.close()
        fleet.down()  # first: it uses the canary's IoT Core stand-in
        canary.down()


def versions(device: LocalRuntime) -> dict[str, str]:
    return {row["component"]: row["version"] for row in device.status()["components"]}


def canary_rollout(doc: Path, version: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = deploy_cli.main(["canary", str(doc), "--model-version", version, "--canary-group", CANARY,
                            "--fleet-group", FLEET, "--local", f"{CANARY}={ROOT / 'canary'}",
                            "--local", f"{FLEET}={ROOT / 'fleet'}", *WINDOW])
    return code, capsys.readouterr().out


def test_a_good_model_is_promoted_and_a_broken_one_rolled_back(devices, capsys) -> None:
    canary, fleet, doc = devices
    assert versions(canary)[MODEL_STORE] == versions(fleet)[MODEL_STORE] == "1.0.0"

    code, out = canary_rollout(doc, "1.1.0", capsys)
    assert code == 0, out
    assert "decision: PROMOTE to the fleet (every check passed)" in out
    assert versions(canary)[MODEL_STORE] == versions(fleet)[MODEL_STORE] == "1.1.0"

    promoted = json.loads(doc.read_text())
    promoted["components"][MODEL_STORE]["componentVersion"] = "1.1.0"  # what the fleet runs now
    now = doc.with_name("deployment-1.1.0.json")
    now.write_text(json.dumps(promoted))
    code, out = canary_rollout(now, "1.2.0", capsys)
    assert code == 1, out
    decision = next(line for line in out.splitlines() if line.startswith("decision:"))
    assert decision.startswith("decision: ROLL BACK the canary (detection rate:"), out
    assert f"rollback of {CANARY} to 1.1.0: done" in out
    assert versions(canary)[MODEL_STORE] == "1.1.0"
    assert versions(fleet)[MODEL_STORE] == "1.1.0"
    assert "fleet deployment of 1.2.0" not in out
    # the fleet device never even received 1.2.0's artifact; the canary did, and runs 1.1.0 again
    assert not (fleet.root / "packages" / "artifacts" / MODEL_STORE / "1.2.0").exists()
    assert (canary.root / "packages" / "artifacts" / MODEL_STORE / "1.2.0").exists()
