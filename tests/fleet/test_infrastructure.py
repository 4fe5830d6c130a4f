"""infrastructure/fleet.yaml: cfn-lint clean, and its IoT policies keep each device on its own topics."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

from fleet.components import REPO_ROOT

TEMPLATE = REPO_ROOT / "infrastructure" / "fleet.yaml"
REGION, ACCOUNT = "eu-west-1", "123456789012"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    decoded, errors = decode_str(TEMPLATE.read_text())
    assert not errors
    return decoded


def test_cfn_lint_finds_nothing():
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    done = subprocess.run([str(cfn_lint), str(TEMPLATE)], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def resolve(value: Any, thing: str) -> str:
    """A policy resource as IoT evaluates it for a connection of ``thing``."""
    text = value["Fn::Sub"] if isinstance(value, dict) else value
    text = text.replace("${AWS::Partition}", "aws").replace("${AWS::Region}", REGION)
    text = text.replace("${AWS::AccountId}", ACCOUNT).replace("${!iot:Connection.Thing.ThingName}", thing)
    assert "${" not in text, text
    return text


def allowed(template: dict[str, Any], policy: str, thing: str, action: str, resource: str) -> bool:
    statements = template["Resources"][policy]["Properties"]["PolicyDocument"]["Statement"]
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if statement["Effect"] != "Allow" or action not in actions:
            continue
        for pattern in resources:
            if isinstance(pattern, dict) and "Fn::GetAtt" in pattern:
                continue
            regex = ".*".join(re.escape(part) for part in resolve(pattern, thing).split("*"))
            if re.fullmatch(regex, resource):
                return True
    return False


def topic(name: str, kind: str = "topic") -> str:
    return f"arn:aws:iot:{REGION}:{ACCOUNT}:{kind}/{name}"


@pytest.mark.parametrize(("action", "resource", "expected"), [
    ("iot:Connect", f"arn:aws:iot:{REGION}:{ACCOUNT}:client/cam-1", True),
    ("iot:Connect", f"arn:aws:iot:{REGION}:{ACCOUNT}:client/cam-2", False),
    ("iot:Publish", topic("smartcam/cam-1/capture/status"), True),
    ("iot:Publish", topic("smartcam/cam-1/detections"), True),
    ("iot:Publish", topic("smartcam/cam-2/capture/status"), False),
    ("iot:Publish", topic("smartcam/fleet/capture"), False),
    ("iot:Subscribe", topic("smartcam/cam-1/capture", "topicfilter"), True),
    ("iot:Subscribe", topic("smartcam/fleet/capture", "topicfilter"), True),
    ("iot:Subscribe", topic("smartcam/cam-2/capture", "topicfilter"), False),
    ("iot:Subscribe", topic("smartcam/#", "topicfilter"), False),
    ("iot:Receive", topic("smartcam/fleet/capture"), True),
    ("iot:Receive", topic("smartcam/cam-2/detections"), False),
    ("iot:Publish", topic("$aws/things/cam-1/jobs/get"), True),
    ("iot:Publish", topic("$aws/things/cam-2/jobs/get"), False),
])
def test_a_core_device_is_kept_on_its_own_topics(template, action, resource, expected):
    assert allowed(template, "CoreDevicePolicy", "cam-1", action, resource) is expected


@pytest.mark.parametrize(("action", "resource", "expected"), [
    ("iot:Publish", topic("smartcam/cam-1/capture"), True),
    ("iot:Publish", topic("smartcam/fleet/capture"), True),
    ("iot:Publish", topic("smartcam/cam-1/capture/status"), False),
    ("iot:Subscribe", topic("smartcam/+/capture/status", "topicfilter"), True),
    ("iot:Connect", f"arn:aws:iot:{REGION}:{ACCOUNT}:client/operator-abc", True),
    ("iot:Connect", f"arn:aws:iot:{REGION}:{ACCOUNT}:client/cam-1", False),
])
def test_the_operator_may_command_and_watch_but_not_impersonate_devices(template, action, resource, expected):
    assert allowed(template, "OperatorPolicy", "operator", action, resource) is expected


def test_the_artifact_bucket_is_named_like_gdk_private_and_encrypted(template):
    bucket = template["Resources"]["ArtifactBucket"]["Properties"]
    assert bucket["BucketName"] == {"Fn::Sub": "${ArtifactBucketPrefix}-${AWS::Region}-${AWS::AccountId}"}
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_the_token_exchange_role_uses_the_writer_policy_by_reference(template):
    role = template["Resources"]["TokenExchangeRole"]["Properties"]
    principal = role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]
    assert principal == "credentials.iot.amazonaws.com"
    assert role["ManagedPolicyArns"] == [{"Ref": "WriterPolicyArn"}]
    inline = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    actions = [a for s in inline for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]
    assert not [a for a in actions if a.startswith("dynamodb:")]  # lives in infrastructure/dynamodb.yaml
    alias = template["Resources"]["TokenExchangeRoleAlias"]["Properties"]
    assert alias["RoleArn"] == {"Fn::GetAtt": ["TokenExchangeRole", "Arn"]}
