
"""scripts/build_components.py gives what `gdk component build` (GDK CLI 1.6.2, zip) gives."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from gdk_build import cli as build_components
from repo_layout import REPO_ROOT

REPO = REPO_ROOT
COMPONENTS = REPO / "components"
REFERENCE = Path(__file__).resolve().parent / "gdk_build_reference"  # recorded from the real GDK CLI 1.6.2
FOLDERS = ["Runtime", "CameraIngest", "SsdInference", "DynamoWriter", "EventTracker", "OperatorView", "SsdModelStore"]
BUILT_URI = "s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/"
NOT_SOURCES = shutil.ignore_patterns("greengrass-build", "zip-build", "__pycache__", ".pytest_cache", ".gdk-build-*")


def build(components: Path, *folders: str) -> int:
    argv = ["--components-dir", str(components)]
    for folder in folders:
        argv += ["--component", folder]
    return build_components.main(argv)


def tree(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file below ``folder``."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def zip_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


# --- the reference: what the real GDK made of one small component -------------------------------

def make_reference_input(folder: Path) -> Path:
    source = REFERENCE / "input"
    for line in (source / "files.txt").read_text().split():
        path = folder / line
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {line}\n")
    shutil.copy(source / "gdk-config.json", folder / "gdk-config.json")
    shutil.copy(source / "recipe.yaml", folder / "recipe.yaml")
    return folder


def test_reference_component_builds_exactly_like_gdk(tmp_path):
    component = make_reference_input(tmp_path / "components" / "com.example.CameraIngest")
    assert build(tmp_path / "components") == 0

    expected_files = (REFERENCE / "output" / "greengrass-build-files.txt").read_text().split()
    written = sorted(str(p.relative_to(component)) for p in (component / "greengrass-build").rglob("*") if p.is_file())
    assert written == expected_files
    zip_path = component / next(f for f in expected_files if f.endswith(".zip"))
    assert zip_names(zip_path) == (REFERENCE / "output" / "artifact-zip-entries.txt").read_text().split()
    assert (component / "greengrass-build" / "recipes" / "recipe.yaml").read_text() == (
        REFERENCE / "output" / "greengrass-build-recipes-recipe.yaml").read_text()
    # zip-build/ holds the copy GDK zipped and the zip itself.
    assert (component / "zip-build" / "com.example.CameraIngest" / "src" / "util.py").is_file()
    assert not (component / "zip-build" / "com.example.CameraIngest" / "tests").exists()
    assert (component / "zip-build" / "com.example.CameraIngest.zip").read_bytes() == zip_path.read_bytes()


def test_next_patch_stays_literal_in_the_built_recipe_and_artifact_folder(tmp_path):
    component = make_reference_input(tmp_path / "components" / "com.example.CameraIngest")
    config = json.loads((component / "gdk-config.json").read_text())
    config["component"]["com.example.CameraIngest"]["version"] = "NEXT_PATCH"
    (component / "gdk-config.json").write_text(json.dumps(config))
    assert build(tmp_path / "components") == 0
    built = yaml.safe_load((component / "greengrass-build" / "recipes" / "recipe.yaml").read_text())
    assert built["ComponentVersion"] == "NEXT_PATCH"
    assert (component / "greengrass-build/artifacts/com.example.CameraIngest/NEXT_PATCH/com.example.CameraIngest.zip"
            ).is_file()


def test_any_build_option_turns_gdks_default_excludes_off(tmp_path):
    component = make_reference_input(tmp_path / "components" / "com.example.CameraIngest")
    config = json.loads((component / "gdk-config.json").read_text())
    config["component"]["com.example.CameraIngest"]["build"]["options"] = {"zip_name": ""}
    (component / "gdk-config.json").write_text(json.dumps(config))
    assert build(tmp_path / "components") == 0
    # An empty zip_name means "the component name": the recipe's URI names exactly that file.
    names = zip_names(component / "zip-build" / "com.example.CameraIngest.zip")
    assert {"tests/test_main.py", "test_top.py", ".env", "node_modules/b", "main.py"} <= set(names)
    assert "gdk-config.json" not in names and "recipe.yaml" not in names

    config["component"]["com.example.CameraIngest"]["build"]["options"] = {"excludes": ["**/test*", "**/.*"]}
    (component / "gdk-config.json").write_text(json.dumps(config))
    assert build(tmp_path / "components") == 0
    names = zip_names(component / "zip-build" / "com.example.CameraIngest.zip")
    assert "node_modules/b" in names
    assert not [n for n in names if n.startswith(("test", ".")) or "/test" in n]


# --- the repository's own components -------------------------------------------------------------

@pytest.fixture(scope="module")
def built_repo(tmp_path_factory):
    """A copy of components/ (sources only) built once; never writes into the working tree."""
    components = tmp_path_factory.mktemp("repo") / "components"
    shutil.copytree(COMPONENTS, components, ignore=NOT_SOURCES)
    assert build(components) == 0
    return components


def artifact_paths_in_lifecycle(recipe: dict) -> set[str]:
    text = json.dumps([m.get("Lifecycle", {}) for m in recipe["Manifests"]])
    return set(re.findall(r"(?<![:\w])\{artifacts:decompressedPath\}/([\w./-]+)", text))


@pytest.mark.parametrize("folder", FOLDERS)
def test_component_builds_with_gdks_layout(built_repo, folder):
    component = built_repo / folder
    config = json.loads((component / "gdk-config.json").read_text())
    ((name, settings),) = config["component"].items()
    version = settings["version"]
    artifacts = component / "greengrass-build" / "artifacts" / name / version
    assert sorted(p.name for p in artifacts.iterdir()) == [f"{folder}.zip"]
    assert sorted(p.name for p in (component / "greengrass-build" / "recipes").iterdir()) == ["recipe.yaml"]

    built = yaml.safe_load((component / "greengrass-build" / "recipes" / "recipe.yaml").read_text())
    assert built["ComponentName"] == name
    assert built["ComponentVersion"] == version
    assert built["ComponentPublisher"] == settings["author"]
    for manifest in built["Manifests"]:
        assert [a["URI"] for a in manifest["Artifacts"]] == [f"{BUILT_URI}{folder}.zip"]
    assert "&id" not in (component / "greengrass-build" / "recipes" / "recipe.yaml").read_text()

    names = zip_names(artifacts / f"{folder}.zip")
    assert not [n for n in names if n.split("/")[0] in {"gdk-config.json", "recipe.yaml", "greengrass-build",
                                                        "zip-build"}]
    assert not [n for n in names if any(part.startswith((".", "test")) or part == "node_modules"
                                        for part in n.split("/"))]
    # Every file or folder the lifecycle uses from this component's unpacked zip is in the zip.
    for path in artifact_paths_in_lifecycle(built):
        top, _, inside = path.partition("/")
        assert top == folder, f"the zip unpacks to {{artifacts:decompressedPath}}/{folder}/, not {top}/"
        assert not inside or {inside, inside.rstrip("/") + "/"} & set(names), (
            f"{path} is used by the recipe but not in {folder}.zip")


def test_app_components_ship_main_py_and_runtime_ships_the_shared_package(built_repo):
    for folder in ("CameraIngest", "SsdInference", "DynamoWriter", "EventTracker", "OperatorView"):
        assert "main.py" in zip_names(built_repo / folder / "zip-build" / f"{folder}.zip")
    runtime = zip_names(built_repo / "Runtime" / "zip-build" / "Runtime.zip")
    assert {"bootstrap_venv.py", "requirements.txt", "smartcam/__init__.py", "smartcam/ipc.py"} <= set(runtime)


def test_operator_view_ships_its_page(built_repo):
    names = set(zip_names(built_repo / "OperatorView" / "zip-build" / "OperatorView.zip"))
    page = ("index.html", "app.js", "app.css", "login.html", "login.js", "favicon.svg")
    assert {f"operator_view/web/{name}" for name in page} <= names


def test_rebuilding_unchanged_sources_gives_byte_identical_zips(built_repo, capsys):
    before = {f: (built_repo / f / "zip-build" / f"{f}.zip").read_bytes() for f in FOLDERS}
    for path in built_repo.rglob("*.py"):
        path.touch()  # new mtimes must not change the artifact
    assert build(built_repo) == 0
    after = {f: (built_repo / f / "zip-build" / f"{f}.zip").read_bytes() for f in FOLDERS}
    assert after == before


def test_components_are_built_dependencies_first(built_repo, capsys):
    assert build(built_repo, "DynamoWriter", "SsdInference", "SsdModelStore", "Runtime") == 0
    order = re.findall(r"^built (\S+)", capsys.readouterr().out, re.MULTILINE)
    assert order.index("smartcam.Runtime") < order.index("smartcam.DynamoWriter")
    assert order.index("smartcam.SsdModelStore") < order.index("smartcam.SsdInference")
    assert "smartcam.CameraIngest" not in order


# --- bad input: exit 2, the file named, nothing half-written -------------------------------------

GOOD_RECIPE = """\
RecipeFormatVersion: "2020-01-25"
ComponentName: "{COMPONENT_NAME}"
ComponentVersion: "{COMPONENT_VERSION}"
ComponentPublisher: "{COMPONENT_AUTHOR}"
Manifests:
  - Platform:
      os: linux
    Artifacts:
      - URI: "s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/Demo.zip"
        Unarchive: ZIP
    Lifecycle:
      Run: "python3 -u {artifacts:decompressedPath}/Demo/main.py"
