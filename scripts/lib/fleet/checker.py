"""A strict request checker over botocore's service models.

botocore's own validation (and therefore ``Stubber``) checks types, required members, unknown members
and minimum lengths, but not ``pattern``, ``enum`` or ``max``. This walker checks all of them against
the same model, plus a few semantic rules the service applies to opaque fields (recipes and
configuration merges are strings/blobs in the model). ``install(client)`` makes every request of that
client pass through the checker before anything is sent.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml
from botocore.client import BaseClient
from botocore.model import OperationModel, Shape

MAX_RECIPE_BYTES = 16000  # GDK refuses bigger recipes; the service limit for inline recipes
COMPONENT_NAME_PATTERN = re.compile(r"[a-zA-Z0-9-_.]{1,128}")
SEMVER_PATTERN = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)


class RequestRejected(ValueError):
    """A request that the service would refuse; ``problems`` lists every reason with its path."""

    def __init__(self, operation: str, problems: list[str]) -> None:
        self.operation = operation
        self.problems = problems
        super().__init__(f"{operation} request is invalid: " + "; ".join(problems))


def check_request(operation: OperationModel, params: Mapping[str, Any]) -> list[str]:
    """Every problem of ``params`` as input of ``operation`` (empty list: valid)."""
    problems: list[str] = []
    if operation.input_shape is not None:
        _check(operation.input_shape, params, operation.name, problems)
    semantic_check = _SEMANTIC_CHECKS.get((operation.service_model.service_name, operation.name))
    if semantic_check is not None and not problems:
        semantic_check(params, problems)
    return problems


def check(service_model_or_client: Any, operation_name: str, params: Mapping[str, Any]) -> None:
    """Raise :class:`RequestRejected` when ``params`` is not a valid ``operation_name`` request."""
    model = getattr(getattr(service_model_or_client, "meta", None), "service_model", service_model_or_client)
    operation = model.operation_model(operation_name)
    problems = check_request(operation, params)
    if problems:
        raise RequestRejected(operation_name, problems)


def install(client: BaseClient) -> BaseClient:
    """Check every request of ``client`` before it is built and sent (also under a Stubber)."""

    def _before_build(params: Mapping[str, Any], model: OperationModel, **_: Any) -> None:
        problems = check_request(model, params)
        if problems:
            raise RequestRejected(model.name, problems)

    client.meta.events.register("before-parameter-build", _before_build, unique_id="fleet-strict-checker")
    return client


def _check(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    kind = shape.type_name
    checker = _CHECKERS.get(kind)
    if checker is None:
        return
    checker(shape, value, path, problems)


def _check_structure(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, Mapping):
        problems.append(f"{path}: expected an object, got {type(value).__name__}")
        return
    for name in shape.required_members:
        if name not in value:
            problems.append(f"{path}.{name}: required")
    for name, member_value in value.items():
        member = shape.members.get(name)
        if member is None:
            problems.append(f"{path}.{name}: unknown parameter (valid: {', '.join(shape.members)})")
            continue
        _check(member, member_value, f"{path}.{name}", problems)


def _check_size(shape: Shape, size: int, path: str, what: str, problems: list[str]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and size < low:
        problems.append(f"{path}: {what} {size} is below the minimum {low}")
    if high is not None and size > high:
        problems.append(f"{path}: {what} {size} is above the maximum {high}")


def _check_list(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, list | tuple):
        problems.append(f"{path}: expected a list, got {type(value).__name__}")
        return
    _check_size(shape, len(value), path, "length", problems)
    for index, item in enumerate(value):
        _check(shape.member, item, f"{path}[{index}]", problems)


def _check_map(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, Mapping):
        problems.append(f"{path}: expected a map, got {type(value).__name__}")
        return
    _check_size(shape, len(value), path, "size", problems)
    for key, item in value.items():
        _check(shape.key, key, f"{path} key {key!r}", problems)
        _check(shape.value, item, f"{path}[{key!r}]", problems)


def _check_string(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, str):
        problems.append(f"{path}: expected a string, got {type(value).__name__}")
        return
    if shape.enum and value not in shape.enum:
        problems.append(f"{path}: {value!r} is not one of {', '.join(shape.enum)}")
    _check_size(shape, len(value), path, "length", problems)
    pattern = shape.metadata.get("pattern")
    # AWS applies model patterns to the whole value, so a pattern is anchored here.
    if pattern and re.fullmatch(pattern, value, flags=re.DOTALL) is None:
        problems.append(f"{path}: {value!r} does not match the pattern {pattern}")


def _check_integer(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(f"{path}: expected an integer, got {type(value).__name__}")
        return
    _check_size(shape, value, path, "value", problems)


def _check_float(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append(f"{path}: expected a number, got {type(value).__name__}")
        return
    _check_size(shape, value, path, "value", problems)


def _check_boolean(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, bool):
        problems.append(f"{path}: expected true or false, got {type(value).__name__}")


def _check_blob(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if isinstance(value, bytes | bytearray | str):
        _check_size(shape, len(value), path, "length", problems)
    elif not hasattr(value, "read"):
        problems.append(f"{path}: expected bytes or a file, got {type(value).__name__}")


def _check_timestamp(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, dt.datetime | str | int | float) or isinstance(value, bool):
        problems.append(f"{path}: expected a timestamp, got {type(value).__name__}")


_CHECKERS: dict[str, Callable[[Shape, Any, str, list[str]], None]] = {
    "structure": _check_structure,
    "list": _check_list,
    "map": _check_map,
    "string": _check_string,
    "integer": _check_integer,
    "long": _check_integer,
    "float": _check_float,
    "double": _check_float,
    "boolean": _check_boolean,
    "blob": _check_blob,
    "timestamp": _check_timestamp,
}


def recipe_problems(recipe_bytes: bytes | str) -> list[str]:
    """What the Greengrass service (and GDK) refuse in an inline recipe."""
    raw = recipe_bytes.encode() if isinstance(recipe_bytes, str) else bytes(recipe_bytes)
    if len(raw) > MAX_RECIPE_BYTES:
        return [f"inlineRecipe: {len(raw)} bytes, the limit is {MAX_RECIPE_BYTES}"]
    try:
        recipe = yaml.safe_load(raw)  # JSON is YAML
    except yaml.YAMLError as error:
        return [f"inlineRecipe: not JSON or YAML ({error})"]
    if not isinstance(recipe, dict):
        return ["inlineRecipe: not an object"]
    keys = {str(key).lower(): value for key, value in recipe.items()}
    problems = []
    if str(keys.get("recipeformatversion")) != "2020-01-25":
        problems.append("inlineRecipe.RecipeFormatVersion: must be 2020-01-25")
    name = keys.get("componentname")
    if not isinstance(name, str) or COMPONENT_NAME_PATTERN.fullmatch(name) is None:
        problems.append(f"inlineRecipe.ComponentName: {name!r} is not a valid component name")
    version = keys.get("componentversion")
    if not isinstance(version, str) or SEMVER_PATTERN.fullmatch(version) is None or len(version) > 64:
        problems.append(f"inlineRecipe.ComponentVersion: {version!r} is not a semantic version")
    return problems


def _check_component_version(params: Mapping[str, Any], problems: list[str]) -> None:
    if "inlineRecipe" in params:
        problems.extend(recipe_problems(params["inlineRecipe"]))


def merge_problem(merge: str) -> str | None:
    """Why a configurationUpdate.merge string is refused, or None."""
    try:
        parsed = json.loads(merge)
    except json.JSONDecodeError as error:
        return f"not valid JSON ({error})"
    if not isinstance(parsed, dict):
        return "must be a JSON object"
    return None


def _check_deployment(params: Mapping[str, Any], problems: list[str]) -> None:
    for name, spec in params.get("components", {}).items():
        if SEMVER_PATTERN.fullmatch(spec.get("componentVersion", "")) is None:
            problems.append(f"components[{name!r}].componentVersion: not a semantic version")
        update = spec.get("configurationUpdate", {})
        if "merge" in update and (reason := merge_problem(update["merge"])):
            problems.append(f"components[{name!r}].configurationUpdate.merge: {reason}")
        for pointer in update.get("reset", []):
            if pointer and not pointer.startswith("/"):
                problems.append(f"components[{name!r}].configurationUpdate.reset: {pointer!r} is not a JSON pointer")


_SEMANTIC_CHECKS: dict[tuple[str, str], Callable[[Mapping[str, Any], list[str]], None]] = {
    ("greengrassv2", "CreateComponentVersion"): _check_component_version,
    ("greengrassv2", "CreateDeployment"): _check_deployment,
}
