"""infrastructure/model-training.yaml: cfn-lint clean, and its IAM stays as narrow as the cloud commands
of model_packaging need (no bare "*" where the service can scope, the instance types the algorithm
supports, the execution role passed to SageMaker only)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

from fleet.components import REPO_ROOT
from model_packaging.sagemaker_training import ALGORITHM_REGISTRIES, TRAINING_INSTANCE_TYPES

TEMPLATE = REPO_ROOT / "infrastructure" / "model-training.yaml"
# Actions IAM offers no resource type for: "*" is the only resource they accept.
UNSCOPABLE = {"ecr:GetAuthorizationToken", "cloudwatch:PutMetricData"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    decoded, errors = decode_str(TEMPLATE.read_text())
    assert not errors
    return decoded


def statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    resources = template["Resources"]
    found = list(resources["OperatorPolicy"]["Properties"]["PolicyDocument"]["Statement"])
    for policy in resources["SageMakerExecutionRole"]["Properties"]["Policies"]:
        found.extend(policy["PolicyDocument"]["Statement"])
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_cfn_lint_finds_nothing():
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    done = subprocess.run([str(cfn_lint), str(TEMPLATE)], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_only_actions_without_a_resource_type_get_a_bare_star(template):
    for statement in statements(template):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            assert "*" not in action, statement["Sid"]
        if "*" in as_list(statement["Resource"]):
            assert set(as_list(statement["Action"])) <= UNSCOPABLE, statement["Sid"]


def test_the_operator_starts_only_smartcam_jobs_on_the_algorithms_instance_types(template):
    by_sid = {statement["Sid"]: statement for statement in statements(template)}
    training = by_sid["TrainingJobs"]
    assert training["Resource"]["Fn::Sub"].endswith(":training-job/smartcam-*")
    allowed = training["Condition"]["ForAllValues:StringEquals"]["sagemaker:InstanceTypes"]
    assert sorted(allowed) == sorted(TRAINING_INSTANCE_TYPES)
    for sid in ("FollowAndStopTrainingJobs", "CompilationJobs", "LabelingJobs"):
        assert by_sid[sid]["Resource"]["Fn::Sub"].endswith("/smartcam-*"), sid
    pass_role = by_sid["PassTheExecutionRoleToSageMakerOnly"]
    assert pass_role["Resource"] == {"Fn::GetAtt": ["SageMakerExecutionRole", "Arn"]}
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_the_role_pulls_only_the_algorithm_image_of_its_region(template):
    registry = template["Mappings"]["ObjectDetectionRegistry"]
    commercial = {region: account for region, account in ALGORITHM_REGISTRIES.items()
                  if not region.startswith(("cn-", "us-gov-"))}
    assert {region: entry["Account"] for region, entry in registry.items()} == commercial
    trust = template["Resources"]["SageMakerExecutionRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
                      "Action": "sts:AssumeRole",
                      "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}}]
