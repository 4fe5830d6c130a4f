"""A capture's S3 keys, its predictions file and its Ground Truth manifest line, checked against the
shapes AWS documents (sms-input-data-input-manifest, sms-data-output "Bounding box job output", and the
line Rekognition Custom Labels imports: see dynamo_writer/ground_truth.py)."""

from __future__ import annotations

import calendar
import json

import pytest

from dynamo_writer.ground_truth import capture_keys, creation_date, manifest_line, predictions_file, to_pixels
from dynamo_writer.settings import DynamoWriterConfig
from smartcam.contracts import Box, CapturePredictions, DataCapture, Detection, ModelInfo, parse

AT = calendar.timegm((2026, 12, 6, 23, 59, 59)) + 0.5
KEYS = capture_keys("captures", "thing-1", "cam0", AT, "cam0-ab12-7")


def capture(**over) -> DataCapture:
    person = Detection(label="person", class_id=1, score=0.55, box=Box(x1=0.1, y1=0.2, x2=0.35, y2=0.9))
    car = Detection(label="car", class_id=3, score=0.91, box=Box(x1=0.5, y1=0.5, x2=1.0, y2=1.0))
    weak = Detection(label="person", class_id=1, score=0.2, box=Box(x1=0.0, y1=0.0, x2=0.1, y2=0.1))
    fields = {"frame_id": "cam0-ab12-7", "camera_id": "cam0", "request_id": "req-1", "captured_at": AT,
              "width": 640, "height": 480, "reasons": ["uncertain", "random"], "best_score": 0.91,
              "detections": [car, person], "candidates": [weak],
              "model": ModelInfo(name="ssd-mobilenet", version="1.2.0", backend="dlr", variant="dlr-avx2"),
              "path": "/work/captures/cam0-ab12-7.jpg", "bytes": 1234, "sent_at": AT + 1, **over}
    return DataCapture.model_validate(fields)


def test_the_keys_are_one_folder_per_camera_and_utc_day_named_by_the_frame():
    assert KEYS.image == "captures/thing-1/cam0/2026-12-06/cam0-ab12-7.jpg"
    assert KEYS.predictions == "captures/thing-1/cam0/2026-12-06/cam0-ab12-7.predictions.json"
    assert KEYS.manifest == "captures/thing-1/cam0/2026-12-06/cam0-ab12-7.manifest.jsonl"
    assert capture_keys("captures", "thing-1", "cam0", AT + 1, "f").image.split("/")[3] == "2026-12-07"


@pytest.mark.parametrize(("box", "pixels"), [
    ((0.1, 0.2, 0.35, 0.9), {"left": 64, "top": 96, "width": 160, "height": 336}),
    ((0.0, 0.0, 1.0, 1.0), {"left": 0, "top": 0, "width": 640, "height": 480}),
    ((0.5, 0.5, 0.5, 0.5), {"left": 320, "top": 240, "width": 1, "height": 1}),  # at least one pixel
    ((1.0, 1.0, 1.0, 1.0), {"left": 639, "top": 479, "width": 1, "height": 1}),  # inside the image
    ((0.0011, 0.0, 0.0019, 0.001), {"left": 1, "top": 0, "width": 1, "height": 1}),
])
def test_normalized_boxes_become_whole_pixels_from_the_top_left(box, pixels):
    x1, y1, x2, y2 = box
    assert to_pixels(Box(x1=x1, y1=y1, x2=x2, y2=y2), 640, 480) == pixels


def test_the_manifest_line_is_a_ground_truth_input_line_with_the_predictions_as_bounding_box_output():
    data = manifest_line(capture(), "bucket-1", KEYS, "smartcam-predictions")
    assert data.endswith(b"\n") and data.count(b"\n") == 1  # one JSON line: parts concatenate
    line = json.loads(data)
    assert set(line) == {"source-ref", "smartcam-predictions", "smartcam-predictions-metadata"}
    assert line["source-ref"] == "s3://bucket-1/captures/thing-1/cam0/2026-12-06/cam0-ab12-7.jpg"
    label = line["smartcam-predictions"]
    assert label == {
        "image_size": [{"width": 640, "height": 480, "depth": 3}],
        "annotations": [{"class_id": 3, "left": 320, "top": 240, "width": 320, "height": 240},
                        {"class_id": 1, "left": 64, "top": 96, "width": 160, "height": 336}],
    }
    metadata = line["smartcam-predictions-metadata"]
    assert metadata == {
        "objects": [{"confidence": 0.91}, {"confidence": 0.55}],  # one per annotation, in order
        "class-map": {"3": "car", "1": "person"},
        "type": "groundtruth/object-detection",
        "human-annotated": "no",
        "creation-date": "2026-12-06T23:59:59.500000",
        "job-name": "smartcam/ssd-mobilenet@1.2.0",
    }
    for annotation in label["annotations"]:
        assert all(isinstance(annotation[k], int) for k in ("class_id", "left", "top", "width", "height"))


