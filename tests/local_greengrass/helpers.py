"""Throwaway components in the greengrass-build layout (what `make build` writes), for launcher tests."""

from __future__ import annotations

import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import yaml

PYTHON = sys.executable  # the dev venv: it has awsiotsdk and boto3, like the device venv


def write_component(
    components_dir: Path,
    name: str,
    version: str = "1.0.0",
    *,
    lifecycle: dict[str, Any] | None = None,
    files: dict[str, str] | None = None,
    dependencies: dict[str, str] | None = None,
    configuration: dict[str, Any] | None = None,
    folder: str | None = None,
    permission: dict[str, str] | None = None,
) -> Path:
    """Write components/<folder>/greengrass-build/{recipes/recipe.yaml, artifacts/<name>/<version>/<folder>.zip}."""
    folder = folder or name.rsplit(".", 1)[-1]
    build = components_dir / folder / "greengrass-build"
    artifacts = build / "artifacts" / name / version
    artifacts.mkdir(parents=True, exist_ok=True)
    (build / "recipes").mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {"Platform": {"os": "linux"}, "Lifecycle": lifecycle or {}}
    if files:
        with zipfile.ZipFile(artifacts / f"{folder}.zip", "w") as archive:
            for path, text in files.items():
                archive.writestr(path, textwrap.dedent(text))
        artifact: dict[str, Any] = {"URI": f"s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/{folder}.zip",
                                    "Unarchive": "ZIP"}
        if permission:
            artifact["Permission"] = permission
        manifest["Artifacts"] = [artifact]
    recipe: dict[str, Any] = {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": name,
        "ComponentVersion": version,
        "ComponentPublisher": "tests",
        "Manifests": [{"Platform": {"os": "windows"}, "Lifecycle": {"Run": "exit 9"}}, manifest],
    }
    if dependencies:
        recipe["ComponentDependencies"] = {dep: {"VersionRequirement": req} for dep, req in dependencies.items()}
    if configuration is not None:
        recipe["ComponentConfiguration"] = {"DefaultConfiguration": configuration}
    (build / "recipes" / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    return components_dir / folder
