"""The model folder delivered by smartcam.SsdModelStore: model.json, checked before use.

Every file the model needs must be listed in ``files`` with its sha256 and size, and every listed file
must be present and unaltered; anything else is a :class:`ModelError` naming the file. The checks run
cheapest first, so a bad bundle costs no more than it must: the manifest contract (sizes bounded per
file and per bundle), then every listed file as a regular file inside the folder (no symlink, no ``..``)
whose lstat size is the recorded one, and only then the sha256 of each. Nothing is loaded into a
runtime here.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from smartcam.contracts import (
    MANIFEST_FILE,
    MODEL_SCHEMA,
    ContractError,
    DecoderSpec,
    InputSpec,
    ModelManifest,
    RuntimeSpec,
    parse,
    sha256_file,
)

MANIFEST = MANIFEST_FILE


class ModelError(RuntimeError):
    """The model folder cannot be used; ``str()`` says which file or key and why."""


@dataclass(frozen=True)
class ModelBundle:
    directory: Path
    manifest: ModelManifest
    labels: tuple[str, ...]
    anchors: np.ndarray | None

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def input(self) -> InputSpec:
        return self.manifest.input

    @property
    def decoder(self) -> DecoderSpec:
        return self.manifest.decoder

    def runtime(self, backend: str) -> RuntimeSpec:
        try:
            return self.manifest.runtimes[backend]
        except KeyError:
            raise ModelError(
                f"model {self.name} {self.version} has no {backend} runtime (has: {', '.join(self.manifest.runtimes)})"
            ) from None

    def path(self, relative: str) -> Path:
        return self.directory / relative


def load_model_bundle(directory: str | os.PathLike[str]) -> ModelBundle:
    """Read and verify the model folder; raise ModelError naming the first problem found."""
    folder = Path(directory)
    manifest_path = folder / MANIFEST
    if not folder.is_dir():
        raise ModelError(f"model folder {folder} does not exist")
    try:
        raw = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"model folder {folder} has no {MANIFEST}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{manifest_path} is unreadable: {exc}") from None
    if not isinstance(raw, dict):
        raise ModelError(f"{manifest_path} must hold a JSON object")
    if raw.get("schema") != MODEL_SCHEMA:
        raise ModelError(f"{manifest_path}: schema {raw.get('schema')!r} is not {MODEL_SCHEMA!r}")
    try:
        manifest = parse(ModelManifest, raw)
    except ContractError as exc:
        raise ModelError(f"{manifest_path} is invalid: {exc}") from None

    _verify_files(folder, manifest)
    labels = _read_labels(folder / manifest.labels_file)
    anchors_file = manifest.decoder.anchors_file
    anchors = _read_anchors(folder / anchors_file) if anchors_file else None
    return ModelBundle(directory=folder, manifest=manifest, labels=labels, anchors=anchors)


def _verify_files(folder: Path, manifest: ModelManifest) -> None:
    # Every size before any hash: a truncated, padded or swapped file is refused without reading it.
    paths = {relative: _regular_file(folder, relative, entry.size) for relative, entry in manifest.files.items()}
    for name, runtime in manifest.runtimes.items():
        if not manifest.covers(runtime.path):
            raise ModelError(f"{MANIFEST}: {name} runtime path {runtime.path} is not covered by 'files'")
    for relative in manifest.needed_files():
        if relative not in manifest.files:
            raise ModelError(f"{MANIFEST}: {relative} is used but has no sha256 in 'files'")
    for relative, path in paths.items():
        expected = manifest.files[relative].sha256
        actual = sha256_file(path)
        if actual != expected:
            raise ModelError(f"model file {relative} is altered: sha256 {actual} != {expected} in {MANIFEST}")


def _regular_file(folder: Path, relative: str, expected_size: int) -> Path:
    """``folder``/``relative`` if it is a regular file, reached through no symlink, of ``expected_size``."""
    parts = PurePosixPath(relative).parts
    if not parts or PurePosixPath(relative).is_absolute() or ".." in parts:
        raise ModelError(f"model file {relative!r} is outside the model folder")
    path = folder
    for depth, part in enumerate(parts, start=1):
        path = path / part
        try:
            info = path.lstat()
        except FileNotFoundError:
            raise ModelError(f"model file {relative} is missing from {folder}") from None
        except OSError as exc:
            raise ModelError(f"model file {relative} is unreadable: {exc}") from None
        if stat.S_ISLNK(info.st_mode):
            raise ModelError(f"model file {relative} is reached through a symlink ({path.name}); refused")
        last = depth == len(parts)
        if last and not stat.S_ISREG(info.st_mode):
            raise ModelError(f"model file {relative} is not a regular file")
        if not last and not stat.S_ISDIR(info.st_mode):
            raise ModelError(f"model file {relative}: {path.name} is not a folder")
    if info.st_size != expected_size:
        raise ModelError(f"model file {relative} is {info.st_size} bytes, {MANIFEST} says {expected_size}: "
                         "truncated, padded or replaced")
    return path


def _read_labels(path: Path) -> tuple[str, ...]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"labels file {path.name} is unreadable: {exc}") from None
    labels = tuple(line.strip() for line in lines if line.strip())
    if not labels:
        raise ModelError(f"labels file {path.name} is empty")
    return labels


def _read_anchors(path: Path) -> np.ndarray:
    try:
        anchors = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ModelError(f"anchors file {path.name} is unreadable: {exc}") from None
    if anchors.ndim != 2 or anchors.shape[1] != 4 or not np.isfinite(anchors).all():
        raise ModelError(f"anchors file {path.name} must hold finite (N, 4) values, got shape {anchors.shape}")
    return anchors.astype(np.float32, copy=False)
