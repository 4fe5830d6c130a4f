"""`python -m model_packaging label` against botocore's Stubber (requests checked by the service model)."""

import io
import json
import re

import pytest
from botocore.response import StreamingBody

from model_packaging import cloud_cli
from model_packaging.aws_inputs import InputError, sagemaker_model
from model_packaging.labeling_job import GROUND_TRUTH_ACCOUNTS, UI_TEMPLATE, bounding_box_functions

ROLE = "arn:aws:iam::123456789012:role/smartcam-sagemaker-execution"
TEAM = "arn:aws:sagemaker:eu-west-1:123456789012:workteam/private-crowd/smartcam-labelers"
BUCKET = "smartcam-training-eu-west-1-123456789012"
INPUT = "s3://smartcam-snapshots-eu-west-1-123456789012/captures/manifests/2026-12-06.manifest"
JOB = "smartcam-label-test"


def input_manifest(count: int) -> str:
    return "".join(json.dumps({"source-ref": f"s3://smartcam-snapshots-eu-west-1-123456789012/captures/cam-1/cam0/"
                                             f"2026-12-06/f{i}.jpg"}) + "\n" for i in range(count))


def argv(*extra):
    return ["--manifest", INPUT, "--label", "person", "--label", "bicycle", "--role-arn", ROLE,
            "--workteam-arn", TEAM, "--bucket", BUCKET, "--region", "eu-west-1", "--job-name", JOB, *extra]


def stub_manifest(aws, text):
    aws["s3"].add_response("get_object", {"Body": StreamingBody(io.BytesIO(text.encode()), len(text))},
                           {"Bucket": "smartcam-snapshots-eu-west-1-123456789012",
                            "Key": "captures/manifests/2026-12-06.manifest"})


def test_label_uploads_the_categories_and_ui_then_starts_the_job(aws, capsys):
    stub_manifest(aws, input_manifest(12))
    folder = f"smartcam/training/labeling/{JOB}"
    categories = {"document-version": "2018-11-28", "labels": [{"label": "person"}, {"label": "bicycle"}]}
    aws["s3"].add_response("put_object", {}, {"Bucket": BUCKET, "Key": f"{folder}/label-categories.json",
                                              "Body": json.dumps(categories, indent=2).encode(),
                                              "ContentType": "application/json"})
    aws["s3"].add_response("put_object", {}, {"Bucket": BUCKET, "Key": f"{folder}/bounding-box.liquid.html",
                                              "Body": UI_TEMPLATE.read_bytes(), "ContentType": "text/html"})
    aws["sagemaker"].add_response("create_labeling_job", {
        "LabelingJobArn": f"arn:aws:sagemaker:eu-west-1:123456789012:labeling-job/{JOB}"}, {
        "LabelingJobName": JOB, "LabelAttributeName": "boxes",
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": INPUT}}},
        "OutputConfig": {"S3OutputPath": f"s3://{BUCKET}/smartcam/training/labeling/output"},
        "RoleArn": ROLE, "LabelCategoryConfigS3Uri": f"s3://{BUCKET}/{folder}/label-categories.json",
        "HumanTaskConfig": {
            "WorkteamArn": TEAM, "UiConfig": {"UiTemplateS3Uri": f"s3://{BUCKET}/{folder}/bounding-box.liquid.html"},
            "PreHumanTaskLambdaArn": "arn:aws:lambda:eu-west-1:568282634449:function:PRE-BoundingBox",
            "TaskKeywords": ["Images", "Bounding box", "Object detection"],
            "TaskTitle": "Draw a box around every person, bicycle",
            "TaskDescription": "Draw one tight box around each visible object of the listed classes.",
            "NumberOfHumanWorkersPerDataObject": 1, "TaskTimeLimitInSeconds": 300,
            "TaskAvailabilityLifetimeInSeconds": 864000, "MaxConcurrentTaskCount": 100,
            "AnnotationConsolidationConfig": {
                "AnnotationConsolidationLambdaArn": "arn:aws:lambda:eu-west-1:568282634449:function:ACS-BoundingBox"},
        },
    })
    assert cloud_cli.label(argv(), clients=aws["clients"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["objects"] == 12
    assert result["output_manifest"] == (f"s3://{BUCKET}/smartcam/training/labeling/output/{JOB}/manifests/output/"
                                         "output.manifest")


@pytest.mark.parametrize(("extra", "text", "message"), [
    (["--workteam-arn", "arn:aws:sagemaker:eu-west-1:394669845002:workteam/public-crowd/default"], None,
     "only a private work team"),
    (["--label-attribute", "boxes-ref"], None, "may not end in -ref"),
    (["--label", "person"], None, "labels must be distinct"),
    ([], input_manifest(2) + '{"source-ref": "s3://x/y.jpg"}\n', "input manifest line 3: source-ref"),
    ([], "", "lists no image"),
])
def test_bad_labeling_inputs_exit_2_before_anything_is_written(aws, capsys, extra, text, message):
    stub_manifest(aws, input_manifest(3) if text is None else text)
    assert cloud_cli.label([*argv(), *extra], clients=aws["clients"]) == 2
    assert message in capsys.readouterr().err


def test_the_ground_truth_function_table_is_the_one_in_the_service_model():
    documented = sagemaker_model().shape_for("HumanTaskConfig").members["PreHumanTaskLambdaArn"].documentation
    listed = dict(re.findall(r"arn:aws:lambda:([a-z0-9-]+):(\d{12}):function:PRE-BoundingBox", documented))
    assert listed == GROUND_TRUTH_ACCOUNTS
    assert bounding_box_functions("eu-west-1")[1] == "arn:aws:lambda:eu-west-1:568282634449:function:ACS-BoundingBox"
    with pytest.raises(InputError, match="not listed for sa-east-1"):
        bounding_box_functions("sa-east-1")


def test_label_dry_run_reads_the_manifest_and_prints_the_three_requests(aws, capsys):
    stub_manifest(aws, input_manifest(5))
    assert cloud_cli.label(argv("--dry-run"), clients=aws["clients"]) == 0
    calls = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(c["service"], c["operation"]) for c in calls] == [
        ("s3", "PutObject"), ("s3", "PutObject"), ("sagemaker", "CreateLabelingJob")]