def test_a_frame_without_results_is_a_line_with_no_annotations():
    line = json.loads(manifest_line(capture(detections=[], best_score=0.2), "b-1", KEYS, "pre"))
    assert line["pre"]["annotations"] == [] and line["pre-metadata"]["objects"] == []
    assert line["pre-metadata"]["class-map"] == {}


def test_the_predictions_file_keeps_every_prediction_as_the_model_gave_it():
    data = predictions_file(capture(), "thing-1", "bucket-1", KEYS)
    predictions = parse(CapturePredictions, data)
    assert [d.score for d in predictions.detections] == [0.91, 0.55]
    assert [d.score for d in predictions.candidates] == [0.2]
    assert predictions.image == "s3://bucket-1/" + KEYS.image
    assert (predictions.device, predictions.reasons, predictions.model.variant) == ("thing-1", ["uncertain", "random"],
                                                                                      "dlr-avx2")


def test_the_same_capture_makes_the_same_bytes():
    """What a retry uploads is what the first try did."""
    assert manifest_line(capture(), "b-1", KEYS, "a") == manifest_line(capture(), "b-1", KEYS, "a")
    assert predictions_file(capture(), "t", "b-1", KEYS) == predictions_file(capture(), "t", "b-1", KEYS)


def test_creation_date_is_utc_in_ground_truths_form():
    assert creation_date(0.25) == "1970-01-01T00:00:00.250000"


@pytest.mark.parametrize("name", ["x-metadata", "labels-metadata-2", "image-ref", "-a", "a b", "", "a" * 128])
def test_a_label_attribute_name_ground_truth_refuses_is_refused(name):
    with pytest.raises(ValueError, match=r"labelAttributeName|label_attribute_name"):
        DynamoWriterConfig.model_validate({"labelAttributeName": name})


def test_the_contract_refuses_a_best_score_that_is_not_the_best():
    with pytest.raises(ValueError, match="best_score"):
        capture(best_score=0.5)
    with pytest.raises(ValueError, match="reasons"):
        capture(reasons=["random", "random"])


def test_the_parts_concatenated_are_what_the_label_and_train_commands_read():
    """The manifest a user concatenates from the parts, through model_packaging's own readers: `label`'s
    input-manifest check, and `train`'s strict reader of Ground Truth bounding-box output lines."""
    from model_packaging.ground_truth_manifest import parse_manifest
    from model_packaging.labeling_job import count_input_objects

    parts = []
    for n in range(3):
        frame_id = f"cam0-ab12-{n}"
        keys = capture_keys("captures", "thing-1", "cam0", AT + n, frame_id)
        parts.append(manifest_line(capture(frame_id=frame_id, captured_at=AT + n), "bucket-1", keys,
                                   "smartcam-predictions"))
    text = b"".join(parts).decode()
    assert count_input_objects(text) == 3
    manifest = parse_manifest(text, "smartcam-predictions")
    assert [image.source_ref.rsplit("/", 2)[1:] for image in manifest.images] == [
        ["2026-12-06", "cam0-ab12-0.jpg"], ["2026-12-07", "cam0-ab12-1.jpg"], ["2026-12-07", "cam0-ab12-2.jpg"]]
    first = manifest.images[0]
    assert first.class_map == {3: "car", 1: "person"}
    assert [(b.class_id, b.left, b.top, b.width, b.height) for b in first.label.annotations] == [
        (3, 320, 240, 320, 240), (1, 64, 96, 160, 336)]
