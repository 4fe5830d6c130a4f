"""Makes a compiled model folder the next version of the smartcam.SsdModelStore component.

What `scripts/publish.py` publishes is components/SsdModelStore/ as `gdk component build` zips it: its
model/ folder and the version in its gdk-config.json. So the next version is:
  1. the new folder checked (every sha256 in its model.json, the ModelManifest contract),
  2. its model.json rewritten with the new version (and the training provenance under ``source``),
  3. model/ replaced by it (staged next to it, then swapped, so a failure leaves the old one whole),
  4. gdk-config.json's component version set to the same version.
A published version is immutable (the publisher refuses to overwrite one), hence a new version every time.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from model_packaging.model_json import load_model_json, verify_model_folder, write_model_json

REPO = Path(__file__).resolve().parent.parent
STORE = REPO / "components" / "SsdModelStore"
COMPONENT = "smartcam.SsdModelStore"
_SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")


class PackagingError(ValueError):
    """The model folder or the component cannot make a new version."""


def parse_version(text: str) -> tuple[int, int, int]:
    match = _SEMVER.fullmatch(text)
    if match is None:
        raise PackagingError(f"not a MAJOR.MINOR.PATCH version: {text!r}")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def current_version(store: Path = STORE) -> str:
    """The component version gdk-config.json declares (what the last packaging set)."""
    config = json.loads((store / "gdk-config.json").read_text(encoding="utf-8"))
    return str(config["component"][COMPONENT]["version"])


def next_version(current: str, requested: str | None = None) -> str:
    """``requested`` if it is later than ``current``; else the next minor version (a new model)."""
    major, minor, _ = parse_version(current)
    if requested is None:
        return f"{major}.{minor + 1}.0"
    if parse_version(requested) <= parse_version(current):
        raise PackagingError(f"version {requested} is not later than the current {current}")
    return requested


def package_next_version(model: Path, *, store: Path = STORE, version: str | None = None,
                         provenance: dict[str, Any] | None = None) -> dict[str, Any]:
    """Installs ``model`` as ``store``/model at the next version; returns the new model.json."""
    verify_model_folder(model)  # raises on any altered, missing or unlisted file
    new_version = next_version(current_version(store), version)
    staging = store / ".model-next"
    previous = store / ".model-previous"
    for leftover in (staging, previous):
        shutil.rmtree(leftover, ignore_errors=True)
    shutil.copytree(model, staging)
    try:
        metadata = load_model_json(staging)
        metadata["version"] = new_version
        if provenance:
            metadata["source"] = {**(metadata.get("source") or {}), **provenance}
        document = write_model_json(staging, metadata)
        verify_model_folder(staging)
    except Exception:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    target = store / "model"
    if target.exists():
        target.rename(previous)
    staging.rename(target)
    shutil.rmtree(previous, ignore_errors=True)
    _set_component_version(store, new_version)
    return document


def _set_component_version(store: Path, version: str) -> None:
    path = store / "gdk-config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["component"][COMPONENT]["version"] = version
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
