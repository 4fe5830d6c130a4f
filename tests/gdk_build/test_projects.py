
"""Every component folder is a valid GDK project: gdk-config.json and recipe as GDK checks them."""

from __future__ import annotations

import hashlib
import json
import re

import jsonschema
import pytest
import yaml

from gdk_build import sync_configs as sync_gdk_configs
from gdk_build.project import BUNDLED_SCHEMAS
from repo_layout import REPO_ROOT

REPO = REPO_ROOT
COMPONENTS = REPO / "components"
SCHEMAS = BUNDLED_SCHEMAS
FOLDERS = ["Runtime", "CameraIngest", "SsdInference", "DynamoWriter", "EventTracker", "OperatorView", "SsdModelStore"]
NEEDS_NO_RUNTIME = {"Runtime", "SsdModelStore"}


def keys_to_lower(value):
    if isinstance(value, dict):
        return {k.lower(): keys_to_lower(v) for k, v in value.items()}
    if isinstance(value, list):
        return [keys_to_lower(v) for v in value]
    return value


def load_schema(name):
    path = SCHEMAS / name
    if not path.is_file():
        pytest.fail(f"GDK schema {path} is missing (scripts/lib/gdk_build/schemas)")
    return json.loads(path.read_text())


def recipe(folder):
    return yaml.safe_load((COMPONENTS / folder / "recipe.yaml").read_text())


def test_the_component_folders_exist_with_one_recipe_each():
    for folder in FOLDERS:
        assert (COMPONENTS / folder / "gdk-config.json").is_file(), folder
        assert (COMPONENTS / folder / "recipe.yaml").is_file(), folder
        assert not (COMPONENTS / folder / "recipe.json").exists(), f"{folder}: GDK refuses two recipe files"


@pytest.mark.parametrize("folder", FOLDERS)
def test_gdk_config_matches_gdks_schema_and_shared_settings(folder):
    config = json.loads((COMPONENTS / folder / "gdk-config.json").read_text())
    jsonschema.Draft7Validator(load_schema("gdk-config.schema.json")).validate(config)
    environments = json.loads((REPO / "gdk-config" / "environments.json").read_text())
    default = environments["environments"][environments["default_environment"]]
    ((name, settings),) = config["component"].items()
    assert name == f"smartcam.{folder}"
    assert settings["author"] == environments["author"]
    assert settings["publish"] == {"bucket": default["bucket"], "region": default["region"]}
    assert config["gdk_version"] == environments["gdk_version"]
    # Any build option, even only zip_name, turns GDK's default excludes (tests, hidden files) off.
    assert settings["build"] == {"build_system": "zip"}


def test_gdk_configs_are_in_sync_with_environments_json(capsys):
    assert sync_gdk_configs.main(["--check"]) == 0, capsys.readouterr().err


def test_sync_check_names_a_stale_file_and_writes_nothing(tmp_path, capsys):
    components = tmp_path / "components"
    (components / "Demo").mkdir(parents=True)
    (components / "Demo" / "recipe.yaml").write_text("RecipeFormatVersion: '2020-01-25'\n")
    stale = components / "Demo" / "gdk-config.json"
    stale.write_text(sync_gdk_configs.render("smartcam.Demo", "2.3.4", {
        "author": "someone else", "bucket": "b", "region": "r", "gdk_version": "1.6.2"}))
    before = stale.read_text()
    args = ["--components-dir", str(components), "--environments", str(REPO / "gdk-config" / "environments.json")]

    assert sync_gdk_configs.main([*args, "--check"]) == 1
    assert "Demo/gdk-config.json" in capsys.readouterr().err
    assert stale.read_text() == before

    assert sync_gdk_configs.main(args) == 0
    written = json.loads(stale.read_text())
    assert list(written["component"]) == ["smartcam.Demo"]  # name and version are kept
    assert written["component"]["smartcam.Demo"]["version"] == "2.3.4"
    assert written["component"]["smartcam.Demo"]["author"] == "smartcam maintainers"
    assert sync_gdk_configs.main([*args, "--check"]) == 0


def test_sync_refuses_an_unknown_environment(capsys):
    assert sync_gdk_configs.main(["--check", "--env", "nowhere"]) == 2
    assert "environments.json" in capsys.readouterr().err


@pytest.mark.parametrize("folder", FOLDERS)
def test_recipe_matches_gdks_recipe_schema_with_lowercased_keys(folder):
    path = COMPONENTS / folder / "recipe.yaml"
    assert path.stat().st_size <= 16000, "GDK refuses recipes over 16000 bytes"
    built_like = recipe(folder)
    # GDK validates after writing the name and version into the recipe.
    built_like["ComponentName"] = f"smartcam.{folder}"
    built_like["ComponentVersion"] = "1.0.0"
    validator = jsonschema.Draft7Validator(load_schema("greengrass-recipe.schema.json"))
    errors = [f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(
        keys_to_lower(built_like))]
    assert errors == []


def resources(access_control):
    for policies in (access_control or {}).values():
        for policy in policies.values():
            yield from policy.get("resources", [])


@pytest.mark.parametrize("folder", FOLDERS)
def test_no_access_control_resource_is_a_bare_star(folder):
    configuration = recipe(folder).get("ComponentConfiguration", {}).get("DefaultConfiguration", {})
    found = list(resources(configuration.get("accessControl")))
    assert "*" not in found
    assert all(isinstance(r, str) and r.strip() for r in found)


@pytest.mark.parametrize("folder", sorted(set(FOLDERS) - NEEDS_NO_RUNTIME))
def test_app_components_depend_on_the_shared_runtime(folder):
    dependency = recipe(folder)["ComponentDependencies"]["smartcam.Runtime"]
    assert dependency["VersionRequirement"]
    assert dependency.get("DependencyType", "HARD") == "HARD"
    for manifest in recipe(folder)["Manifests"]:
        # Kernel-rooted: nucleus lite has no cross-component variables ({smartcam.Runtime:work:path}).
        assert "{kernel:rootPath}/work/smartcam.Runtime/venv/bin/python" in json.dumps(manifest["Lifecycle"])


@pytest.mark.parametrize("name", ["gdk-config.schema.json", "greengrass-recipe.schema.json"])
def test_bundled_schemas_are_the_recorded_gdk_files_unchanged(name):
    """SOURCES.md records each file's provenance and sha256; a clone beside ../shared also compares bytes."""
    sources = (SCHEMAS / "SOURCES.md").read_text()
    recorded = re.search(rf"^\| {re.escape(name)} \|[^|]*\| `([0-9a-f]{{64}})` \|", sources, flags=re.M)
    assert recorded, f"SOURCES.md records no sha256 for {name}"
    assert hashlib.sha256((SCHEMAS / name).read_bytes()).hexdigest() == recorded[1]
    shared = REPO.parent / "shared" / "schemas" / name
    if shared.is_file():
        assert (SCHEMAS / name).read_bytes() == shared.read_bytes()
