"""Ground Truth object-detection manifests in and out, and where their images come from."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from model_packaging.accuracy import EVAL_SET
from model_packaging.eval_images import ImageSourceError, LocalMirror, ShippedSources
from model_packaging.ground_truth import GroundTruthError, TruthImage, manifest_line, read_manifest

# the line of AWS's documentation (Rekognition Custom Labels, "Object localization in manifest files")
AWS_EXAMPLE = {
    "source-ref": "s3://bucket/images/IMG_1186.png",
    "bounding-box": {"image_size": [{"width": 640, "height": 480, "depth": 3}],
                     "annotations": [{"class_id": 1, "top": 251, "left": 399, "width": 155, "height": 101},
                                     {"class_id": 0, "top": 65, "left": 86, "width": 220, "height": 334}]},
    "bounding-box-metadata": {"objects": [{"confidence": 1}, {"confidence": 1}],
                              "class-map": {"0": "Echo", "1": "Echo Dot"}, "type": "groundtruth/object-detection",
                              "human-annotated": "yes", "creation-date": "2013-11-18T02:53:27", "job-name": "my job"},
}


def write(tmp_path: Path, *lines: dict) -> Path:
    path = tmp_path / "output.manifest"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def with_change(change) -> dict:
    line = json.loads(json.dumps(AWS_EXAMPLE))
    change(line)
    return line


def test_aws_documented_line_reads_as_normalized_boxes_by_class_name(tmp_path):
    (image,) = read_manifest(write(tmp_path, AWS_EXAMPLE))
    assert (image.source_ref, image.width, image.height) == ("s3://bucket/images/IMG_1186.png", 640, 480)
    assert image.truth("Echo Dot") == [pytest.approx((399 / 640, 251 / 480, 554 / 640, 352 / 480))]
    assert image.truth("Echo") == [pytest.approx((86 / 640, 65 / 480, 306 / 640, 399 / 480))]


def test_a_written_line_reads_back(tmp_path):
    image = TruthImage("s3://smartcam-eval/k.png", 100, 50, (("person", (0.1, 0.2, 0.5, 1.0)),))
    line = manifest_line(image, "persons", {0: "person"}, job_name="labeling-job/x",
                         creation_date="2026-12-06T00:00:00")
    document = json.loads(line)
    assert document["persons"]["annotations"] == [{"class_id": 0, "left": 10, "top": 10, "width": 40, "height": 40}]
    assert document["persons-metadata"]["type"] == "groundtruth/object-detection"
    path = tmp_path / "m.manifest"
    path.write_text(line + "\n")
    assert read_manifest(path) == [image]


@pytest.mark.parametrize(("change", "reason"), [
    (lambda line: line["bounding-box"]["annotations"][0].update(left=500), "reaches outside the 640x480 image"),
    (lambda line: line["bounding-box"]["annotations"][0].update(class_id=7), "class ids \\[7\\] are not in"),
    (lambda line: line["bounding-box"]["annotations"][0].update(width="155"), "valid number"),
    (lambda line: line["bounding-box-metadata"]["objects"].pop(), "2 annotations but 1 confidences"),
    (lambda line: line.update({"source-ref": "/local/file.png"}), "source-ref"),
])
def test_a_line_off_the_format_is_refused_with_its_line_number(tmp_path, change, reason):
    with pytest.raises(GroundTruthError, match=rf"output.manifest: line 2: .*{reason}"):
        read_manifest(write(tmp_path, AWS_EXAMPLE | {"source-ref": "s3://bucket/other.png"}, with_change(change)))


def test_the_label_attribute_is_found_by_its_metadata_type(tmp_path):
    classification = with_change(lambda line: line["bounding-box-metadata"].update(
        type="groundtruth/image-classification"))
    with pytest.raises(GroundTruthError, match="expected one object-detection label attribute, found none"):
        read_manifest(write(tmp_path, classification))
    assert read_manifest(write(tmp_path, AWS_EXAMPLE), "bounding-box") == read_manifest(write(tmp_path, AWS_EXAMPLE))


def test_an_image_labeled_twice_or_an_empty_manifest_is_refused(tmp_path):
    with pytest.raises(GroundTruthError, match="already on line 1"):
        read_manifest(write(tmp_path, AWS_EXAMPLE, AWS_EXAMPLE))
    with pytest.raises(GroundTruthError, match="expected one object-detection label attribute"):
        read_manifest(write(tmp_path))


def test_the_shipped_set_follows_the_format_and_names_only_the_model_class():
    images = read_manifest(EVAL_SET)
    assert {name for image in images for name, _ in image.boxes} == {"person"}
    assert all(image.source_ref.startswith("s3://smartcam-eval/") for image in images)


def test_a_source_file_that_is_not_the_labeled_one_is_refused(tmp_path):
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), np.zeros((64, 64, 3), np.uint8))
    sources = tmp_path / "sources.json"
    document = {"bucket": "smartcam-eval", "objects": {"p.png": {"file": str(photo)}},
                "files": {str(photo): {"sha256": hashlib.sha256(photo.read_bytes()).hexdigest(), "package": "x"}}}
    sources.write_text(json.dumps(document))
    assert ShippedSources(sources).rgb("s3://smartcam-eval/p.png").shape == (64, 64, 3)

    cv2.imwrite(str(photo), np.full((64, 64, 3), 255, np.uint8))
    with pytest.raises(ImageSourceError, match="not the file that was labeled"):
        ShippedSources(sources).rgb("s3://smartcam-eval/p.png")
    with pytest.raises(ImageSourceError, match="not in the evaluation set"):
        ShippedSources(sources).rgb("s3://other-bucket/p.png")


def test_a_local_mirror_stays_inside_its_folder(tmp_path):
    with pytest.raises(ImageSourceError, match="outside"):
        LocalMirror(tmp_path).rgb("s3://bucket/../../etc/passwd")
