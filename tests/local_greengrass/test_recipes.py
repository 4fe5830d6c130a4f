"""Built recipes: case-insensitive keys, manifest selection for this platform, the name -> folder catalog."""

from pathlib import Path

import pytest
import yaml

from local_greengrass.deployment.recipes import RecipeError, current_platform, load_recipe, platform_matches, scan_built

LINUX_AMD64 = {"os": "linux", "architecture": "amd64"}


def write_recipe(path: Path, recipe: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(recipe))
    return path


def recipe_with(manifests: list[dict], **extra: object) -> dict:
    return {"RecipeFormatVersion": "2020-01-25", "ComponentName": "test.Thing", "ComponentVersion": "1.0.0",
            "Manifests": manifests, **extra}


@pytest.mark.parametrize(
    ("wanted", "matches"),
    [
        ({"os": "linux"}, True),
        ({"os": "Linux", "architecture": "AMD64"}, True),
        ({"os": "linux", "architecture": "aarch64"}, False),
        ({"os": "*", "architecture": "*"}, True),
        ({"os": "/lin.*/"}, True),
        ({"os": "/win.*/"}, False),
        ({"os": "linux", "architecture": "/amd64|x86/"}, True),
        ({}, True),
        ({"os": "linux", "runtime": "aws_nucleus_lite"}, False),
    ],
)
def test_platform_matching(wanted: dict, matches: bool) -> None:
    assert platform_matches(wanted, LINUX_AMD64) is matches


def test_current_platform_uses_greengrass_architecture_names() -> None:
    platform = current_platform()
    assert platform["os"] == "linux"
    assert platform["architecture"] in {"amd64", "aarch64", "arm", "x86"}


def test_first_matching_manifest_wins(tmp_path: Path) -> None:
    path = write_recipe(tmp_path / "recipe.yaml", recipe_with([
        {"Platform": {"os": "windows"}, "Lifecycle": {"Run": "windows"}},
        {"Platform": {"os": "linux", "architecture": "aarch64"}, "Lifecycle": {"Run": "arm"}},
        {"Platform": {"os": "linux"}, "Lifecycle": {"Run": "first linux"}},
        {"Platform": {"os": "*"}, "Lifecycle": {"Run": "any"}},
    ]))
    recipe = load_recipe(path)
    assert recipe.manifest_for(LINUX_AMD64).lifecycle["run"] == "first linux"
    assert recipe.manifest_for({"os": "linux", "architecture": "aarch64"}).lifecycle["run"] == "arm"


def test_no_matching_manifest_is_a_clear_error(tmp_path: Path) -> None:
    path = write_recipe(tmp_path / "recipe.yaml", recipe_with([{"Platform": {"os": "windows"}}]))
    with pytest.raises(RecipeError, match=r"test\.Thing has no manifest for this platform \(os=linux"):
        load_recipe(path).manifest_for(LINUX_AMD64)


def test_keys_are_case_insensitive_but_configuration_and_setenv_keep_case(tmp_path: Path) -> None:
    path = write_recipe(tmp_path / "recipe.yaml", {
        "recipeformatversion": "2020-01-25", "COMPONENTNAME": "test.Thing", "componentVersion": "1.2.3",
        "componentconfiguration": {"DEFAULTCONFIGURATION": {"frameRate": 5, "Nested": {"keepMe": True}}},
        "ComponentDependencies": {"smartcam.Runtime": {"versionrequirement": "^1.0.0", "DEPENDENCYTYPE": "soft"}},
        "MANIFESTS": [{"PLATFORM": {"OS": "linux"},
                       "ARTIFACTS": [{"uri": "s3://b/x/y/Thing.zip", "UNARCHIVE": "zip",
                                      "permission": {"READ": "all"}}],
                       "LIFECYCLE": {"SETENV": {"My_Var": "1"}, "INSTALL": {"SCRIPT": "true", "TIMEOUT": 5}}}],
    })
    recipe = load_recipe(path)
    assert (recipe.name, recipe.version) == ("test.Thing", "1.2.3")
    assert recipe.default_configuration == {"frameRate": 5, "Nested": {"keepMe": True}}
    assert recipe.dependencies["smartcam.Runtime"].requirement == "^1.0.0"
    assert recipe.dependencies["smartcam.Runtime"].hard is False
    manifest = recipe.manifest_for(LINUX_AMD64)
    assert manifest.lifecycle["setenv"] == {"My_Var": "1"}
    assert manifest.lifecycle["install"] == {"script": "true", "timeout": 5}
    artifact = manifest.artifacts[0]
    assert (artifact.file_name, artifact.unarchive, artifact.read) == ("Thing.zip", "ZIP", "ALL")


