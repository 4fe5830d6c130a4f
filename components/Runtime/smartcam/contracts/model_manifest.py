"""``model.json``: what a packaged model folder holds and how to read its outputs.

model_packaging writes it (``make model``, the SageMaker Neo path), smartcam.SsdModelStore ships it
and SsdInference reads it. Every file of the folder is listed in ``files`` with its sha256 and its size in
bytes, so a reader can refuse a truncated, padded or oversized file by its size before hashing it.
Schema 2 added the sizes (schema 1 listed only the sha256); a schema 1 folder is refused.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, field_validator, model_validator

from smartcam.contracts.base import Contract, Identifier

MANIFEST_FILE = "model.json"
MODEL_SCHEMA = "smartcam.model/2"
# Bounds on what a reader will hash and load. The packaged SSD bundle is 79 MB, its largest file 12 MB;
# SSD-class detectors (even VGG16/ResNet backbones, float32) stay under ~150 MB per file. 256 MiB per file
# and 1 GiB per bundle leave that headroom while bounding the disk, memory and hashing time a bad or
# hostile bundle from S3 can cost a small device.
MAX_MODEL_FILE_BYTES = 256 * 1024 * 1024
MAX_MODEL_BUNDLE_BYTES = 1024 * 1024 * 1024
# ``decoder.type`` values SsdInference can decode (its decoder registry has exactly these).
DecoderType = Literal["tf_od_api", "tflite_postprocess", "mxnet_ssd", "gluoncv"]
DECODER_TYPES: tuple[str, ...] = get_args(DecoderType)
Architecture = Literal["x86_64", "aarch64", "armv7l", "unknown"]
RelativePath = Annotated[str, Field(min_length=1, max_length=1024)]
Text = Annotated[str, Field(max_length=4096)]
_CHUNK = 1 << 20


class Normalization(Contract):
    mean: Annotated[list[float], Field(min_length=1, max_length=4)]
    std: Annotated[list[float], Field(min_length=1, max_length=4)]

    @field_validator("std")
    @classmethod
    def _nonzero(cls, value: list[float]) -> list[float]:
        if any(v == 0 for v in value):
            raise ValueError("std must not contain 0")
        return value


class InputSpec(Contract):
    name: str | None = None
    shape: Annotated[list[int], Field(min_length=4, max_length=4)]
    layout: Literal["NHWC", "NCHW"]
    dtype: Literal["float32", "uint8"]
    color: Literal["RGB", "BGR"] = "RGB"
    resize: Text | None = None  # how the model wants the frame resized, for people
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


class DecoderSpec(Contract):
    type: DecoderType
    # Decoder-specific (see SsdInference's decoders); descriptive keys for people may ride along.
    params: dict[str, Any] = Field(default_factory=dict)

    @property
    def anchors_file(self) -> str | None:
        value = self.params.get("anchors_file")
        return str(value) if value else None


class RuntimeSpec(Contract):
    path: RelativePath  # a file, or a folder (the DLR artifact)
    input_name: str | None = None
    # decoder input name -> output index (or output name) of this runtime
    outputs: dict[str, int | str] = Field(default_factory=dict)
    output_names: list[str] | None = None
    platforms: list[Architecture] | None = None
    target: Text | None = None
    compiler: Text | None = None
    layout: Text | None = None
    opset: Annotated[int, Field(gt=0)] | None = None


class NeoJob(Contract):
    """The SageMaker Neo compilation job that produced the ``dlr`` runtime."""

    compilation_job: Annotated[str, Field(min_length=1, max_length=63)]
    arn: Annotated[str, Field(min_length=1, max_length=256)]
    target_device: Annotated[str, Field(min_length=1, max_length=64)]
    framework: Annotated[str, Field(min_length=1, max_length=32)]


class ModelFile(Contract):
    """One file of the model folder: its content hash and its exact size in bytes."""

    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    size: Annotated[int, Field(ge=0, le=MAX_MODEL_FILE_BYTES)]


class ModelManifest(Contract):
    schema_: Literal["smartcam.model/2"] = Field(MODEL_SCHEMA, alias="schema")
    name: Identifier
    version: Annotated[str, Field(min_length=1, max_length=64)]
    framework: Annotated[str, Field(max_length=64)]
    notes: Text
    source: dict[str, Any] | None = None  # provenance, for people
    input: InputSpec
    decoder: DecoderSpec
    labels_file: RelativePath
    labels: list[str] | None = None
    runtimes: Annotated[dict[str, RuntimeSpec], Field(min_length=1)]
    runtime_preference: dict[Architecture, list[str]] | None = None
    neo: NeoJob | None = None
    files: Annotated[dict[RelativePath, ModelFile], Field(min_length=1)]

    @model_validator(mode="after")
    def _bundle_bounded(self) -> ModelManifest:
        if self.total_size() > MAX_MODEL_BUNDLE_BYTES:
            raise ValueError(f"files total {self.total_size()} bytes, over the {MAX_MODEL_BUNDLE_BYTES}-byte bound")
        return self

    def total_size(self) -> int:
        return sum(file.size for file in self.files.values())

    def needed_files(self) -> list[str]:
        """The files the model cannot work without besides its runtimes: labels and anchors."""
        return [self.labels_file, *([self.decoder.anchors_file] if self.decoder.anchors_file else [])]

    def covers(self, path: str) -> bool:
        """True if ``path`` is listed in ``files``, or is a folder holding at least one listed file."""
        prefix = path.rstrip("/") + "/"
        return path in self.files or any(name.startswith(prefix) for name in self.files)


def describe_file(path: Path) -> ModelFile:
    """The ``files`` entry for ``path`` (its sha256 and size), as a writer records it."""
    return ModelFile(sha256=sha256_file(path), size=path.stat().st_size)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
