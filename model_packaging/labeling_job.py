"""The `label` step: a SageMaker Ground Truth bounding-box labeling job on the captures' input manifest.

    read the input manifest (S3 GetObject) -> check every line -> S3 PutObject of the label categories
    and the worker UI template -> CreateLabelingJob

It does not wait: people label for hours or days. The output manifest appears at
``<output>/<job name>/manifests/output/output.manifest``, the `--manifest` of `train`/`pipeline`.
Only a private work team is accepted: the frames come from cameras and show people (personal data),
so they must not go to the public Mechanical Turk workforce.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_packaging.aws_inputs import InputError, S3Uri, check_job_name, check_region, check_role_arn
from model_packaging.dry_run import Call
from model_packaging.ground_truth_manifest import IMAGE_SUFFIXES

UI_TEMPLATE = Path(__file__).with_name("labeling") / "bounding-box.liquid.html"
# Ground Truth's built-in bounding-box functions are per region, in one AWS account each, the same for
# PRE-BoundingBox (before a task) and ACS-BoundingBox (consolidating workers' boxes): the table in the
# SageMaker API reference (HumanTaskConfig.PreHumanTaskLambdaArn, AnnotationConsolidationLambdaArn),
# also in botocore's service model, which tests/model_packaging/test_labeling_job.py checks it against.
GROUND_TRUTH_ACCOUNTS = {
    "us-east-1": "432418664414", "us-east-2": "266458841044", "us-west-2": "081040173940",
    "ca-central-1": "918755190332", "eu-west-1": "568282634449", "eu-west-2": "487402164563",
    "eu-central-1": "203001061592", "ap-northeast-1": "477331159723", "ap-northeast-2": "845288260483",
    "ap-south-1": "565803892007", "ap-southeast-1": "377565633583", "ap-southeast-2": "454466003867",
}
LABEL_CATEGORY_VERSION = "2018-11-28"


def bounding_box_functions(region: str) -> tuple[str, str]:
    """(PreHumanTaskLambdaArn, AnnotationConsolidationLambdaArn) of the built-in bounding-box task."""
    region = check_region(region)
    if region not in GROUND_TRUTH_ACCOUNTS:
        raise InputError(f"Ground Truth's bounding-box task is not listed for {region} "
                         f"(known: {', '.join(sorted(GROUND_TRUTH_ACCOUNTS))})")
    account = GROUND_TRUTH_ACCOUNTS[region]
    return (f"arn:aws:lambda:{region}:{account}:function:PRE-BoundingBox",
            f"arn:aws:lambda:{region}:{account}:function:ACS-BoundingBox")


def count_input_objects(text: str) -> int:
    """Checks a Ground Truth input manifest (one {"source-ref": "s3://..."} per line) and counts its images."""
    count = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            source = json.loads(line).get("source-ref")
        except (json.JSONDecodeError, AttributeError):
            raise InputError(f"input manifest line {number}: not a JSON object") from None
        try:
            S3Uri.parse(source)
        except InputError as error:
            raise InputError(f"input manifest line {number}: source-ref: {error}") from None
        if not source.lower().endswith(IMAGE_SUFFIXES):
            raise InputError(f"input manifest line {number}: {source} is not a .jpg/.jpeg/.png image")
        count += 1
    if not count:
        raise InputError("the input manifest lists no image")
    return count


@dataclass(frozen=True)
class LabelingPlan:
    uploads: list[tuple[S3Uri, bytes, str]]  # where, what, content type
    request: dict[str, Any]  # CreateLabelingJob
    objects: int

    def output_manifest(self) -> str:
        output = self.request["OutputConfig"]["S3OutputPath"].rstrip("/")
        return f"{output}/{self.request['LabelingJobName']}/manifests/output/output.manifest"

    def calls(self) -> list[Call]:
        calls: list[Call] = [
            ("s3", "PutObject", {"Bucket": uri.bucket, "Key": uri.key, "Body": f"<{len(body)} bytes>",
                                 "ContentType": content_type})
            for uri, body, content_type in self.uploads
        ]
        calls.append(("sagemaker", "CreateLabelingJob", self.request))
        return calls


def plan_labeling(*, input_manifest: S3Uri, manifest_text: str, job_name: str, label_attribute: str,
                  labels: list[str], role_arn: str, workteam_arn: str, region: str, work_prefix: S3Uri,
                  workers_per_object: int = 1) -> LabelingPlan:
    check_job_name(job_name, "LabelingJobName")
    check_job_name(label_attribute, "LabelAttributeName")
    if label_attribute.endswith(("-ref", "-metadata")):
        raise InputError(f"a label attribute name may not end in -ref or -metadata: {label_attribute!r}")
    check_role_arn(role_arn)
    check_job_name(workteam_arn, "WorkteamArn")
    if ":workteam/private-crowd/" not in workteam_arn:
        raise InputError("camera frames show people: only a private work team (workteam/private-crowd/...) is used")
    if not labels or len(set(labels)) != len(labels) or not all(0 < len(label) <= 256 for label in labels):
        raise InputError(f"labels must be distinct, non-empty names: {labels}")
    if not 1 <= workers_per_object <= 9:
        raise InputError("1-9 workers per image")
    pre, consolidation = bounding_box_functions(region)
    objects = count_input_objects(manifest_text)
    folder = work_prefix.join(job_name)
    categories = folder.join("label-categories.json")
    template = folder.join("bounding-box.liquid.html")
    category_document = {"document-version": LABEL_CATEGORY_VERSION, "labels": [{"label": name} for name in labels]}
    request = {
        "LabelingJobName": job_name,
        "LabelAttributeName": label_attribute,
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": str(input_manifest)}}},
        "OutputConfig": {"S3OutputPath": str(work_prefix.join("output"))},
        "RoleArn": role_arn,
        "LabelCategoryConfigS3Uri": str(categories),
        "HumanTaskConfig": {
            "WorkteamArn": workteam_arn,
            "UiConfig": {"UiTemplateS3Uri": str(template)},
            "PreHumanTaskLambdaArn": pre,
            "TaskKeywords": ["Images", "Bounding box", "Object detection"],
            "TaskTitle": f"Draw a box around every {', '.join(labels)}",
            "TaskDescription": "Draw one tight box around each visible object of the listed classes.",
            "NumberOfHumanWorkersPerDataObject": workers_per_object,
            "TaskTimeLimitInSeconds": 300,
            "TaskAvailabilityLifetimeInSeconds": 10 * 24 * 3600,
            "MaxConcurrentTaskCount": 100,
            "AnnotationConsolidationConfig": {"AnnotationConsolidationLambdaArn": consolidation},
        },
    }
    uploads = [
        (categories, json.dumps(category_document, indent=2).encode(), "application/json"),
        (template, UI_TEMPLATE.read_bytes(), "text/html"),
    ]
    return LabelingPlan(uploads, request, objects)


def start_labeling(sagemaker: Any, s3: Any, plan: LabelingPlan) -> str:
    for uri, body, content_type in plan.uploads:
        s3.put_object(Bucket=uri.bucket, Key=uri.key, Body=body, ContentType=content_type)
    return sagemaker.create_labeling_job(**plan.request)["LabelingJobArn"]
