"""A data capture as S3 objects: its keys, the predictions file, and its SageMaker Ground Truth manifest line.

Each captured frame is three objects under ``<prefix>/<thing>/<camera>/<yyyy-mm-dd>/`` (the UTC day of
its capture), all named by its frame id, so a retry writes the same bytes to the same keys:

- ``<frame id>.jpg``: the frame, made JPEG at the camera's quality;
- ``<frame id>.predictions.json``: the model's predictions as they came
  (:class:`smartcam.contracts.CapturePredictions`: normalized boxes, results and weak candidates);
- ``<frame id>.manifest.jsonl``: the frame's line of a Ground Truth input manifest, one JSON object
  and a newline. S3 objects cannot be appended to, so each capture is a manifest part of its own; a
  labeling job's manifest is the parts under a prefix concatenated (README, "Data capture for labeling").

The manifest line, in the formats AWS documents:

- input manifest: one JSON object per line with ``"source-ref"``, the S3 URI of the image
  (https://docs.aws.amazon.com/sagemaker/latest/dg/sms-input-data-input-manifest.html; CreateLabelingJob's
  ``LabelingJobS3DataSource.ManifestS3Uri``: "must contain one of the following keys: source-ref or source");
- the model's predictions as pre-annotations, in the bounding-box job's output format
  (https://docs.aws.amazon.com/sagemaker/latest/dg/sms-data-output.html, "Bounding box job output"; the same
  line Rekognition Custom Labels imports:
  https://docs.aws.amazon.com/rekognition/latest/customlabels-dg/cd-manifest-files-object-detection.html):
  ``"<attribute>": {"image_size": [{"width", "height", "depth"}], "annotations": [{"class_id", "left",
  "top", "width", "height"}]}`` in whole pixels from the top left, and ``"<attribute>-metadata":
  {"objects": [{"confidence"}], "class-map": {"<class_id>": "<label>"}, "type":
  "groundtruth/object-detection", "human-annotated": "no", "creation-date", "job-name"}``. The attribute
  (``labelAttributeName``) may not contain ``-metadata`` nor end with ``-ref`` (sms-data-output).

Only the model's results (``detections``, from SsdInference's scoreThreshold up) are pre-annotated: a
labeler corrects them. The weak candidates are in the predictions file only; pre-annotated, each false
one would be a box to delete.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from smartcam.contracts import Box, CapturePredictions, DataCapture

OBJECT_DETECTION = "groundtruth/object-detection"
IMAGE_DEPTH = 3  # the camera's JPEGs are colour
JPEG_TYPE, JSON_TYPE, MANIFEST_TYPE = "image/jpeg", "application/json", "application/jsonl"


@dataclass(frozen=True)
class CaptureKeys:
    image: str
    predictions: str
    manifest: str


def capture_keys(prefix: str, device: str, camera_id: str, captured_at: float, frame_id: str) -> CaptureKeys:
    day = time.strftime("%Y-%m-%d", time.gmtime(captured_at))
    folder = f"{prefix}/{device}/{camera_id}/{day}/{frame_id}"
    return CaptureKeys(f"{folder}.jpg", f"{folder}.predictions.json", f"{folder}.manifest.jsonl")


def to_pixels(box: Box, width: int, height: int) -> dict[str, int]:
    """A normalized box as Ground Truth's ``left``, ``top``, ``width``, ``height`` in whole pixels:
    corners rounded to the nearest pixel edge, at least one pixel wide and high, inside the image."""
    left = min(round(box.x1 * width), width - 1)
    top = min(round(box.y1 * height), height - 1)
    right = min(max(round(box.x2 * width), left + 1), width)
    bottom = min(max(round(box.y2 * height), top + 1), height)
    return {"left": left, "top": top, "width": right - left, "height": bottom - top}


def creation_date(at: float) -> str:
    """Ground Truth's form: UTC, microseconds, no zone (``2018-10-18T22:18:13.527256``)."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def pre_annotation(capture: DataCapture, attribute: str) -> dict[str, Any]:
    """``{attribute: ..., attribute-metadata: ...}``: the capture's results as a bounding-box job's output."""
    results = capture.detections
    return {
        attribute: {
            "image_size": [{"width": capture.width, "height": capture.height, "depth": IMAGE_DEPTH}],
            "annotations": [{"class_id": d.class_id, **to_pixels(d.box, capture.width, capture.height)}
                            for d in results],
        },
        f"{attribute}-metadata": {
            "objects": [{"confidence": d.score} for d in results],
            "class-map": {str(d.class_id): d.label for d in results},
            "type": OBJECT_DETECTION,
            "human-annotated": "no",
            "creation-date": creation_date(capture.captured_at),
            "job-name": f"smartcam/{capture.model.name}@{capture.model.version}",
        },
    }


def manifest_line(capture: DataCapture, bucket: str, keys: CaptureKeys, attribute: str) -> bytes:
    """The capture's Ground Truth input manifest line, newline included."""
    line = {"source-ref": f"s3://{bucket}/{keys.image}", **pre_annotation(capture, attribute)}
    return (json.dumps(line, separators=(",", ":"), allow_nan=False) + "\n").encode()


def predictions_file(capture: DataCapture, device: str, bucket: str, keys: CaptureKeys) -> bytes:
    return CapturePredictions(
        device=device, frame_id=capture.frame_id, camera_id=capture.camera_id, request_id=capture.request_id,
        captured_at=capture.captured_at, width=capture.width, height=capture.height, reasons=capture.reasons,
        model=capture.model, detections=capture.detections, candidates=capture.candidates,
        image=f"s3://{bucket}/{keys.image}").to_bytes()
