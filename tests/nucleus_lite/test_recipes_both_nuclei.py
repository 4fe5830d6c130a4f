"""Every recipe must run unchanged on the Java nucleus, nucleus lite and the local runtime. These
are the rules nucleus lite added (docs/nucleus-lite.md), checked on the recipes as written."""

from __future__ import annotations

import re
import zipfile

import pytest
import yaml

from repo_layout import COMPONENTS_DIR

FOLDERS = sorted(p.parent.name for p in COMPONENTS_DIR.glob("*/recipe.yaml"))
KERNEL_WORK = re.compile(r"\{kernel:rootPath\}/work/(smartcam\.\w+)/app/([\w./-]+)")
OWN_APP = re.compile(r"\{work:path\}/app/([\w./-]+)")


def recipe(folder: str) -> dict:
    return yaml.safe_load((COMPONENTS_DIR / folder / "recipe.yaml").read_text())


def zip_names(folder: str) -> set[str]:
    built = COMPONENTS_DIR / folder / "zip-build" / f"{folder}.zip"
    if built.exists():
        with zipfile.ZipFile(built) as archive:
            return set(archive.namelist())
    return {str(p.relative_to(COMPONENTS_DIR / folder)) for p in (COMPONENTS_DIR / folder).rglob("*")}


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_manifest_is_for_both_nuclei(folder: str) -> None:
    for manifest in recipe(folder)["Manifests"]:
        # Without `runtime` lite skips the manifest ("No lifecycle was found for linux").
        assert manifest["Platform"]["runtime"] == "*"
        lifecycle = manifest["Lifecycle"]  # lite refuses a component without one (artifacts-only)
        # Lite reads keys case-sensitively: steps lower case, step fields capitalised.
        assert set(lifecycle) <= {"install", "run"}, lifecycle
        assert "run" in lifecycle, "lite waits for the run unit of an install-only component, then fails"
        for step in lifecycle.values():
            if isinstance(step, dict):
                assert set(step) <= {"Script", "Timeout", "Setenv", "RequiresPrivilege"}, step
        for artifact in manifest.get("Artifacts", []):
            # Lite does not unpack ZIP artifacts of a local deployment: the install step does.
            assert "Unarchive" not in artifact


@pytest.mark.parametrize("folder", FOLDERS)
def test_no_cross_component_variables_and_every_path_is_shipped(folder: str) -> None:
    doc = recipe(folder)
    text = yaml.safe_dump(doc["Manifests"])
    assert not re.search(r"\{smartcam\.[\w.]+:", text), "lite has no cross-component recipe variables"
    install = doc["Manifests"][0]["Lifecycle"]["install"]
    script = install["Script"] if isinstance(install, dict) else install
    assert f"{{artifacts:path}}/{folder}.zip {{work:path}}/app" in script, "install unpacks its own zip"
    for path in OWN_APP.findall(text):
        assert path in zip_names(folder) or f"{path}/" in zip_names(folder), f"{path} is not in {folder}.zip"
    dependencies = set(doc.get("ComponentDependencies", {}))
    for component, path in KERNEL_WORK.findall(text):
        assert component in dependencies, f"{component} is named but not a dependency"
        other = component.removeprefix("smartcam.")
        names = zip_names(other)
        assert path in names or f"{path}/" in names or path == "venv", f"{path} is not in {other}.zip"
