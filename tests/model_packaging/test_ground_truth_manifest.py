"""The cloud commands' strict input checks: Ground Truth output manifest lines, S3 URIs, role ARNs,
instance types and job names, before any request is made."""

import json

import pytest

from model_packaging import ground_truth_manifest as gt
from model_packaging.aws_inputs import InputError, S3Uri, check_instance_type, check_job_name, check_role_arn
from model_packaging.sagemaker_training import TRAINING_INSTANCE_TYPES, training_image


def gt_line(index: int, boxes=((0, 10, 20, 50, 120),), class_map=None, attribute="people", **overrides) -> str:
    """One line of a Ground Truth bounding-box job's output manifest (the documented format)."""
    document = {
        "source-ref": f"s3://smartcam-data/captures/cam-1/cam0/2026-12-06/f{index:04d}.jpg",
        attribute: {
            "image_size": [{"width": 768, "height": 576, "depth": 3}],
            "annotations": [{"class_id": c, "left": x, "top": y, "width": w, "height": h} for c, x, y, w, h in boxes],
        },
        f"{attribute}-metadata": {
            "objects": [{"confidence": 0.9} for _ in boxes],
            "class-map": class_map or {"0": "person", "1": "bicycle"},
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": "2026-12-06T10:00:00.000000",
            "job-name": "labeling-job/smartcam-people",
        },
    }
    for key, value in overrides.items():
        target, _, member = key.partition("__")
        if member:
            document[target.replace("_", "-") if target == "source_ref" else target][member] = value
        else:
            document[key] = value
    return json.dumps(document)


def manifest(count: int = 20) -> str:
    return "".join(gt_line(i, boxes=[(i % 2, 10 + 60 * k, 20, 50, 120) for k in range(1 + i % 3)]) + "\n"
                   for i in range(count))


def test_a_ground_truth_output_manifest_is_read_with_its_classes_and_failed_objects_dropped():
    failed = json.dumps({"source-ref": "s3://smartcam-data/captures/x.jpg",
                         "people-metadata": {"failure-reason": "ClientError: skipped", "job-name": "labeling-job/x"}})
    parsed = gt.parse_manifest(manifest(6) + failed + "\n\n", "people")
    assert len(parsed.images) == 6
    assert parsed.dropped == [(7, "ClientError: skipped")]
    assert parsed.classes == ["person", "bicycle"]
    assert parsed.max_objects == 3
    assert gt.summary(parsed)["objects"] == 1 + 2 + 3 + 1 + 2 + 3


@pytest.mark.parametrize(("line", "message"), [
    ("not json", "line 1: not JSON"),
    ("[1, 2]", "line 1: not a JSON object"),
    (gt_line(0, **{"source-ref": "https://bucket/a.jpg"}), "line 1: source-ref: not an s3://"),
    (gt_line(0, **{"source-ref": "s3://Bad_Bucket/a.jpg"}), "not a valid S3 bucket name"),
    (gt_line(0, **{"source-ref": "s3://smartcam-data/a.txt"}), "is not a .jpg/.jpeg/.png image"),
    (gt_line(0, attribute="boxes"), "no 'people' label"),
    (gt_line(0, boxes=[(0, 700, 20, 100, 120)]), "annotation 0 reaches outside the 768x576 image"),
    (gt_line(0, boxes=[(0, 10, 20, 0, 120)]), "width"),
    (gt_line(0, boxes=[(0, -1, 20, 10, 120)]), "left"),
    (gt_line(0, boxes=[(2, 10, 20, 10, 120)]), "class ids [2] are not in the line's class-map"),
    (gt_line(0, class_map={"zero": "person"}), "class-map keys must be class ids"),
    (gt_line(0, **{"people-metadata__type": "groundtruth/image-classification"}), "type"),
    (gt_line(0, **{"people-metadata__objects": []}), "1 annotations but 0 confidences"),
    (gt_line(0, **{"people__image_size": [{"width": 768, "height": 576, "depth": 1}]}), "depth"),
    (gt_line(0, **{"people__extra": 1}), "extra"),
    (gt_line(0, **{"people__annotations": [{"class_id": True, "left": 1, "top": 1, "width": 1, "height": 1}]}),
     "class_id"),
])
def test_a_line_that_is_not_ground_truth_bounding_box_output_is_refused_with_its_number(line, message):
    with pytest.raises(InputError, match="line 1") as raised:
        gt.parse_manifest(line + "\n", "people")
    assert message in str(raised.value)


