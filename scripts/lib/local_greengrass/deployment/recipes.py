"""BUILT recipes (components/<Folder>/greengrass-build/recipes/recipe.yaml) read as the nucleus reads them.

Keys and enum values are case-insensitive; configuration keys and environment variable names are
not, so only the recipe's own structure is lower-cased.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from local_greengrass.deployment.versions import is_version, version_order

RECIPE_NAMES = ("recipe.yaml", "recipe.yml", "recipe.json")
COMPONENT_NAME = re.compile(r"^[a-zA-Z0-9\-_.]+$")
# Subtrees whose keys are data, not recipe structure: keep their case.
_KEEP_CASE = {"defaultconfiguration", "setenv", "componentdependencies", "platform"}
_ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "aarch64", "arm64": "aarch64",
                  "armv7l": "arm", "armv6l": "arm", "armv8l": "arm", "i386": "x86", "i686": "x86"}


class RecipeError(ValueError):
    pass


@dataclass(frozen=True)
class Artifact:
    uri: str
    unarchive: str = "NONE"  # ZIP | NONE
    read: str = "OWNER"  # OWNER | ALL | NONE
    execute: str = "NONE"

    @property
    def file_name(self) -> str:
        return PurePosixPath(self.uri.split("://", 1)[-1]).name


@dataclass(frozen=True)
class Dependency:
    requirement: str
    hard: bool = True


@dataclass
class Manifest:
    platform: dict[str, str]
    artifacts: list[Artifact]
    lifecycle: dict[str, Any]


@dataclass
class Recipe:
    path: Path
    name: str
    version: str
    digest: str
    dependencies: dict[str, Dependency] = field(default_factory=dict)
    default_configuration: dict[str, Any] = field(default_factory=dict)
    manifests: list[Manifest] = field(default_factory=list)

    def manifest_for(self, device: dict[str, str] | None = None) -> Manifest:
        device = device or current_platform()
        for manifest in self.manifests:
            if platform_matches(manifest.platform, device):
                return manifest
        wanted = ", ".join(f"{k}={v}" for k, v in device.items())
        raise RecipeError(f"{self.path}: {self.name} has no manifest for this platform ({wanted})")


def current_platform() -> dict[str, str]:
    machine = platform.machine().lower()
    return {"os": platform.system().lower(), "architecture": _ARCHITECTURES.get(machine, machine)}


def platform_matches(wanted: dict[str, str], device: dict[str, str]) -> bool:
    """Every key of the manifest's Platform must match: `*`, `/regex/` (full match) or the value, ignoring case."""
    for key, raw in wanted.items():
        actual = device.get(key.lower())
        value = str(raw)
        if value == "*":
            continue
        if actual is None:
            return False
        if len(value) > 1 and value.startswith("/") and value.endswith("/"):
            if not re.fullmatch(value[1:-1], actual):
                return False
        elif value.lower() != actual.lower():
            return False
    return True


