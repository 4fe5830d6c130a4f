"""The model folder delivered by smartcam.SsdModelStore: model.json, checked before use.

Every file the model needs must be listed in ``files`` with its sha256, and every listed file must
be present and unaltered; anything else is a :class:`ModelError` naming the file. Nothing is
loaded into a runtime here.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

MODEL_SCHEMA = "smartcam.model/1"
MANIFEST = "model.json"
_CHUNK = 1024 * 1024


class ModelError(RuntimeError):
    """The model folder cannot be used; ``str()`` says which file or key and why."""


class _Spec(BaseModel):
    # The packaging side may add keys; only the ones used here are checked.
    model_config = ConfigDict(extra="allow", frozen=True)


class Normalization(_Spec):
    mean: Annotated[list[float], Field(min_length=1, max_length=4)]
    std: Annotated[list[float], Field(min_length=1, max_length=4)]

    @field_validator("std")
    @classmethod
    def _nonzero(cls, value: list[float]) -> list[float]:
        if any(v == 0 for v in value):
            raise ValueError("std must not contain 0")
        return value


class InputSpec(_Spec):
    name: str | None = None
    shape: Annotated[list[int], Field(min_length=4, max_length=4)]
    layout: Literal["NHWC", "NCHW"]
    dtype: Literal["float32", "uint8"]
    color: Literal["RGB", "BGR"] = "RGB"
    normalization: Normalization | None = None

    @field_validator("shape")
    @classmethod
    def _positive(cls, value: list[int]) -> list[int]:
        if any(v <= 0 for v in value) or value[0] != 1:
            raise ValueError("must be [1, ...] with positive sizes")
        return value

    @property
    def height(self) -> int:
        return self.shape[1] if self.layout == "NHWC" else self.shape[2]

    @property
    def width(self) -> int:
        return self.shape[2] if self.layout == "NHWC" else self.shape[3]

    @property
    def channels(self) -> int:
        return self.shape[3] if self.layout == "NHWC" else self.shape[1]


class DecoderSpec(_Spec):
    type: Annotated[str, Field(min_length=1)]
    params: dict[str, Any] = Field(default_factory=dict)


class RuntimeSpec(_Spec):
    path: Annotated[str, Field(min_length=1)]
    input_name: str | None = None
    # decoder input name -> output index (or output name) of this runtime
    outputs: dict[str, int | str] = Field(default_factory=dict)


class Manifest(_Spec):
    schema_: Literal["smartcam.model/1"] = Field(alias="schema")
    name: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
    version: Annotated[str, Field(min_length=1, max_length=64)]
    framework: str = ""
    input: InputSpec
    decoder: DecoderSpec
    labels_file: Annotated[str, Field(min_length=1)]
    runtimes: Annotated[dict[str, RuntimeSpec], Field(min_length=1)]
    files: Annotated[dict[str, Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]], Field(min_length=1)]


@dataclass(frozen=True)
class ModelBundle:
    directory: Path
    manifest: Manifest
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
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        raise ModelError(f"{manifest_path} is invalid: {problems}") from None

    _verify_files(folder, manifest)
    labels = _read_labels(folder / manifest.labels_file)
    anchors_file = manifest.decoder.params.get("anchors_file")
    anchors = _read_anchors(folder / anchors_file) if anchors_file else None
    return ModelBundle(directory=folder, manifest=manifest, labels=labels, anchors=anchors)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _verify_files(folder: Path, manifest: Manifest) -> None:
    root = folder.resolve()
    for relative, expected in manifest.files.items():
        path = (folder / relative).resolve()
        if Path(relative).is_absolute() or not path.is_relative_to(root):
            raise ModelError(f"model file {relative!r} is outside the model folder")
        if not path.is_file():
            raise ModelError(f"model file {relative} is missing from {folder}")
        actual = sha256_file(path)
        if actual != expected:
            raise ModelError(f"model file {relative} is altered: sha256 {actual} != {expected} in {MANIFEST}")

    listed = set(manifest.files)
    needed = [manifest.labels_file]
    if anchors := manifest.decoder.params.get("anchors_file"):
        needed.append(str(anchors))
    for name, runtime in manifest.runtimes.items():
        prefix = runtime.path.rstrip("/") + "/"
        if runtime.path not in listed and not any(f.startswith(prefix) for f in listed):
            raise ModelError(f"{MANIFEST}: {name} runtime path {runtime.path} is not covered by 'files'")
    for relative in needed:
        if relative not in listed:
            raise ModelError(f"{MANIFEST}: {relative} is used but has no sha256 in 'files'")


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
