"""Writes and verifies model.json, the file a packaged model folder is read by.

The format is :class:`smartcam.contracts.ModelManifest`, the model SsdInference reads it with: what
is written here is validated by that model first, so nothing the component would refuse is packaged.
The offline build (``make model``, in model_packaging/.venv-build), the SageMaker Neo path and the
tests all write through :func:`write_model_json`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from smartcam.contracts import MANIFEST_FILE, ContractError, ModelManifest, describe_file, parse, sha256_file

MODEL_JSON = MANIFEST_FILE
# What the packaging side always states (the manifest's own required fields, plus the labels for people).
REQUIRED_KEYS = (
    "schema", "name", "version", "framework", "notes", "input", "decoder", "labels_file", "runtimes", "files",
)


class ModelFolderError(ValueError):
    """The model folder does not match its model.json (missing, extra or altered files, bad metadata)."""


def list_model_files(folder: Path) -> list[str]:
    """Every file in the folder except model.json itself, as sorted POSIX paths relative to it."""
    return sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and path.relative_to(folder).as_posix() != MODEL_JSON
    )


def write_model_json(folder: Path, metadata: dict[str, Any]) -> dict[str, Any]:
    """Adds the sha256 and size of every file in `folder` to `metadata` and writes folder/model.json."""
    missing = [key for key in REQUIRED_KEYS if key not in metadata and key != "files"]
    if missing:
        raise ModelFolderError(f"model.json metadata lacks {missing}")
    files = {name: describe_file(folder / name).to_message() for name in list_model_files(folder)}
    manifest = _validated({**{k: v for k, v in metadata.items() if k != "files"}, "files": files}, "metadata")
    referenced = [*manifest.needed_files(), *(runtime.path for runtime in manifest.runtimes.values())]
    absent = [path for path in referenced if not manifest.covers(path)]
    if absent:
        raise ModelFolderError(f"model.json refers to {absent}, which are not in {folder}")
    document = manifest.to_message()
    (folder / MODEL_JSON).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return document


def load_manifest(folder: Path) -> ModelManifest:
    path = Path(folder) / MODEL_JSON
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelFolderError(f"{path} is missing") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFolderError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ModelFolderError(f"{path} must hold a JSON object")
    missing = [key for key in REQUIRED_KEYS if key not in document]
    if missing:
        raise ModelFolderError(f"{path} lacks the keys {missing}")
    return _validated(document, str(path))


def load_model_json(folder: Path) -> dict[str, Any]:
    """model.json as its JSON object, after the contract accepted it."""
    return load_manifest(folder).to_message()


def verify_model_folder(folder: Path) -> dict[str, Any]:
    """Loads model.json and checks every listed file's size and sha256; raises ModelFolderError on any mismatch."""
    folder = Path(folder)
    manifest = load_manifest(folder)
    problems: list[str] = []
    for name, expected in sorted(manifest.files.items()):
        path = folder / name
        if path.is_symlink():
            problems.append(f"{name}: a symlink (SsdInference refuses them)")
        elif not path.is_file():
            problems.append(f"{name}: missing")
        elif (size := path.stat().st_size) != expected.size:
            problems.append(f"{name}: {size} bytes, model.json says {expected.size}")
    unlisted = sorted(set(list_model_files(folder)) - set(manifest.files))
    problems.extend(f"{name}: not listed in model.json" for name in unlisted)
    if not problems:  # hashing only once every file is present at its recorded size
        problems.extend(f"{name}: sha256 differs from model.json (altered or corrupt)"
                        for name, expected in sorted(manifest.files.items())
                        if sha256_file(folder / name) != expected.sha256)
    if problems:
        raise ModelFolderError(f"model folder {folder} failed verification: " + "; ".join(problems))
    return manifest.to_message()


def _validated(document: dict[str, Any], where: str) -> ModelManifest:
    try:
        return parse(ModelManifest, document)
    except ContractError as exc:
        raise ModelFolderError(f"{where}: {exc}") from None
