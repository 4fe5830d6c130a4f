"""Build-all picks the real GDK CLI only when it is the Greengrass one; the repo's build otherwise.
And the build output is read like GDK publish reads it."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from fleet import build
from fleet.aws import FleetError
from fleet.components import dependency_order, discover_projects, load_built
from tests.fleet.helpers import write_project


def fake_executable(folder: Path, name: str, script: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def only_fake_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin:/bin")
    return bin_dir


def test_the_pypi_gdk_is_not_mistaken_for_the_greengrass_cli(only_fake_bin):
    fake_executable(only_fake_bin, "gdk", 'echo "gdk 0.1 Gaussian distributions"\n')
    assert build.real_gdk() is None


def test_the_greengrass_gdk_builds_every_project_in_its_folder(only_fake_bin, tmp_path):
    log = tmp_path / "gdk.log"
    fake_executable(only_fake_bin, "gdk", f'case "$1" in --*) echo "Greengrass Development Kit 1.6.2";; '
                                          f'*) echo "$@ in $(pwd)" >> {log};; esac\n')
    root = tmp_path / "repo"
    write_project(root, "Runtime")
    write_project(root, "CameraIngest")

    assert build.build_all(root) == "gdk"
    assert log.read_text().splitlines() == [f"component build in {root}/components/CameraIngest",
                                            f"component build in {root}/components/Runtime"]


def test_without_gdk_the_repo_build_script_runs(only_fake_bin, tmp_path):
    root = tmp_path / "repo"
    write_project(root, "Runtime")
    marker = tmp_path / "built"
    script = root / "scripts" / "build_components.py"
    script.parent.mkdir(parents=True)
    script.write_text(f"from pathlib import Path\nPath({str(marker)!r}).write_text('ok')\n")

    assert build.build_all(root) == "scripts/build_components.py"
    assert marker.read_text() == "ok"


def test_dependencies_come_first_and_a_cycle_is_an_error(tmp_path):
    root = tmp_path / "repo"
    write_project(root, "Zeta")
    write_project(root, "Alpha", dependencies={"smartcam.Zeta": "^1.0.0", "aws.greengrass.TokenExchangeService": "^2"})
    ordered = dependency_order([load_built(p) for p in discover_projects(root)])
    assert [c.name for c in ordered] == ["smartcam.Zeta", "smartcam.Alpha"]

    write_project(root, "Zeta", dependencies={"smartcam.Alpha": "^1.0.0"})
    with pytest.raises(FleetError, match="cycle"):
        dependency_order([load_built(p) for p in discover_projects(root)])


def test_an_artifact_the_build_did_not_produce_is_reported(tmp_path):
    root = tmp_path / "repo"
    project = write_project(root, "Runtime")
    for built in (project / "greengrass-build" / "artifacts").rglob("*.zip"):
        built.unlink()
    with pytest.raises(FleetError, match=r"artifact .*Runtime.zip was not built"):
        load_built(discover_projects(root)[0])


def test_a_broken_gdk_config_is_reported(tmp_path):
    project = tmp_path / "repo" / "components" / "Runtime"
    project.mkdir(parents=True)
    (project / "gdk-config.json").write_text(json.dumps({"component": {}}))
    with pytest.raises(FleetError, match="not a valid GDK config"):
        discover_projects(tmp_path / "repo")