def _lower_keys(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            name = str(key).lower()
            out[name] = value if name in _KEEP_CASE else _lower_keys(value)
        return out
    if isinstance(node, list):
        return [_lower_keys(item) for item in node]
    return node


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RecipeError(f"{path}: cannot read recipe: {exc.strerror}") from exc


def _parse(path: Path, text: str) -> dict[str, Any]:
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise RecipeError(f"{path}: recipe does not parse: {exc}") from exc
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: recipe is not a mapping")
    return _lower_keys(data)


def _artifact(path: Path, raw: Any) -> Artifact:
    if not isinstance(raw, dict) or not isinstance(raw.get("uri"), str):
        raise RecipeError(f"{path}: every artifact needs a URI")
    permission = raw.get("permission") or {}
    return Artifact(
        uri=raw["uri"],
        unarchive=str(raw.get("unarchive", "NONE")).upper(),
        read=str(permission.get("read", "OWNER")).upper(),
        execute=str(permission.get("execute", "NONE")).upper(),
    )


def _dependencies(path: Path, raw: Any) -> dict[str, Dependency]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise RecipeError(f"{path}: ComponentDependencies must be a mapping")
    deps = {}
    for name, raw_spec in raw.items():
        spec = {str(k).lower(): v for k, v in (raw_spec or {}).items()}
        deps[str(name)] = Dependency(
            requirement=str(spec.get("versionrequirement", "*")),
            hard=str(spec.get("dependencytype", "HARD")).upper() != "SOFT",
        )
    return deps


def load_recipe(path: Path) -> Recipe:
    text = _text(path)
    data = _parse(path, text)
    name, version = data.get("componentname"), data.get("componentversion")
    if not isinstance(name, str) or not COMPONENT_NAME.match(name) or len(name) > 128:
        raise RecipeError(f"{path}: bad or missing ComponentName {name!r}")
    if not isinstance(version, str) or not is_version(version):
        raise RecipeError(f"{path}: {name}: ComponentVersion {version!r} is not a semantic version")
    config = (data.get("componentconfiguration") or {}).get("defaultconfiguration") or {}
    if not isinstance(config, dict):
        raise RecipeError(f"{path}: {name}: DefaultConfiguration must be a mapping")
    global_lifecycle = data.get("lifecycle") or {}
    manifests = []
    for raw in data.get("manifests") or []:
        if not isinstance(raw, dict):
            raise RecipeError(f"{path}: {name}: every manifest must be a mapping")
        manifests.append(Manifest(
            platform={str(k).lower(): str(v) for k, v in (raw.get("platform") or {}).items()},
            artifacts=[_artifact(path, a) for a in raw.get("artifacts") or []],
            lifecycle=raw.get("lifecycle") or global_lifecycle,
        ))
    if not manifests and global_lifecycle:
        manifests.append(Manifest(platform={}, artifacts=[], lifecycle=global_lifecycle))
    return Recipe(
        path=path, name=name, version=version, digest=hashlib.sha256(text.encode()).hexdigest(),
        dependencies=_dependencies(path, data.get("componentdependencies")),
        default_configuration=config, manifests=manifests,
    )


@dataclass(frozen=True)
class BuiltComponent:
    name: str
    folder: Path
    recipe_path: Path
    version: str = ""

    def artifact_dir(self, version: str) -> Path:
        return self.folder / "greengrass-build" / "artifacts" / self.name / version


@dataclass
class Catalog:
    """Component name -> version -> its built folder, found by scanning components/*/greengrass-build/recipes.

    Like the versions published in a cloud account, several versions of one component may be built side
    by side (each in a folder of its own, e.g. a new SsdModelStore next to the current one); a deployment
    picks one by its componentVersion."""

    builds: dict[str, dict[str, BuiltComponent]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def components(self) -> dict[str, BuiltComponent]:
        """Name -> its newest build."""
        return {name: versions[max(versions, key=version_order)] for name, versions in self.builds.items()}

    def load(self, name: str, version: str | None = None) -> tuple[BuiltComponent, Recipe]:
        """The build of ``version`` if there is one, else the newest (whose version the caller checks)."""
        versions = self.builds.get(name)
        if not versions:
            hint = f" (recipes that failed to load: {'; '.join(self.errors)})" if self.errors else ""
            raise RecipeError(f"{name}: no built recipe under components/*/greengrass-build/recipes "
                              f"(run `make build`){hint}")
        built = versions.get(version) if version is not None else None
        built = built or self.components[name]
        return built, load_recipe(built.recipe_path)


def scan_built(components_dir: Path) -> Catalog:
    catalog = Catalog()
    for recipes_dir in sorted(components_dir.glob("*/greengrass-build/recipes")):
        candidates = [recipes_dir / n for n in RECIPE_NAMES if (recipes_dir / n).is_file()]
        if not candidates:
            continue
        try:
            recipe = load_recipe(candidates[0])
        except RecipeError as exc:
            catalog.errors.append(str(exc))
            continue
        folder = recipes_dir.parent.parent
        versions = catalog.builds.setdefault(recipe.name, {})
        if recipe.version in versions:
            other = versions[recipe.version].folder
            catalog.errors.append(f"{recipe.name} {recipe.version} is built in both {other} and {folder}")
            continue
        versions[recipe.version] = BuiltComponent(recipe.name, folder, candidates[0], recipe.version)
    return catalog
