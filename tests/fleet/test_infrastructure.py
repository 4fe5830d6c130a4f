"""infrastructure/fleet.yaml: cfn-lint clean, and its IoT policies keep each device on its own topics."""

from __future__ import annotations

import json
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


# --- metrics: the token exchange role may put them, the dashboard and alarms read them ------------------

def metric_names_published() -> set[str]:
    """Every metric name a component declares (smartcam.metrics), and those the module adds itself."""
    declared = set()
    for source in (REPO_ROOT / "components").glob("*/*/app.py"):
        declared |= set(re.findall(r'metrics\.(?:counter|total|level)\("([A-Za-z]+)"', source.read_text()))
    declared |= set(re.findall(r'"(Frames[A-Za-z]+)": "frames', (REPO_ROOT / "components/SsdInference/ssd_inference"
                                                                  "/app.py").read_text()))
    return declared | {"Errors", "LatencyP50", "LatencyP95"}


def queries(template: dict[str, Any]) -> dict[str, str]:
    """Alarm name -> its Metrics Insights query, as the stack's parameters' defaults make it."""
    found = {}
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            [query] = resource["Properties"]["Metrics"]
            found[name] = query["Expression"]["Fn::Sub"].replace("${MetricsNamespace}", "SmartCam")
    return found


def test_the_devices_may_put_metric_data_in_their_namespace_only(template):
    role = template["Resources"]["TokenExchangeRole"]["Properties"]
    [statement] = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]
                   if "cloudwatch:PutMetricData" in str(s["Action"])]
    assert statement["Action"] == "cloudwatch:PutMetricData"
    assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": {"Ref": "MetricsNamespace"}}}
    assert template["Parameters"]["MetricsNamespace"]["Default"] == "SmartCam"  # the components' default


def test_each_alarm_reads_a_metric_the_components_publish(template):
    published = metric_names_published()
    assert {"FramesIn", "FramesGated", "FramesInferred", "SpoolAge", "EventsOpen"} <= published
    found = queries(template)
    assert set(found) == {"CameraSilentAlarm", "SpoolGrowingAlarm", "EventSpoolGrowingAlarm", "ErrorsAlarm"}
    for query in found.values():
        [metric] = re.findall(r"SELECT [A-Z]+\((\w+)\) FROM SCHEMA\(\"SmartCam\"", query)
        assert metric in published, query


def test_a_silent_camera_alarms_when_its_frames_or_its_metrics_stop(template):
    alarm = template["Resources"]["CameraSilentAlarm"]["Properties"]
    assert "SUM(FramesIn)" in queries(template)["CameraSilentAlarm"]
    assert "GROUP BY Thing, Camera" in queries(template)["CameraSilentAlarm"]
    assert alarm["ComparisonOperator"] == "LessThanThreshold" and alarm["Threshold"] == 1
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == {"Ref": "CameraSilentMinutes"}
    errors = template["Resources"]["ErrorsAlarm"]["Properties"]
    assert errors["ComparisonOperator"] == "GreaterThanThreshold" and errors["Threshold"] == 0


def test_the_dashboard_is_json_that_shows_every_alarm_and_reads_published_metrics(template):
    body, variables = template["Resources"]["MetricsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    text = body.replace("${Ns}", variables["Ns"]["Fn::Sub"].replace("${MetricsNamespace}", "SmartCam"))
    text = re.sub(r"\$\{(\w+)\.Arn\}", rf"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:\1", text)
    widgets = json.loads(text.replace("${AWS::Region}", REGION))["widgets"]
    [alarms] = [w for w in widgets if w["type"] == "alarm"]
    assert {arn.rsplit(":", 1)[1] for arn in alarms["properties"]["alarms"]} == set(queries(template))
    expressions = [m[0]["expression"] for w in widgets if w["type"] == "metric" for m in w["properties"]["metrics"]]
    assert len(expressions) >= 6
    for expression in expressions:
        [metric] = re.findall(r"SELECT [A-Z]+\((\w+)\) FROM SCHEMA\(\"SmartCam\"", expression)
        assert metric in metric_names_published(), expression
