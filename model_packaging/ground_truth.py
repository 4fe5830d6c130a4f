"""SageMaker Ground Truth object-detection labels: read and write its augmented manifest (output format).

One JSON line per image: ``source-ref`` (the image in S3), the label attribute
``{"annotations": [{"class_id", "left", "top", "width", "height"}], "image_size": [{"width", "height",
"depth"}]}`` in pixels, and ``<attribute>-metadata`` with ``objects`` (one ``confidence`` per annotation),
``class-map`` (class id as a string -> name), ``type: "groundtruth/object-detection"``, ``human-annotated``,
``creation-date`` and ``job-name``. Format: "Bounding Box Job Output" in
https://docs.aws.amazon.com/sagemaker/latest/dg/sms-data-output.html, the same lines Rekognition Custom
Labels imports (https://docs.aws.amazon.com/rekognition/latest/customlabels-dg/md-create-manifest-file-object-detection.html).

Reading is strict: a line that breaks the format, a box outside its image or a class id missing from the
class map is refused with the line number, never skipped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

OBJECT_DETECTION = "groundtruth/object-detection"
Box = tuple[float, float, float, float]  # x1, y1, x2, y2 normalized to the image
Pixels = Annotated[int, Field(ge=0, le=100_000)]


class GroundTruthError(ValueError):
    """The manifest does not follow Ground Truth's object-detection output format; says where."""


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class _Annotation(_Strict):
    class_id: Pixels
    left: Pixels
    top: Pixels
    width: Annotated[int, Field(ge=1, le=100_000)]
    height: Annotated[int, Field(ge=1, le=100_000)]


class _ImageSize(_Strict):
    width: Annotated[int, Field(ge=1, le=100_000)]
    height: Annotated[int, Field(ge=1, le=100_000)]
    depth: Annotated[int, Field(ge=1, le=4)]


class _Label(_Strict):
    annotations: list[_Annotation]
    image_size: Annotated[list[_ImageSize], Field(min_length=1, max_length=1)]


class _Confidence(_Strict):
    confidence: Annotated[float, Field(ge=0.0, le=1.0)]


class _Metadata(BaseModel):
    # Ground Truth may add keys of its own (e.g. adjustment-status on a verification job): allowed, unused.
    model_config = ConfigDict(strict=True, extra="allow", frozen=True, populate_by_name=True)

    objects: list[_Confidence]
    class_map: Annotated[dict[str, Annotated[str, Field(min_length=1, max_length=256)]], Field(alias="class-map")]
    type: Literal["groundtruth/object-detection"]
    human_annotated: Literal["yes", "no"] = Field(alias="human-annotated")
    creation_date: str = Field(alias="creation-date")
    job_name: str = Field(alias="job-name")


@dataclass(frozen=True)
class LabeledImage:
    source_ref: str
    width: int
    height: int
    boxes: tuple[tuple[str, Box], ...]  # (class name, box)

    def truth(self, label: str) -> list[Box]:
        return [box for name, box in self.boxes if name == label]


def read_manifest(path: Path, attribute: str | None = None) -> list[LabeledImage]:
    """Every labeled image of the manifest. ``attribute``: the label attribute; by default the one attribute
    whose metadata says ``groundtruth/object-detection``."""
    images: list[LabeledImage] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            image = _parse_line(json.loads(line), attribute)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise GroundTruthError(f"{path}:{number}: {problems}") from None
        except ValueError as exc:  # json.JSONDecodeError is one
            raise GroundTruthError(f"{path}:{number}: {exc}") from None
        if image.source_ref in seen:
            raise GroundTruthError(f"{path}:{number}: {image.source_ref} is labeled twice")
        seen.add(image.source_ref)
        images.append(image)
    if not images:
        raise GroundTruthError(f"{path}: no labeled image")
    return images


def _parse_line(line: object, attribute: str | None) -> LabeledImage:
    if not isinstance(line, dict):
        raise ValueError("a line must be a JSON object")
    source_ref = line.get("source-ref")
    if not isinstance(source_ref, str) or not source_ref.startswith("s3://"):
        raise ValueError("source-ref must be an s3:// URI")
    if attribute is None:
        found = [key.removesuffix("-metadata") for key, value in line.items()
                 if key.endswith("-metadata") and isinstance(value, dict) and value.get("type") == OBJECT_DETECTION]
        if len(found) != 1:
            raise ValueError(f"expected one object-detection label attribute, found {found or 'none'}")
        attribute = found[0]
    if attribute not in line or f"{attribute}-metadata" not in line:
        raise ValueError(f"no label attribute {attribute!r} with its {attribute}-metadata")
    label = _Label.model_validate(line[attribute])
    metadata = _Metadata.model_validate(line[f"{attribute}-metadata"])
    size = label.image_size[0]
    if len(metadata.objects) != len(label.annotations):
        raise ValueError(f"{len(label.annotations)} annotations but {len(metadata.objects)} objects in the metadata")
    boxes = []
    for annotation in label.annotations:
        name = metadata.class_map.get(str(annotation.class_id))
        if name is None:
            raise ValueError(f"class_id {annotation.class_id} is not in the class-map")
        right, bottom = annotation.left + annotation.width, annotation.top + annotation.height
        if right > size.width or bottom > size.height:
            raise ValueError(f"box {annotation.model_dump()} leaves the {size.width}x{size.height} image")
        boxes.append((name, (annotation.left / size.width, annotation.top / size.height,
                             right / size.width, bottom / size.height)))
    return LabeledImage(source_ref, size.width, size.height, tuple(boxes))


def manifest_line(image: LabeledImage, attribute: str, class_map: dict[int, str], *, job_name: str,
                  creation_date: str, depth: int = 3) -> str:
    """``image`` as one line of a Ground Truth output manifest (boxes rounded to whole pixels)."""
    ids = {name: class_id for class_id, name in class_map.items()}
    annotations = []
    for name, (x1, y1, x2, y2) in image.boxes:
        left, top = round(x1 * image.width), round(y1 * image.height)
        annotations.append({"class_id": ids[name], "left": left, "top": top,
                            "width": round(x2 * image.width) - left, "height": round(y2 * image.height) - top})
    return json.dumps({
        "source-ref": image.source_ref,
        attribute: {"annotations": annotations,
                    "image_size": [{"width": image.width, "height": image.height, "depth": depth}]},
        f"{attribute}-metadata": {
            "objects": [{"confidence": 1.0} for _ in annotations],
            "class-map": {str(class_id): name for class_id, name in sorted(class_map.items())},
            "type": OBJECT_DETECTION,
            "human-annotated": "yes",
            "creation-date": creation_date,
            "job-name": job_name,
        },
    }, separators=(", ", ": "))


def class_names(images: Sequence[LabeledImage]) -> list[str]:
    return sorted({name for image in images for name, _ in image.boxes})
