"""Writes and verifies model.json, the contract between a packaged model folder and its readers.

Standard library only: the offline build, the SageMaker Neo path, the tests and (if it wants) the
inference component use the same code without TensorFlow or TVM.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

MODEL_JSON = "model.json"
REQUIRED_KEYS = (
    "schema", "name", "version", "framework", "notes", "input", "decoder", "labels_file", "runtimes", "files",
)
_CHUNK = 1 << 20


class ModelFolderError(ValueError):
    """The model folder does not match its model.json (missing, extra or altered files, bad metadata)."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def list_model_files(folder: Path) -> list[str]:
    """Every file in the folder except model.json itself, as sorted POSIX paths relative to it."""
    return sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and path.relative_to(folder).as_posix() != MODEL_JSON
    )


def write_model_json(folder: Path, metadata: dict) -> dict:
    """Adds the sha256 of every file in `folder` to `metadata` and writes folder/model.json."""
    missing = [key for key in REQUIRED_KEYS if key not in metadata and key != "files"]
    if missing:
        raise ModelFolderError(f"model.json metadata lacks {missing}")
    document = {key: value for key, value in metadata.items() if key != "files"}
    document["files"] = {name: sha256_of(folder / name) for name in list_model_files(folder)}
    referenced = _referenced_paths(document)
    absent = [path for path in referenced if not _exists(folder, path, document["files"])]
    if absent:
        raise ModelFolderError(f"model.json refers to {absent}, which are not in {folder}")
    (folder / MODEL_JSON).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return document


def load_model_json(folder: Path) -> dict:
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
    return document


def verify_model_folder(folder: Path) -> dict:
    """Loads model.json and checks every listed file's sha256; raises ModelFolderError on any mismatch."""
    folder = Path(folder)
    document = load_model_json(folder)
    files = document["files"]
    problems: list[str] = []
    for name, expected in sorted(files.items()):
        path = folder / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif sha256_of(path) != expected:
            problems.append(f"{name}: sha256 differs from model.json (altered or corrupt)")
    unlisted = sorted(set(list_model_files(folder)) - set(files))
    problems.extend(f"{name}: not listed in model.json" for name in unlisted)
    if problems:
        raise ModelFolderError(f"model folder {folder} failed verification: " + "; ".join(problems))
    return document


def _referenced_paths(document: dict) -> list[str]:
    paths = [document["labels_file"]]
    anchors = document["decoder"].get("params", {}).get("anchors_file")
    if anchors:
        paths.append(anchors)
    paths.extend(runtime["path"] for runtime in document["runtimes"].values())
    return paths


def _exists(folder: Path, path: str, files: dict) -> bool:
    # A runtime path may be a folder (the DLR artifact): it exists if some listed file lies inside it.
    return path in files or ((folder / path).is_dir() and any(name.startswith(f"{path}/") for name in files))
