"""The repo's GDK projects (components/<Folder>/gdk-config.json) and their `gdk component build` output."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fleet.aws import FleetError
from repo_layout import REPO_ROOT
from smartcam.contracts import sha256_file

ARTIFACT_URI = re.compile(r"s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/(?P<file>[^/]+)")
NEXT_PATCH = "NEXT_PATCH"


@dataclass(frozen=True)
class Project:
    """One GDK project: the component it builds and where GDK publishes it."""

    folder: Path
    name: str
    version: str  # a semantic version or NEXT_PATCH
    author: str
    bucket_prefix: str
    region: str | None
    file_upload_args: dict[str, Any]


@dataclass(frozen=True)
class BuiltComponent:
    """What `gdk component build` left in greengrass-build/: the recipe and its artifact files."""

    project: Project
    recipe: dict[str, Any]
    artifacts: dict[str, Path]  # file name -> path

    @property
    def name(self) -> str:
        return self.project.name

    def dependencies(self) -> list[str]:
        return sorted(get_key(self.recipe, "ComponentDependencies", {}) or {})

    def artifact_sha256(self) -> dict[str, str]:
        return {file: sha256_file(path) for file, path in sorted(self.artifacts.items())}


def get_key(mapping: dict[str, Any], key: str, default: Any = None) -> Any:
    """Recipe keys are case-insensitive for the nucleus and the service."""
    for candidate, value in mapping.items():
        if str(candidate).lower() == key.lower():
            return value
    return default



def load_recipe(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    recipe = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if not isinstance(recipe, dict):
        raise FleetError(f"{path}: a recipe must be an object")
    return recipe


def discover_projects(root: Path = REPO_ROOT) -> list[Project]:
    """Every components/<Folder> with a gdk-config.json, sorted by folder."""
    projects = [load_project(config.parent) for config in sorted((root / "components").glob("*/gdk-config.json"))]
    if not projects:
        raise FleetError(f"no GDK projects under {root / 'components'} (components/<Folder>/gdk-config.json)")
    return projects


def load_project(folder: Path) -> Project:
    path = folder / "gdk-config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
        ((name, component),) = config["component"].items()
        publish = component.get("publish", {})
        return Project(
            folder=folder,
            name=name,
            version=str(component["version"]),
            author=str(component.get("author", "")),
            bucket_prefix=str(publish["bucket"]),
            region=publish.get("region"),
            file_upload_args=dict(publish.get("options", {}).get("file_upload_args", {})),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        reason = f"not a valid GDK config with one component and a publish bucket ({error!r})"
        raise FleetError(f"{path}: {reason}") from error


def component_names(root: Path = REPO_ROOT) -> set[str]:
    return {project.name for project in discover_projects(root)}


def load_built(project: Project) -> BuiltComponent:
    """The build output of ``project``; every s3://BUCKET_NAME/... artifact must have its file."""
    build = project.folder / "greengrass-build"
    recipes = [p for p in (build / "recipes").glob("recipe.*") if p.suffix in {".yaml", ".yml", ".json"}]
    if len(recipes) != 1:
        raise FleetError(f"{project.name}: no single built recipe in {build / 'recipes'}; build first (--build)")
    recipe = load_recipe(recipes[0])
    version_dirs = [p for p in (build / "artifacts" / project.name).glob("*") if p.is_dir()]
    wanted = str(get_key(recipe, "ComponentVersion", ""))
    chosen = next((p for p in version_dirs if p.name == wanted), version_dirs[0] if len(version_dirs) == 1 else None)
    files = {p.name: p for p in chosen.iterdir() if p.is_file()} if chosen else {}
    artifacts: dict[str, Path] = {}
    for uri in artifact_uris(recipe):
        match = ARTIFACT_URI.fullmatch(uri)
        if match is None:
            continue  # not a GDK-managed artifact (another bucket, docker:, ...): left as written
        file = match["file"]
        if file not in files:
            raise FleetError(f"{project.name}: the recipe's artifact {uri} was not built (no {file} in {chosen})")
        artifacts[file] = files[file]
    return BuiltComponent(project=project, recipe=recipe, artifacts=artifacts)


def manifest_artifacts(recipe: dict[str, Any]) -> list[dict[str, Any]]:
    """Every artifact object of every manifest (the same dict objects, so callers may edit them)."""
    found = []
    for manifest in get_key(recipe, "Manifests", []) or []:
        found.extend(artifact for artifact in get_key(manifest, "Artifacts", []) or [] if isinstance(artifact, dict))
    return found


def artifact_uris(recipe: dict[str, Any]) -> list[str]:
    return [str(get_key(artifact, "URI", "")) for artifact in manifest_artifacts(recipe)]


def dependency_order(components: list[BuiltComponent]) -> list[BuiltComponent]:
    """Dependencies first (only dependencies inside the repo matter); a cycle is an error."""
    by_name = {component.name: component for component in components}
    ordered: list[BuiltComponent] = []
    state: dict[str, str] = {}

    def visit(name: str, chain: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            raise FleetError("component dependency cycle: " + " -> ".join([*chain, name]))
        state[name] = "visiting"
        for dependency in by_name[name].dependencies():
            if dependency in by_name:
                visit(dependency, [*chain, name])
        state[name] = "done"
        ordered.append(by_name[name])

    for name in sorted(by_name):
        visit(name, [])
    return ordered