def test_a_recipe_that_does_not_parse_names_its_file(tmp_path: Path) -> None:
    path = tmp_path / "recipe.yaml"
    path.write_text("ComponentName: [unclosed\n")
    with pytest.raises(RecipeError, match=str(path)):
        load_recipe(path)


def test_bad_version_is_refused(tmp_path: Path) -> None:
    path = write_recipe(tmp_path / "recipe.yaml", {**recipe_with([]), "ComponentVersion": "NEXT_PATCH"})
    with pytest.raises(RecipeError, match="not a semantic version"):
        load_recipe(path)


def test_catalog_maps_component_names_to_folders_and_keeps_errors(tmp_path: Path) -> None:
    write_recipe(tmp_path / "Ingest/greengrass-build/recipes/recipe.yaml",
                 {**recipe_with([]), "ComponentName": "smartcam.CameraIngest"})
    (tmp_path / "Broken/greengrass-build/recipes").mkdir(parents=True)
    (tmp_path / "Broken/greengrass-build/recipes/recipe.yaml").write_text(": not yaml: [")
    (tmp_path / "NotBuilt").mkdir()
    catalog = scan_built(tmp_path)
    assert catalog.components["smartcam.CameraIngest"].folder == tmp_path / "Ingest"
    assert len(catalog.errors) == 1 and "Broken" in catalog.errors[0]
    with pytest.raises(RecipeError, match=r"smartcam\.Missing: no built recipe.*Broken"):
        catalog.load("smartcam.Missing")


def test_catalog_holds_several_versions_of_a_component_and_deploys_the_one_asked_for(tmp_path: Path) -> None:
    for folder, version in (("Store", "1.0.0"), ("Store-1.1.0", "1.1.0"), ("Store-1.10.0-rc.1", "1.10.0-rc.1")):
        write_recipe(tmp_path / folder / "greengrass-build/recipes/recipe.yaml",
                     {**recipe_with([]), "ComponentName": "smartcam.SsdModelStore", "ComponentVersion": version})
    catalog = scan_built(tmp_path)
    assert catalog.errors == []
    assert catalog.load("smartcam.SsdModelStore", "1.1.0")[0].folder == tmp_path / "Store-1.1.0"
    assert catalog.load("smartcam.SsdModelStore", "1.0.0")[1].version == "1.0.0"
    # no build of the version asked for: the newest (a pre-release sorts before its release), which the
    # deployment then refuses as a version mismatch
    assert catalog.load("smartcam.SsdModelStore", "2.0.0")[1].version == "1.10.0-rc.1"
    assert catalog.components["smartcam.SsdModelStore"].folder == tmp_path / "Store-1.10.0-rc.1"


def test_catalog_refuses_the_same_version_built_twice(tmp_path: Path) -> None:
    for folder in ("Store", "Copy"):
        write_recipe(tmp_path / folder / "greengrass-build/recipes/recipe.yaml",
                     {**recipe_with([]), "ComponentName": "smartcam.SsdModelStore"})
    catalog = scan_built(tmp_path)
    assert catalog.components["smartcam.SsdModelStore"].folder == tmp_path / "Copy"
    assert len(catalog.errors) == 1 and "1.0.0 is built in both" in catalog.errors[0]
