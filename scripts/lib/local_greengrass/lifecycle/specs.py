"""From a deployment plan to what the launcher runs: interpolated lifecycle, artifacts, configuration.

The fingerprint covers everything that needs a restart when it changes (version, recipe, the
interpolated lifecycle, the built artifacts); configuration alone does not, it is sent as events.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_greengrass.deployment.documents import NUCLEUS, TOKEN_EXCHANGE, DeploymentPlan, ResolvedComponent
from local_greengrass.deployment.recipes import Artifact, Dependency
from local_greengrass.lifecycle.interpolation import ComponentView, InterpolationError, Interpolator
from local_greengrass.lifecycle.steps import Lifecycle, LifecycleError, Step, parse_lifecycle
from local_greengrass.paths import RuntimePaths


@dataclass(frozen=True)
class ArtifactFile:
    artifact: Artifact
    source: Path


@dataclass
class LaunchSpec:
    name: str
    version: str
    configuration: dict[str, Any]
    dependencies: dict[str, Dependency] = field(default_factory=dict)
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    artifacts: list[ArtifactFile] = field(default_factory=list)
    fingerprint: str = ""
    builtin: bool = False

    @property
    def uses_token_exchange(self) -> bool:
        return TOKEN_EXCHANGE in self.dependencies


def _artifact_files(component: ResolvedComponent) -> list[ArtifactFile]:
    assert component.built is not None and component.manifest is not None
    folder = component.built.artifact_dir(component.version)
    files = []
    for artifact in component.manifest.artifacts:
        source = folder / artifact.file_name
        if not source.is_file():
            raise InterpolationError(f"{component.name}: artifact {artifact.uri} was not built: {source} is missing "
                                     "(run `make build`)")
        files.append(ArtifactFile(artifact, source))
    return files


def _fingerprint(component: ResolvedComponent, lifecycle: Lifecycle, files: list[ArtifactFile]) -> str:
    stats = [(f.source.name, f.source.stat().st_size, f.source.stat().st_mtime_ns) for f in files]
    body = {
        "version": component.version,
        "recipe": component.recipe.digest if component.recipe else None,
        "setenv": lifecycle.setenv,
        "steps": {name: [s.script, s.timeout, s.setenv, s.skipif] for name, s in lifecycle.steps.items()},
        "artifacts": stats,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _interpolate_lifecycle(lifecycle: Lifecycle, name: str, deps: list[str], interpolator: Interpolator) -> Lifecycle:
    def text(value: str) -> str:
        return interpolator.text(value, name, deps)

    steps = {step_name: Step(script=text(step.script), timeout=step.timeout,
                             setenv={k: text(v) for k, v in step.setenv.items()},
                             skipif=text(step.skipif) if step.skipif else None)
             for step_name, step in lifecycle.steps.items()}
    return Lifecycle(setenv={k: text(v) for k, v in lifecycle.setenv.items()}, steps=steps)


def build_specs(plan: DeploymentPlan, paths: RuntimePaths,
                thing_name: str) -> tuple[dict[str, LaunchSpec], dict[str, str]]:
    """LaunchSpecs in dependency order, and errors (component -> message) for those that cannot launch."""
    errors = dict(plan.errors)
    views = {
        name: ComponentView(
            name=name,
            artifacts_path=str(paths.artifacts(name, c.version)),
            decompressed_path=str(paths.unarchived(name, c.version)),
            work_path=str(paths.work(name)),
            configuration=c.configuration,
        )
        for name, c in plan.components.items()
        if c.recipe is not None
    }
    interpolator = Interpolator(kernel_root=str(paths.root), thing_name=thing_name, components=views)
    nucleus = plan.components.get(NUCLEUS)
    interpolate_config = bool(nucleus and nucleus.configuration.get("interpolateComponentConfiguration") is True)
    specs: dict[str, LaunchSpec] = {}
    for name, component in plan.components.items():
        if any(dep in errors for dep in component.dependencies):
            bad = next(dep for dep in component.dependencies if dep in errors)
            errors[name] = f"{name} cannot start: its dependency {bad} cannot be deployed ({errors[bad]})"
            continue
        if component.recipe is None:
            specs[name] = LaunchSpec(name, component.version, component.configuration, builtin=True,
                                     fingerprint=component.version)
            continue
        deps = list(component.dependencies)
        try:
            assert component.manifest is not None
            lifecycle = _interpolate_lifecycle(parse_lifecycle(component.manifest.lifecycle), name, deps, interpolator)
            configuration = component.configuration
            if interpolate_config:
                configuration = interpolator.value(configuration, name, deps)
            files = _artifact_files(component)
        except (InterpolationError, LifecycleError) as exc:
            message = str(exc)
            errors[name] = message if message.startswith(name) else f"{component.recipe.path}: {name}: {message}"
            continue
        specs[name] = LaunchSpec(
            name=name, version=component.version, configuration=configuration,
            dependencies=dict(component.dependencies), lifecycle=lifecycle, artifacts=files,
            fingerprint=_fingerprint(component, lifecycle, files),
        )
    return specs, errors
