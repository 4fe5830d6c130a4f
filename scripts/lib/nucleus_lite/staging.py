"""The built components (``components/*/greengrass-build``, what GDK publishes) laid out for
``ggl-cli deploy``: ``recipes/<name>-<version>.json`` and ``artifacts/<name>/<version>/<files>``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from repo_layout import COMPONENTS_DIR


def built_components(components_dir: Path = COMPONENTS_DIR) -> dict[str, tuple[str, Path]]:
    """name -> (version, greengrass-build folder) of every built component."""
    found: dict[str, tuple[str, Path]] = {}
    for recipe in sorted(components_dir.glob("*/greengrass-build/recipes/recipe.yaml")):
        document = yaml.safe_load(recipe.read_text())
        found[str(document["ComponentName"])] = (str(document["ComponentVersion"]), recipe.parents[1])
    return found


def stage(into: Path, components_dir: Path = COMPONENTS_DIR) -> dict[str, str]:
    """Copy every built recipe and artifact into ``into``; returns name -> version."""
    recipes, artifacts = into / "recipes", into / "artifacts"
    shutil.rmtree(into, ignore_errors=True)
    recipes.mkdir(parents=True)
    artifacts.mkdir()
    versions: dict[str, str] = {}
    for name, (version, build) in built_components(components_dir).items():
        # As JSON, the form the Greengrass service hands a device (lite saves what ResolveComponent-
        # Candidates returns as <name>-<version>.json): lite's YAML decoder makes every scalar a string
        # (ggl-yaml/src/yaml_decode.c), so a YAML recipe's DefaultConfiguration numbers and booleans
        # would reach the components as "0.5" and "true". Same document, same keys, typed values.
        document = yaml.safe_load((build / "recipes" / "recipe.yaml").read_text())
        (recipes / f"{name}-{version}.json").write_text(json.dumps(document, indent=2) + "\n")
        source = build / "artifacts" / name / version
        if source.is_dir():
            shutil.copytree(source, artifacts / name / version)
        versions[name] = version
    for path in (into, *into.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return versions
