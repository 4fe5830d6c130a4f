"""The built recipe, made the way GDK 1.6.2 makes it.

GDK reads the recipe into nested case-insensitive dicts, overwrites four kinds of values by key
(ComponentName, ComponentVersion, ComponentPublisher, matched artifact URIs), validates the result
against its recipe schema with every key lower-cased, and dumps it with ``yaml.safe_dump(...,
sort_keys=False)`` (or ``json.dumps(..., indent=4)``). No string templating happens: a
``{COMPONENT_NAME}`` written anywhere else stays as written.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any

import yaml

from gdk_build.errors import BuildError
from gdk_build.project import ComponentProject, Schemas, get_ci, schema_problem

S3_PREFIX = "s3://"
BUILT_URI_PREFIX = "s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION"


def case_insensitive_copy(mapping: dict[str, Any]) -> dict[str, Any]:
    """What GDK's CaseInsensitiveDict round trip makes of a parsed mapping.

    Keys differing only in case collapse (first position, last spelling and value); dicts and
    the dicts directly inside lists become new objects, so YAML anchors/aliases in the source are
    written out expanded rather than as ``&id001`` references.
    """
    store: dict[str, tuple[str, Any]] = {}
    for key, value in mapping.items():
        store[key.lower()] = (key, value)
    result: dict[str, Any] = {}
    for key, value in store.values():
        if isinstance(value, dict):
            result[key] = case_insensitive_copy(value)
        elif isinstance(value, list):
            result[key] = [case_insensitive_copy(item) if isinstance(item, dict) else item for item in value]
        else:
            result[key] = value
    return result


def update_value(mapping: dict[str, Any], key: str, value: Any) -> None:
    """Overwrite ``key`` matched case-insensitively, keeping its spelling and position; else append it."""
    for existing in mapping:
        if existing.lower() == key.lower():
            mapping[existing] = value
            return
    mapping[key] = value


def keys_to_lower(value: Any) -> Any:
    if isinstance(value, dict):
        return {key.lower(): keys_to_lower(item) for key, item in value.items()}
    if isinstance(value, list):
        return [keys_to_lower(item) for item in value]
    return value


def s3_artifacts(recipe: dict[str, Any]) -> list[dict[str, Any]]:
    """Every artifact mapping whose URI is an s3:// URI, in recipe order."""
    found = []
    manifests = get_ci(recipe, "Manifests")
    for manifest in manifests if isinstance(manifests, list) else []:
        artifacts = get_ci(manifest, "Artifacts")
        for artifact in artifacts if isinstance(artifacts, list) else []:
            uri = get_ci(artifact, "URI")
            if isinstance(uri, str) and uri.startswith(S3_PREFIX):
                found.append(artifact)
    return found


def build_recipe(
    project: ComponentProject, built_files: set[str], schemas: Schemas
) -> tuple[dict[str, Any], list[str]]:
    """The transformed recipe and the file names it takes from the build folder (zip-build/).

    ``built_files`` are the names of the files the zip build leaves directly in zip-build/. An s3
    URI naming anything else is an error: GDK would look for it in S3, which a local build cannot.
    """
    recipe = case_insensitive_copy(project.recipe)
    update_value(recipe, "ComponentName", project.name)
    update_value(recipe, "ComponentVersion", project.version)
    update_value(recipe, "ComponentPublisher", project.author)
    used: list[str] = []
    for artifact in s3_artifacts(recipe):
        uri = get_ci(artifact, "URI")
        file_name = PurePosixPath(uri).name
        if file_name not in built_files:
            raise BuildError(project.recipe_file, (
                f"artifact URI '{uri}' names '{file_name}', which the zip build does not produce "
                f"(it produces {', '.join(sorted(built_files)) or 'nothing'}); GDK would look the URI up "
                "in S3 instead, so it cannot be built locally"))
        update_value(artifact, "Uri", f"{BUILT_URI_PREFIX}/{file_name}")
        if file_name not in used:
            used.append(file_name)
    problem = schema_problem(schemas.recipe, keys_to_lower(recipe))
    if problem:
        raise BuildError(project.recipe_file, f"the built recipe does not match the Greengrass recipe schema "
                                              f"(keys lower-cased, as GDK checks it) {problem}")
    return recipe, used


def serialize(recipe: dict[str, Any], suffix: str) -> str:
    if suffix == ".json":
        return json.dumps(recipe, indent=4)
    return yaml.safe_dump(recipe, sort_keys=False)
