
"""smartcam.SsdModelStore's recipe and what GDK's zip build would ship of its folder."""

import fnmatch
import json
from pathlib import Path

import jsonschema
import yaml

from gdk_build.project import BUNDLED_SCHEMAS
from model_packaging.model_json import load_model_json
from repo_layout import REPO_ROOT

REPO = REPO_ROOT
COMPONENT = REPO / "components" / "SsdModelStore"
SCHEMA = BUNDLED_SCHEMAS / "greengrass-recipe.schema.json"
# GDK 1.6.2 zip build's default excludes (used when gdk-config.json has no build.options).
GDK_DEFAULT_EXCLUDES = ("**/test*", "**/.*", "**/node_modules", "gdk-config.json", "recipe.yaml")
BUILD_OUTPUTS = ("greengrass-build", "zip-build")  # GDK's own output folders, never zipped


def lower_keys(value):
    if isinstance(value, dict):
        return {key.lower(): lower_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [lower_keys(item) for item in value]
    return value


def recipe():
    return yaml.safe_load((COMPONENT / "recipe.yaml").read_text())


def gdk_zip_entries(folder: Path) -> list[str]:
    entries = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        parts = relative.split("/")
        if parts[0] in BUILD_OUTPUTS:
            continue
        excluded = any(
            fnmatch.fnmatch(part, pattern.removeprefix("**/")) for pattern in GDK_DEFAULT_EXCLUDES for part in parts
        )
        if path.is_file() and not excluded:
            entries.append(relative)
    return entries


def test_recipe_ships_the_model_zip_readable_by_all_and_only_unpacks_it():
    document = recipe()
    assert document["ComponentName"] == "{COMPONENT_NAME}"
    assert document["ComponentVersion"] == "{COMPONENT_VERSION}"
    platforms = [manifest["Platform"]["architecture"] for manifest in document["Manifests"]]
    assert platforms == ["amd64", "aarch64"]
    for manifest in document["Manifests"]:
        # No code: the install step unpacks the zip into the work folder (nucleus lite does not unpack
        # ZIP artifacts of a local deployment) and `run` only keeps the component RUNNING (lite stops
        # HARD dependents of a component that exits); see docs/nucleus-lite.md.
        assert manifest["Lifecycle"] == {
            "install": "rm -rf {work:path}/app && python3 -I -m zipfile -e {artifacts:path}/SsdModelStore.zip "
                       "{work:path}/app",
            "run": "exec sleep infinity",
        }
        (artifact,) = manifest["Artifacts"]
        # The real GDK zip build names the zip after the component folder.
        assert artifact["URI"] == "s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/SsdModelStore.zip"
        assert "Unarchive" not in artifact
        assert artifact["Permission"] == {"Read": "ALL"}


def test_recipe_matches_the_greengrass_schema():
    # What GDK validates: the recipe after its key overwrite, keys lower-cased.
    built = {**recipe(), "ComponentName": "smartcam.SsdModelStore", "ComponentVersion": "1.0.0",
             "ComponentPublisher": "smartcam maintainers"}
    jsonschema.validate(lower_keys(built), json.loads(SCHEMA.read_text()))


def test_gdk_zip_build_ships_the_whole_model_folder():
    entries = gdk_zip_entries(COMPONENT)
    document = load_model_json(COMPONENT / "model")
    assert "model/model.json" in entries
    assert {f"model/{name}" for name in document["files"]} <= set(entries)
    # beside the model: its README and the publish gate's record of its figures (and the replaced model's)
    assert not [entry for entry in entries if not entry.startswith("model/") and entry not in (
        "README.md", "evaluation.json")]


def test_runtime_preference_covers_both_manifests():
    document = load_model_json(COMPONENT / "model")
    assert document["runtime_preference"]["x86_64"][0] == "dlr"
    assert document["runtime_preference"]["aarch64"][-1] == "dlr", "PyPI has no DLR library for aarch64"
    for machine, order in document["runtime_preference"].items():
        for name in order:
            builds = [entry for key, entry in document["runtimes"].items() if key.split("-")[0] == name]
            assert any(machine in entry["platforms"] for entry in builds), (machine, name)


def test_committed_model_stays_small():
    # Two fp32 exports (~12.2 MB each), the INT8 export (3.8 MB) and four DLR builds (~12.8 MB each: their
    # weights are laid out per CPU's vector width, so no two builds share a file): 79.4 MB today.
    total = sum(path.stat().st_size for path in (COMPONENT / "model").rglob("*") if path.is_file())
    assert total < 85_000_000
