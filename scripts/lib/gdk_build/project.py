"""Reading one GDK component project: gdk-config.json and its single recipe, checked as GDK checks them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from packaging.version import InvalidVersion, Version

from gdk_build import GDK_CLI_VERSION
from gdk_build.errors import BuildError

CONFIG_FILE = "gdk-config.json"
RECIPE_FILES = ("recipe.json", "recipe.yaml")  # the only names GDK looks for, never both
MAX_RECIPE_BYTES = 16000  # GDK refuses bigger recipes (consts.MAX_RECIPE_FILE_SIZE_BYTES)
CONFIG_SCHEMA = "gdk-config.schema.json"
RECIPE_SCHEMA = "greengrass-recipe.schema.json"


@dataclass(frozen=True)
class Schemas:
    config: jsonschema.Draft7Validator
    recipe: jsonschema.Draft7Validator
    folder: Path


@dataclass
class ComponentProject:
    folder: Path
    config_file: Path
    name: str
    version: str
    author: str
    build_options: dict[str, Any]
    recipe_file: Path
    recipe: dict[str, Any]
    dependencies: list[str] = field(default_factory=list)

    @property
    def archive_name(self) -> str:
        """Name of the artifact zip without .zip, as GDK's zip build chooses it."""
        zip_name = self.build_options.get("zip_name")
        if zip_name is None:
            return self.folder.name
        return str(zip_name) if len(zip_name) else self.name


# GDK 1.6.2's own schemas, copied unchanged (Apache-2.0; see schemas/SOURCES.md) so a clone builds anywhere.
BUNDLED_SCHEMAS = Path(__file__).resolve().parent / "schemas"


def load_schemas(folder: Path) -> Schemas:
    validators = []
    for name in (CONFIG_SCHEMA, RECIPE_SCHEMA):
        path = folder / name
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
            jsonschema.Draft7Validator.check_schema(schema)
        except FileNotFoundError:
            raise BuildError(path, "GDK schema not found (expected GDK 1.6.2's schemas in this folder; "
                                   "point --schemas or SMARTCAM_GDK_SCHEMAS at them)") from None
        except (json.JSONDecodeError, jsonschema.SchemaError) as exc:
            raise BuildError(path, f"not a usable JSON schema: {exc}") from None
        validators.append(jsonschema.Draft7Validator(schema))
    return Schemas(config=validators[0], recipe=validators[1], folder=folder)


def schema_problem(validator: jsonschema.Draft7Validator, instance: Any) -> str | None:
    """The most relevant schema violation as 'at /json/pointer: message', or None when valid."""
    error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if error is None:
        return None
    pointer = "/" + "/".join(str(p) for p in error.absolute_path)
    return f"at {pointer}: {error.message}"


def load_project(folder: Path, schemas: Schemas) -> ComponentProject:
    folder = folder.resolve()
    config_file = folder / CONFIG_FILE
    config = _load_config(config_file, schemas)
    name, settings = next(iter(config["component"].items()))
    recipe_file = find_recipe(folder)
    recipe = load_recipe(recipe_file)
    return ComponentProject(
        folder=folder,
        config_file=config_file,
        name=name,
        version=settings.get("version", "NEXT_PATCH"),
        author=settings.get("author", ""),
        build_options=dict(settings.get("build", {}).get("options", {}) or {}),
        recipe_file=recipe_file,
        recipe=recipe,
        dependencies=recipe_dependencies(recipe),
    )


def _load_config(config_file: Path, schemas: Schemas) -> dict[str, Any]:
    if not config_file.is_file():
        raise BuildError(config_file, "not found; every GDK component project needs one")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BuildError(config_file, f"not valid JSON: {exc}") from None
    problem = schema_problem(schemas.config, config)
    if problem:
        raise BuildError(config_file, f"does not match GDK's gdk-config schema {problem}")
    build_system = next(iter(config["component"].values()))["build"]["build_system"]
    if build_system != "zip":
        raise BuildError(config_file, f"build_system '{build_system}': only the zip build system is emulated here")
    try:
        too_new = Version(config["gdk_version"]) > Version(GDK_CLI_VERSION)
    except InvalidVersion:
        raise BuildError(config_file, f"gdk_version '{config['gdk_version']}' is not a version") from None
    if too_new:
        raise BuildError(config_file, f"gdk_version {config['gdk_version']} is newer than GDK CLI {GDK_CLI_VERSION}, "
                                      "which is what this build reproduces")
    return config


def find_recipe(folder: Path) -> Path:
    present = [folder / name for name in RECIPE_FILES if (folder / name).is_file()]
    if not present:
        raise BuildError(folder, "no recipe.yaml or recipe.json; GDK needs exactly one of them")
    if len(present) > 1:
        raise BuildError(present[0], "both recipe.json and recipe.yaml exist; GDK needs exactly one of them")
    return present[0]


def load_recipe(recipe_file: Path) -> dict[str, Any]:
    size = recipe_file.stat().st_size
    if size > MAX_RECIPE_BYTES:
        raise BuildError(recipe_file, f"{size} bytes; GDK refuses recipes over {MAX_RECIPE_BYTES} bytes")
    try:
        text = recipe_file.read_text(encoding="utf-8")
        recipe = json.loads(text) if recipe_file.suffix == ".json" else yaml.safe_load(text)
    except UnicodeDecodeError as exc:
        raise BuildError(recipe_file, f"not UTF-8 text: {exc}") from None
    except json.JSONDecodeError as exc:
        raise BuildError(recipe_file, f"not valid JSON: {exc}") from None
    except yaml.YAMLError as exc:
        raise BuildError(recipe_file, f"not valid YAML: {_yaml_problem(exc)}") from None
    if not isinstance(recipe, dict):
        raise BuildError(recipe_file, f"the recipe must be a mapping of keys, not {type(recipe).__name__}")
    bad_key = _non_string_key(recipe, "")
    if bad_key:
        raise BuildError(recipe_file, f"key {bad_key} is not a string (GDK reads keys case-insensitively)")
    return recipe


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = " ".join(filter(None, (getattr(exc, "context", None), getattr(exc, "problem", None))))
    if mark is None or not problem:
        return " ".join(str(exc).split())
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"


def _non_string_key(value: Any, where: str) -> str | None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{key!r} at {where or '/'}"
            found = _non_string_key(item, f"{where}/{key}")
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _non_string_key(item, f"{where}/{index}")
            if found:
                return found
    return None


def get_ci(mapping: Any, key: str, default: Any = None) -> Any:
    """Recipe keys are case-insensitive for GDK and the nucleus."""
    if isinstance(mapping, dict):
        for existing, value in mapping.items():
            if existing.lower() == key.lower():
                return value
    return default


def recipe_dependencies(recipe: dict[str, Any]) -> list[str]:
    dependencies = get_ci(recipe, "ComponentDependencies", {})
    return sorted(dependencies) if isinstance(dependencies, dict) else []
