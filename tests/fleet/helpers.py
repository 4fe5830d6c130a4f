"""Helpers of the fleet tests: AWS without AWS (moto for STS/S3/IoT, Stubber for greengrassv2) and a
small repo of GDK projects with `gdk component build` output. Named uniquely so no other test folder's
helpers shadow it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from botocore.stub import Stubber

from fleet.aws import Aws
from repo_layout import COMPONENTS_DIR

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's account
# Every component project of the repo: a deployment document may name any of them.
COMPONENT_FOLDERS = tuple(sorted(p.name for p in COMPONENTS_DIR.iterdir() if (p / "gdk-config.json").is_file()))
MUTATING_PREFIXES = ("Create", "Put", "Delete", "Update", "Cancel", "Tag", "Untag", "Upload", "Copy", "Attach",
                     "Associate", "Batch", "CompleteMultipart")


class RecordingAws(Aws):
    """Aws whose greengrassv2 client is stubbed and whose every call (any service) is recorded."""

    calls: list[tuple[str, str, dict[str, Any]]]
    stub: Stubber

    def client(self, service: str) -> Any:
        new = service not in self._clients
        client = super().client(service)
        if new:
            client.meta.events.register("before-parameter-build", self._record)
            if service == "greengrassv2":
                self.stub = Stubber(client)
                self.stub.activate()
        return client

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.service_model.service_name, model.name, params))

    def mutating_calls(self) -> list[str]:
        return [f"{service}.{name}" for service, name, _ in self.calls if name.startswith(MUTATING_PREFIXES)]


def write_project(root: Path, folder: str, version: str = "NEXT_PATCH", dependencies: dict[str, str] | None = None,
                  artifact: bytes = b"zip-bytes", bucket: str = "smartcam-test") -> Path:
    """A GDK project plus what `gdk component build` writes (recipe + artifact zip)."""
    name = f"smartcam.{folder}"
    project = root / "components" / folder
    project.mkdir(parents=True, exist_ok=True)
    (project / "gdk-config.json").write_text(json.dumps({
        "component": {name: {"author": "tests", "version": version, "build": {"build_system": "zip"},
                             "publish": {"bucket": bucket, "region": REGION}}},
        "gdk_version": "1.6.2",
    }))
    recipe: dict[str, Any] = {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": name,
        "ComponentVersion": version,
        "ComponentPublisher": "tests",
    }
    if dependencies:
        recipe["ComponentDependencies"] = {dep: {"VersionRequirement": req} for dep, req in dependencies.items()}
    recipe["Manifests"] = [{
        "Platform": {"os": "linux"},
        "Artifacts": [{"URI": f"s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/{folder}.zip", "Unarchive": "ZIP"}],
        "Lifecycle": {"Run": f"python3 {{artifacts:decompressedPath}}/{folder}/main.py"},
    }]
    build = project / "greengrass-build"
    (build / "recipes").mkdir(parents=True, exist_ok=True)
    (build / "recipes" / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    artifacts = build / "artifacts" / name / version
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / f"{folder}.zip").write_bytes(artifact)
    return project