def test_class_names_must_agree_and_cover_every_id_without_gaps():
    conflicting = gt_line(0) + "\n" + gt_line(1, class_map={"0": "pedestrian", "1": "bicycle"}) + "\n"
    with pytest.raises(InputError, match="class 0 is 'pedestrian' here, 'person' on an earlier line"):
        _ = gt.parse_manifest(conflicting, "people").classes
    gap = gt_line(0, boxes=[(2, 1, 1, 5, 5)], class_map={"0": "person", "2": "car"}) + "\n"
    with pytest.raises(InputError, match=r"without gaps .*missing \[1\]"):
        _ = gt.parse_manifest(gap, "people").classes


def test_an_image_listed_twice_or_an_empty_manifest_is_refused():
    with pytest.raises(InputError, match=r"line 2: .*f0000\.jpg is already on line 1"):
        gt.parse_manifest(gt_line(0) + "\n" + gt_line(0) + "\n", "people")
    with pytest.raises(InputError, match="no labeled image"):
        gt.parse_manifest("\n", "people")
    with pytest.raises(InputError, match="not a label attribute name"):
        gt.parse_manifest(manifest(2), "people-metadata")


def test_the_split_keeps_each_image_on_its_side_whatever_the_order():
    parsed = gt.parse_manifest(manifest(200), "people")
    train, validation = gt.split(parsed, 20)
    assert len(train) + len(validation) == 200
    assert 20 <= len(validation) <= 60  # ~20 % of 200 by hash
    reversed_lines = "".join(reversed(manifest(200).splitlines(keepends=True)))
    _, validation_again = gt.split(gt.parse_manifest(reversed_lines, "people"), 20)
    assert {i.source_ref for i in validation_again} == {i.source_ref for i in validation}
    assert gt.manifest_text(validation).count("\n") == len(validation)
    with pytest.raises(InputError, match="empty train or validation set"):
        gt.split(gt.parse_manifest(manifest(1), "people"), 20)
    with pytest.raises(InputError, match="1-50"):
        gt.split(parsed, 0)


@pytest.mark.parametrize("uri", [
    "s3://ab/key", "s3://bucket/", "s3://bucket", "s3://bucket//key", "s3://192.168.1.1/key",
    "s3://my..bucket/key", "s3://-bucket/key", "s3://xn--bucket/key", "s3://bucket/a\nb", "bucket/key",
])
def test_malformed_s3_uris_are_refused(uri):
    with pytest.raises(InputError):
        S3Uri.parse(uri)


def test_s3_uris_and_prefixes_parse():
    assert S3Uri.parse("s3://my-bucket.eu/a/b.manifest") == S3Uri("my-bucket.eu", "a/b.manifest")
    assert str(S3Uri.prefix("s3://my-bucket/out/").join("job", "output")) == "s3://my-bucket/out/job/output"


@pytest.mark.parametrize(("arn", "ok"), [
    ("arn:aws:iam::123456789012:role/smartcam-sagemaker", True),
    ("arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-1", True),
    ("arn:aws-cn:iam::123456789012:role/x", True),
    ("arn:aws:iam::12345678901:role/x", False),
    ("arn:aws:iam::123456789012:user/x", False),
    ("arn:aws:iam::123456789012:role/", False),
    ("arn:aws:iam::123456789012:role/a b", False),
])
def test_role_arns(arn, ok):
    if ok:
        assert check_role_arn(arn) == arn
    else:
        with pytest.raises(InputError, match="not an IAM role ARN"):
            check_role_arn(arn)


def test_instance_types_must_be_known_to_the_service_model_and_supported_by_the_algorithm():
    assert check_instance_type("ml.p3.2xlarge", "TrainingInstanceType", TRAINING_INSTANCE_TYPES)
    with pytest.raises(InputError, match="not a SageMaker TrainingInstanceType"):
        check_instance_type("ml.p9.huge", "TrainingInstanceType", TRAINING_INSTANCE_TYPES)
    with pytest.raises(InputError, match="not one the algorithm supports"):
        check_instance_type("ml.m5.xlarge", "TrainingInstanceType", TRAINING_INSTANCE_TYPES)


def test_job_names_follow_the_service_model_pattern():
    assert check_job_name("smartcam-ssd-1", "TrainingJobName")
    for bad in ("smartcam_ssd", "-smartcam", "x" * 64, ""):
        with pytest.raises(InputError, match="not a valid TrainingJobName"):
            check_job_name(bad, "TrainingJobName")


def test_the_algorithm_image_comes_from_the_documented_registry_of_the_region():
    assert training_image("eu-west-1") == "685385470294.dkr.ecr.eu-west-1.amazonaws.com/object-detection:1"
    assert training_image("cn-north-1") == "390948362332.dkr.ecr.cn-north-1.amazonaws.com.cn/object-detection:1"
    with pytest.raises(InputError, match="no Object Detection algorithm image is listed for xx-east-9"):
        training_image("xx-east-9")
    with pytest.raises(InputError, match="not an AWS region name"):
        training_image("")