"""


@pytest.fixture
def demo(tmp_path):
    """A tiny components/ folder: a shared runtime providing pydantic and one component using it."""
    components = tmp_path / "components"
    (components / "Runtime").mkdir(parents=True)
    (components / "Runtime" / "requirements.txt").write_text("# pinned\npydantic==2.14.3\n")
    component = components / "Demo"
    (component / "demo_pkg").mkdir(parents=True)
    # stdlib, a runtime package, own package, the shared package, and an import only for type checkers.
    (component / "main.py").write_text("import json\nimport pydantic\n\nfrom demo_pkg import app\nimport smartcam\n"
                                       "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import mypy_boto3\n")
    (component / "demo_pkg" / "__init__.py").write_text("")
    # A relative import, and an optional import guarded by ImportError (dlr is not in this runtime).
    (component / "demo_pkg" / "app.py").write_text("from . import helpers\ntry:\n    import dlr\nexcept ImportError:\n"
                                                   "    dlr = None\n")
    (component / "recipe.yaml").write_text(GOOD_RECIPE)
    (component / "gdk-config.json").write_text(json.dumps({
        "component": {"smartcam.Demo": {"author": "me", "version": "1.0.0", "build": {"build_system": "zip"},
                                        "publish": {"bucket": "b", "region": "eu-west-1"}}},
        "gdk_version": "1.6.2"}))
    assert build(components, "Demo") == 0
    return component


def break_yaml(component):
    (component / "recipe.yaml").write_text(GOOD_RECIPE.replace("  - Platform:", "  - Platform: [oops"))
    return "recipe.yaml"


def add_json_recipe(component):
    (component / "recipe.json").write_text(json.dumps(yaml.safe_load(GOOD_RECIPE)))
    return "recipe.json"


def break_config_schema(component):
    config = json.loads((component / "gdk-config.json").read_text())
    config["component"]["smartcam.Demo"]["version"] = "one"
    (component / "gdk-config.json").write_text(json.dumps(config))
    return "gdk-config.json"


def break_config_json(component):
    (component / "gdk-config.json").write_text("{")
    return "gdk-config.json"


def import_missing_module(component):
    (component / "demo_pkg" / "app.py").write_text("import os\n\nimport requests_toolbelt\n")
    return "demo_pkg/app.py"


def break_recipe_schema(component):
    (component / "recipe.yaml").write_text(GOOD_RECIPE.replace("Unarchive: ZIP", "Unarchive: TAR"))
    return "recipe.yaml"


def unmatched_s3_uri(component):
    (component / "recipe.yaml").write_text(GOOD_RECIPE.replace("Demo.zip", "model.tar.gz"))
    return "recipe.yaml"


def oversized_recipe(component):
    (component / "recipe.yaml").write_text(GOOD_RECIPE + "ComponentDescription: " + "x" * 16000 + "\n")
    return "recipe.yaml"


def python_syntax_error(component):
    (component / "demo_pkg" / "app.py").write_text("def broken(:\n")
    return "demo_pkg/app.py"


@pytest.mark.parametrize("breaks, problem", [
    (break_yaml, "not valid YAML"),
    (add_json_recipe, "both recipe.json and recipe.yaml"),
    (break_config_schema, "gdk-config schema"),
    (break_config_json, "not valid JSON"),
    (import_missing_module, "line 3: imports 'requests_toolbelt'"),
    (break_recipe_schema, "recipe schema"),
    (unmatched_s3_uri, "model.tar.gz"),
    (oversized_recipe, "16000"),
    (python_syntax_error, "syntax error"),
])
def test_bad_input_stops_the_build_naming_the_file(demo, capsys, breaks, problem):
    before = tree(demo / "greengrass-build") | {f"zip/{k}": v for k, v in tree(demo / "zip-build").items()}
    bad_file = breaks(demo)
    capsys.readouterr()

    assert build(demo.parent, "Demo") == 2

    message = capsys.readouterr().err
    assert f"{demo / bad_file}:" in message or f"Demo/{bad_file}:" in message, message
    assert problem in message
    after = tree(demo / "greengrass-build") | {f"zip/{k}": v for k, v in tree(demo / "zip-build").items()}
    assert after == before, "a failed build must leave the previous output as it was"
    assert not list(demo.glob(".gdk-build-*"))


def test_a_failure_in_one_component_writes_no_component(demo, capsys):
    shutil.rmtree(demo / "greengrass-build")
    shutil.copytree(demo, demo.parent / "Other", ignore=NOT_SOURCES)
    config = (demo.parent / "Other" / "gdk-config.json").read_text().replace("smartcam.Demo", "smartcam.Other")
    (demo.parent / "Other" / "gdk-config.json").write_text(config)
    import_missing_module(demo.parent / "Other")
    assert build(demo.parent) == 2
    assert "Other/demo_pkg/app.py" in capsys.readouterr().err
    assert not (demo / "greengrass-build").exists()


def test_command_line_exit_code_and_missing_schemas(demo, tmp_path):
    script = REPO / "scripts" / "build_components.py"
    base = [sys.executable, str(script), "--components-dir", str(demo.parent), "--component", "Demo"]
    ok = subprocess.run(base, capture_output=True, text=True, timeout=120, check=False)
    assert ok.returncode == 0, ok.stderr
    assert "built smartcam.Demo 1.0.0" in ok.stdout

    break_yaml(demo)
    bad = subprocess.run(base, capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 2
    assert "recipe.yaml" in bad.stderr

    missing = subprocess.run([*base, "--schemas", str(tmp_path / "nowhere")], capture_output=True, text=True,
                             timeout=120, check=False)
    assert missing.returncode == 2
    assert "nowhere/gdk-config.schema.json" in missing.stderr


def test_paths_into_other_components_artifacts_exist_in_their_zips(built_repo):
    """`{smartcam.X:artifacts:decompressedPath}/X/...` in a recipe must name something X's zip ships."""
    for folder in FOLDERS:
        built = yaml.safe_load((built_repo / folder / "greengrass-build" / "recipes" / "recipe.yaml").read_text())
        text = json.dumps([m.get("Lifecycle", {}) for m in built["Manifests"]])
        for name, path in re.findall(r"\{(smartcam\.\w+):artifacts:decompressedPath\}/([\w./-]+)", text):
            other = name.removeprefix("smartcam.")
            assert name in built.get("ComponentDependencies", {}), f"{folder} uses {name} without depending on it"
            top, _, inside = path.partition("/")
            assert top == other
            names = set(zip_names(built_repo / other / "zip-build" / f"{other}.zip"))
            assert not inside or {inside, inside.rstrip("/") + "/"} & names, f"{folder}: {path} not in {other}.zip"
