"""CreateDeployment documents: validation, configuration (reset -> defaults -> merge) and version checks.

A structurally broken document is refused whole. A problem with one component (bad merge JSON,
missing or mismatched build, missing dependency) marks that component and its dependents as not
deployable; the others deploy.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from access_policy import wildcard_problems

from local_greengrass.deployment.recipes import COMPONENT_NAME, BuiltComponent, Catalog, Manifest, Recipe, RecipeError
from local_greengrass.deployment.versions import VersionError, is_version, satisfies

NUCLEUS = "aws.greengrass.Nucleus"
# A component name, not a secret.
TOKEN_EXCHANGE = "aws.greengrass.TokenExchangeService"  # noqa: S105  # nosec B105
BUILTINS = {NUCLEUS: "2.14.3", TOKEN_EXCHANGE: "2.0.3"}
_TARGET_ARN = re.compile(r"^arn:[^:]+:iot:([^:]*):\d*:(thing|thinggroup)/([a-zA-Z0-9:_-]+)$")
# CreateDeployment's configurationValidationPolicy.timeoutInSeconds default (the nucleus also waits 20 s).
DEFAULT_VALIDATION_TIMEOUT = 20.0
_KNOWN_KEYS = {"targetArn", "deploymentName", "components", "deploymentPolicies", "iotJobConfiguration",
               "parentTargetArn", "tags", "clientToken"}


class DeploymentError(ValueError):
    pass


@dataclass
class RequestedComponent:
    name: str
    version: str
    merge: dict[str, Any] = field(default_factory=dict)
    reset: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class DeploymentDocument:
    source: str
    components: dict[str, RequestedComponent]
    target_arn: str | None = None
    name: str | None = None
    validation_timeout: float = DEFAULT_VALIDATION_TIMEOUT

    @property
    def region(self) -> str | None:
        match = _TARGET_ARN.match(self.target_arn or "")
        return match.group(1) or None if match else None

    @property
    def thing_name(self) -> str | None:
        """The thing of a thing target; for a thing group, a core device named after the group."""
        match = _TARGET_ARN.match(self.target_arn or "")
        if not match:
            return None
        return match.group(3) if match.group(2) == "thing" else f"{match.group(3)}-core"


def _requested(source: str, name: str, spec: Any, allow_wildcard_access: bool) -> RequestedComponent:
    if not isinstance(spec, dict):
        raise DeploymentError(f"{source}: components.{name} must be an object")
    version = spec.get("componentVersion")
    if not isinstance(version, str) or not is_version(version):
        raise DeploymentError(f"{source}: components.{name}.componentVersion {version!r} is not a semantic version")
    requested = RequestedComponent(name=name, version=version)
    update = spec.get("configurationUpdate") or {}
    if not isinstance(update, dict) or set(update) - {"merge", "reset"}:
        requested.error = f"{source}: {name}: configurationUpdate takes only 'merge' (JSON string) and 'reset'"
        return requested
    merge = update.get("merge")
    if merge is not None:
        try:
            parsed = json.loads(merge) if isinstance(merge, str) else None
        except ValueError as exc:
            requested.error = f"{source}: {name}: configurationUpdate.merge is not valid JSON: {exc}"
            return requested
        if not isinstance(parsed, dict):
            requested.error = f"{source}: {name}: configurationUpdate.merge must be a JSON object in a string"
            return requested
        wildcards = [] if allow_wildcard_access else wildcard_problems(parsed)
        if wildcards:
            requested.error = f"{source}: {name}: configurationUpdate.merge: " + "; ".join(wildcards)
            return requested
        requested.merge = parsed
    reset = update.get("reset") or []
    if not isinstance(reset, list) or not all(isinstance(p, str) and (p == "" or p.startswith("/")) for p in reset):
        requested.error = f"{source}: {name}: configurationUpdate.reset must be a list of JSON pointers"
        return requested
    requested.reset = reset
    return requested


def parse_document(data: Any, source: str = "<document>", *, allow_wildcard_access: bool = False) -> DeploymentDocument:
    """The document, or DeploymentError; a component whose merge grants a bare ``*`` in accessControl
    is not deployable unless ``allow_wildcard_access``."""
    if not isinstance(data, dict):
        raise DeploymentError(f"{source}: a deployment document is a JSON object")
    unknown = set(data) - _KNOWN_KEYS
    if unknown:
        raise DeploymentError(f"{source}: unknown keys {sorted(unknown)} (CreateDeployment shape expected)")
    target = data.get("targetArn")
    if target is not None and not (isinstance(target, str) and _TARGET_ARN.match(target)):
        raise DeploymentError(f"{source}: targetArn {target!r} is not a thing or thing group ARN")
    components = data.get("components")
    if not isinstance(components, dict) or not components:
        raise DeploymentError(f"{source}: 'components' must be a non-empty object")
    parsed = {}
    for name, spec in components.items():
        if not COMPONENT_NAME.match(name):
            raise DeploymentError(f"{source}: {name!r} is not a valid component name")
        parsed[name] = _requested(source, name, spec, allow_wildcard_access)
    return DeploymentDocument(source=source, components=parsed, target_arn=target, name=data.get("deploymentName"),
                              validation_timeout=_validation_timeout(source, data.get("deploymentPolicies")))


def _validation_timeout(source: str, policies: Any) -> float:
    """deploymentPolicies.configurationValidationPolicy.timeoutInSeconds (the other policies are not modelled)."""
    if policies is None:
        return DEFAULT_VALIDATION_TIMEOUT
    if not isinstance(policies, dict):
        raise DeploymentError(f"{source}: deploymentPolicies must be an object")
    policy = policies.get("configurationValidationPolicy")
    if policy is None:
        return DEFAULT_VALIDATION_TIMEOUT
    if not isinstance(policy, dict):
        raise DeploymentError(f"{source}: deploymentPolicies.configurationValidationPolicy must be an object")
    timeout = policy.get("timeoutInSeconds", DEFAULT_VALIDATION_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise DeploymentError(f"{source}: deploymentPolicies.configurationValidationPolicy.timeoutInSeconds "
                              f"{timeout!r} is not a positive number of seconds")
    return float(timeout)


def load_document(path: Path) -> DeploymentDocument:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DeploymentError(f"{path}: cannot read: {exc.strerror}") from exc
    except ValueError as exc:
        raise DeploymentError(f"{path}: not valid JSON: {exc}") from exc
    return parse_document(data, str(path))


# configuration ---------------------------------------------------------------------------------

def _tokens(pointer: str) -> list[str]:
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def reset_pointers(config: dict[str, Any], pointers: list[str]) -> dict[str, Any]:
    """Remove what each pointer names, so the DefaultConfiguration value comes back."""
    config = copy.deepcopy(config)
    for pointer in pointers:
        if pointer in ("", "/"):
            config = {}
            continue
        *parents, last = _tokens(pointer)
        node: Any = config
        for token in parents:
            node = node.get(token) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(last, None)
    return config


def apply_defaults(config: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """Fill in what is missing; an existing value is never overwritten."""
    result = copy.deepcopy(config)
    for key, value in defaults.items():
        if key not in result:
            result[key] = copy.deepcopy(value)
        elif isinstance(result[key], dict) and isinstance(value, dict):
            result[key] = apply_defaults(result[key], value)
    return result


def deep_merge(config: dict[str, Any], merge: dict[str, Any]) -> dict[str, Any]:
    """Objects merge key by key; anything else (lists included) replaces."""
    result = copy.deepcopy(config)
    for key, value in merge.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def resolve_configuration(previous: dict[str, Any] | None, defaults: dict[str, Any],
                          merge: dict[str, Any], reset: list[str]) -> dict[str, Any]:
    """The nucleus's order: reset, then DefaultConfiguration, then the deployment's merge."""
    return deep_merge(apply_defaults(reset_pointers(previous or {}, reset), defaults), merge)


# planning --------------------------------------------------------------------------------------

@dataclass
class ResolvedComponent:
    name: str
    version: str
    configuration: dict[str, Any]
    recipe: Recipe | None = None  # None for the runtime's built-ins
    built: BuiltComponent | None = None
    manifest: Manifest | None = None

    @property
    def dependencies(self) -> dict[str, Any]:
        return self.recipe.dependencies if self.recipe else {}


@dataclass
class DeploymentPlan:
    components: dict[str, ResolvedComponent]  # in dependency order
    errors: dict[str, str]


def _check_dependencies(recipe: Recipe, document: DeploymentDocument) -> str | None:
    for dep, spec in recipe.dependencies.items():
        wanted = document.components.get(dep)
        if wanted is None:
            if dep in BUILTINS:
                continue
            return f"{recipe.name} depends on {dep}, which is not in the deployment document {document.source}"
        try:
            ok = satisfies(wanted.version, spec.requirement)
        except VersionError as exc:
            return f"{recipe.path}: {recipe.name}: dependency {dep}: {exc}"
        if not ok:
            return (f"{recipe.name} needs {dep} {spec.requirement}, but the document deploys {dep} "
                    f"{wanted.version}")
    return None


def _dependency_order(components: dict[str, ResolvedComponent], errors: dict[str, str]) -> list[str]:
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> bool:
        if state.get(name) == "done":
            return name not in errors
        if state.get(name) == "visiting":
            errors[name] = f"dependency cycle: {' -> '.join([*path, name])}"
            return False
        state[name] = "visiting"
        ok = True
        for dep in components[name].dependencies:
            if dep in components and not visit(dep, [*path, name]):
                ok = False
                errors.setdefault(name, f"{name} cannot start: its dependency {dep} cannot be deployed "
                                        f"({errors.get(dep, 'see its error')})")
        state[name] = "done"
        if ok and name not in errors:
            order.append(name)
        return ok and name not in errors

    for name in components:
        visit(name, [])
    return order


def plan_deployment(document: DeploymentDocument, catalog: Catalog,
                    previous: dict[str, dict[str, Any]], device: dict[str, str] | None = None) -> DeploymentPlan:
    errors: dict[str, str] = {}
    resolved: dict[str, ResolvedComponent] = {}
    for name, wanted in document.components.items():
        if wanted.error:
            errors[name] = wanted.error
            resolved[name] = ResolvedComponent(name, wanted.version, {})
            continue
        if name in BUILTINS:
            config = resolve_configuration(previous.get(name), {}, wanted.merge, wanted.reset)
            resolved[name] = ResolvedComponent(name, wanted.version, config)
            continue
        try:
            built, recipe = catalog.load(name, wanted.version)
            if recipe.version != wanted.version:
                raise RecipeError(f"version mismatch: {document.source} deploys {name} {wanted.version}, but the "
                                  f"built recipe {recipe.path} is {recipe.version} (rebuild or fix the document)")
            manifest = recipe.manifest_for(device)
            problem = _check_dependencies(recipe, document)
            if problem:
                raise RecipeError(problem)
        except RecipeError as exc:
            errors[name] = str(exc)
            resolved[name] = ResolvedComponent(name, wanted.version, {})
            continue
        config = resolve_configuration(previous.get(name), recipe.default_configuration, wanted.merge, wanted.reset)
        resolved[name] = ResolvedComponent(name, wanted.version, config, recipe, built, manifest)
    order = _dependency_order(resolved, errors)
    return DeploymentPlan({name: resolved[name] for name in order}, errors)
