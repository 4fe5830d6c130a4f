"""Truth boxes for evaluation from a SageMaker Ground Truth object-detection output manifest, and the line
format written for the shipped evaluation set.

Reading goes through ``ground_truth_manifest`` (the strict reader the training command uses), so a manifest
trains and evaluates under the same rules; here the label attribute is found by itself (the one attribute whose
metadata says ``groundtruth/object-detection``) and each box becomes a class name and a box normalized to its
image. Format: "Bounding Box Job Output" in https://docs.aws.amazon.com/sagemaker/latest/dg/sms-data-output.html.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from model_packaging.aws_inputs import InputError
from model_packaging.ground_truth_manifest import OBJECT_DETECTION_TYPE, parse_manifest

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 normalized to the image


class GroundTruthError(ValueError):
    """The manifest does not follow Ground Truth's object-detection output format; says where."""


@dataclass(frozen=True)
class TruthImage:
    source_ref: str
    width: int
    height: int
    boxes: tuple[tuple[str, Box], ...]  # (class name, box)

    def truth(self, label: str) -> list[Box]:
        return [box for name, box in self.boxes if name == label]


def read_manifest(path: Path, attribute: str | None = None) -> list[TruthImage]:
    """Every labeled image of the manifest (lines Ground Truth marks as failed are left out)."""
    text = path.read_text(encoding="utf-8")
    try:
        manifest = parse_manifest(text, attribute or label_attribute(text))
    except InputError as exc:
        raise GroundTruthError(f"{path}: {exc}") from None
    images = []
    for image in manifest.images:
        size = image.label.image_size[0]
        boxes = tuple((image.class_map[a.class_id],
                       (a.left / size.width, a.top / size.height,
                        min(1.0, (a.left + a.width) / size.width), min(1.0, (a.top + a.height) / size.height)))
                      for a in image.label.annotations)
        images.append(TruthImage(image.source_ref, size.width, size.height, boxes))
    return images


def label_attribute(text: str) -> str:
    """The label attribute of the manifest's object-detection labels; InputError unless exactly one."""
    found: set[str] = set()
    for line in text.splitlines():
        try:
            document = json.loads(line) if line.strip() else {}
        except json.JSONDecodeError:
            continue  # parse_manifest reports it with its line number
        if isinstance(document, dict):
            found |= {key.removesuffix("-metadata") for key, value in document.items()
                      if key.endswith("-metadata") and isinstance(value, dict)
                      and value.get("type") == OBJECT_DETECTION_TYPE}
    if len(found) != 1:
        raise InputError(f"expected one object-detection label attribute, found {sorted(found) or 'none'}")
    return found.pop()


def manifest_line(image: TruthImage, attribute: str, class_map: dict[int, str], *, job_name: str,
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
            "type": OBJECT_DETECTION_TYPE,
            "human-annotated": "yes",
            "creation-date": creation_date,
            "job-name": job_name,
        },
    }, separators=(", ", ": "))
