"""Reads a SageMaker Ground Truth bounding-box OUTPUT manifest, strictly, and splits it for training.

One JSON object per line (Ground Truth "Bounding Box Job Output"):

    {"source-ref": "s3://bucket/captures/cam-1/cam0/2026-12-06/f1.jpg",
     "<label attribute>": {"image_size": [{"width": 768, "height": 576, "depth": 3}],
                           "annotations": [{"class_id": 0, "left": 10, "top": 20, "width": 50, "height": 120}]},
     "<label attribute>-metadata": {"objects": [{"confidence": 0.9}], "class-map": {"0": "person"},
                                    "type": "groundtruth/object-detection", "human-annotated": "yes",
                                    "creation-date": "2026-12-06T10:00:00.000000", "job-name": "labeling-job/x"}}

An object that workers could not label has only ``<label attribute>-metadata`` with a ``failure-reason``:
it is dropped (and counted). Anything else that does not parse stops the command with its line number,
because SageMaker's Object Detection algorithm would fail on it only after the instance is paid for.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from model_packaging.aws_inputs import InputError, S3Uri

OBJECT_DETECTION_TYPE = "groundtruth/object-detection"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
PositiveInt = Annotated[int, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class ImageSize(_Strict):
    width: PositiveInt
    height: PositiveInt
    depth: Literal[3]  # the Object Detection algorithm takes 3-channel images only


class Box(_Strict):
    class_id: Annotated[int, Field(ge=0)]
    left: NonNegative
    top: NonNegative
    width: Annotated[float, Field(gt=0)]
    height: Annotated[float, Field(gt=0)]


class BoundingBoxLabel(_Strict):
    image_size: Annotated[list[ImageSize], Field(min_length=1, max_length=1)]
    annotations: list[Box]

    @model_validator(mode="after")
    def boxes_inside_the_image(self) -> BoundingBoxLabel:
        size = self.image_size[0]
        for index, box in enumerate(self.annotations):
            if box.left + box.width > size.width + 1 or box.top + box.height > size.height + 1:
                raise ValueError(f"annotation {index} reaches outside the {size.width}x{size.height} image")
        return self


class ObjectConfidence(_Strict):
    confidence: Annotated[float, Field(ge=0, le=1)]


class LabelMetadata(_Strict):
    # Ground Truth adds keys over time (e.g. "adjustment-status" for adjustment jobs): known ones are
    # typed, the rest is allowed but not used.
    model_config = ConfigDict(strict=True, extra="allow", frozen=True, populate_by_name=True)

    objects: list[ObjectConfidence]
    class_map: Annotated[dict[str, str], Field(alias="class-map", min_length=1)]
    type: Literal["groundtruth/object-detection"]
    human_annotated: Literal["yes", "no"] = Field(alias="human-annotated")
    creation_date: str = Field(alias="creation-date")
    job_name: str = Field(alias="job-name")


@dataclass(frozen=True)
class LabeledImage:
    line: int
    source_ref: str
    label: BoundingBoxLabel
    class_map: dict[int, str]
    text: str  # the line as read, written unchanged into the split manifests


@dataclass
class Manifest:
    label_attribute: str
    images: list[LabeledImage]
    dropped: list[tuple[int, str]] = field(default_factory=list)  # (line, failure reason)

    @property
    def classes(self) -> list[str]:
        """Class names by id (0..N-1); every id in use must be named, and named the same everywhere."""
        names: dict[int, str] = {}
        for image in self.images:
            for class_id, name in image.class_map.items():
                if names.setdefault(class_id, name) != name:
                    raise InputError(f"line {image.line}: class {class_id} is {name!r} here, "
                                     f"{names[class_id]!r} on an earlier line")
        used = {box.class_id for image in self.images for box in image.label.annotations}
        unnamed = sorted(used - set(names))
        if unnamed:
            raise InputError(f"class ids {unnamed} are used but not in any class-map")
        count = max([*names, *used]) + 1 if names else 0
        gaps = [class_id for class_id in range(count) if class_id not in names]
        if gaps:
            raise InputError(f"class ids must run 0..{count - 1} without gaps (the algorithm's num_classes); "
                             f"missing {gaps}")
        return [names[class_id] for class_id in range(count)]

    @property
    def max_objects(self) -> int:
        return max((len(image.label.annotations) for image in self.images), default=0)


def parse_manifest(text: str, label_attribute: str) -> Manifest:
    """Every line of a Ground Truth object-detection output manifest, checked; raises InputError."""
    if not label_attribute or label_attribute.endswith("-metadata") or label_attribute == "source-ref":
        raise InputError(f"not a label attribute name: {label_attribute!r}")
    manifest = Manifest(label_attribute, [])
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        image = _parse_line(line, number, label_attribute, manifest)
        if image is None:
            continue
        if image.source_ref in seen:
            raise InputError(f"line {number}: {image.source_ref} is already on line {seen[image.source_ref]}")
        seen[image.source_ref] = number
        manifest.images.append(image)
    if not manifest.images:
        raise InputError(f"the manifest has no labeled image under {label_attribute!r}")
    return manifest


def _parse_line(line: str, number: int, attribute: str, manifest: Manifest) -> LabeledImage | None:
    try:
        document = json.loads(line)
    except json.JSONDecodeError as error:
        raise InputError(f"line {number}: not JSON ({error.msg})") from None
    if not isinstance(document, dict):
        raise InputError(f"line {number}: not a JSON object")
    source_ref = document.get("source-ref")
    try:
        S3Uri.parse(source_ref)
    except InputError as error:
        raise InputError(f"line {number}: source-ref: {error}") from None
    if not source_ref.lower().endswith(IMAGE_SUFFIXES):
        raise InputError(f"line {number}: source-ref {source_ref} is not a .jpg/.jpeg/.png image")
    metadata = document.get(f"{attribute}-metadata")
    if attribute not in document:
        if isinstance(metadata, dict) and "failure-reason" in metadata:
            manifest.dropped.append((number, str(metadata["failure-reason"])))
            return None
        raise InputError(f"line {number}: no {attribute!r} label (is the label attribute name right?)")
    try:
        label = BoundingBoxLabel.model_validate(document[attribute])
        meta = LabelMetadata.model_validate(metadata)
    except ValidationError as error:
        raise InputError(f"line {number}: not a Ground Truth bounding-box output: {_first_error(error)}") from None
    if len(meta.objects) != len(label.annotations):
        raise InputError(f"line {number}: {len(label.annotations)} annotations but {len(meta.objects)} "
                         "confidences in the metadata")
    class_map = {int(key): name for key, name in meta.class_map.items() if _is_class_id(key)}
    if len(class_map) != len(meta.class_map):
        raise InputError(f"line {number}: class-map keys must be class ids (\"0\", \"1\", ...)")
    unknown = sorted({box.class_id for box in label.annotations} - set(class_map))
    if unknown:
        raise InputError(f"line {number}: class ids {unknown} are not in the line's class-map")
    return LabeledImage(number, source_ref, label, class_map, line)


def _is_class_id(key: str) -> bool:
    return key.isdigit() and (key == "0" or not key.startswith("0"))


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(line)"
    return f"{where}: {first['msg']}"


def split(manifest: Manifest, validation_percent: int) -> tuple[list[LabeledImage], list[LabeledImage]]:
    """Train and validation sets, chosen by a hash of each image's S3 URI: the same image always falls on
    the same side, whatever the order of the lines or the other images."""
    if not 1 <= validation_percent <= 50:
        raise InputError(f"the validation share must be 1-50 %, not {validation_percent}")
    train: list[LabeledImage] = []
    validation: list[LabeledImage] = []
    for image in manifest.images:
        bucket = int.from_bytes(hashlib.sha256(image.source_ref.encode()).digest()[:4], "big") % 100
        (validation if bucket < validation_percent else train).append(image)
    if not train or not validation:
        raise InputError(f"{len(manifest.images)} labeled images give an empty train or validation set at "
                         f"{validation_percent} %: label more images")
    return train, validation


def manifest_text(images: list[LabeledImage]) -> str:
    return "".join(f"{image.text.strip()}\n" for image in images)


def summary(manifest: Manifest) -> dict[str, Any]:
    return {
        "images": len(manifest.images),
        "objects": sum(len(image.label.annotations) for image in manifest.images),
        "dropped_unlabeled": [line for line, _ in manifest.dropped],
        "classes": manifest.classes,
        "max_objects_per_image": manifest.max_objects,
    }
