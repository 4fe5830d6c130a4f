"""Deploy, status and rollback requests (greengrassv2 through Stubber, IoT and STS through moto, every
request through the strict checker), and bad documents stopped before any call that changes AWS."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY

from fleet import deploy_cli as deploy
from fleet.aws import FleetError
from fleet.components import REPO_ROOT
from fleet.deployments import Deployer, History
from fleet.documents import load_document, validated_request
from tests.fleet.helpers import ACCOUNT, COMPONENT_FOLDERS, REGION, RecordingAws, write_project

GROUP = "smartcam-test"
GROUP_ARN = f"arn:aws:iot:{REGION}:{ACCOUNT}:thinggroup/{GROUP}"


@pytest.fixture
def fleet_repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for folder in COMPONENT_FOLDERS:
        write_project(root, folder)
    return root


@pytest.fixture
def dev_document() -> dict[str, Any]:
    return load_document(REPO_ROOT / "recipes" / "dev.json")


def component_arn(name: str, version: str) -> str:
    owner = "aws" if name.startswith("aws.greengrass.") else ACCOUNT
    return f"arn:aws:greengrass:{REGION}:{owner}:components:{name}:versions:{version}"


def expect_published(aws: RecordingAws, document: dict[str, Any], missing: str | None = None) -> None:
    for name, spec in document["components"].items():
        arn = component_arn(name, spec["componentVersion"])
        if name == missing:
            aws.stub.add_client_error("describe_component", "ResourceNotFoundException", http_status_code=404,
                                      expected_params={"arn": arn})
        else:
            aws.stub.add_response("describe_component", {"arn": arn, "componentName": name}, {"arn": arn})


def expect_create(aws: RecordingAws, request: dict[str, Any], deployment_id: str) -> None:
    aws.stub.add_response("create_deployment", {"deploymentId": deployment_id, "iotJobId": f"job-{deployment_id}"},
                          {**request, "clientToken": ANY})


def expect_report(aws: RecordingAws, deployment_id: str, statuses: dict[str, tuple[str, str]],
                  deployment_status: str = "ACTIVE") -> None:
    aws.stub.add_response("get_deployment", {"deploymentId": deployment_id, "targetArn": GROUP_ARN,
                                             "deploymentStatus": deployment_status},
                          {"deploymentId": deployment_id})
    for thing, (status, reason) in sorted(statuses.items()):
        entry = {"deploymentId": deployment_id, "deploymentName": "smartcam", "coreDeviceExecutionStatus": status,
                 "targetArn": GROUP_ARN, "creationTimestamp": "2026-01-01T00:00:00Z",
                 "modifiedTimestamp": "2026-01-01T00:01:00Z"}
        if reason:
            entry["reason"] = reason
        aws.stub.add_response("list_effective_deployments", {"effectiveDeployments": [entry]},
                              {"coreDeviceThingName": thing})


def make_group(aws: RecordingAws, things: list[str]) -> None:
    iot = aws.session.client("iot", region_name=REGION)
    iot.create_thing_group(thingGroupName=GROUP)
    for thing in things:
        iot.create_thing(thingName=thing)
        iot.add_thing_to_thing_group(thingGroupName=GROUP, thingName=thing)


def retargeted(document: dict[str, Any]) -> dict[str, Any]:
    return {**document, "targetArn": GROUP_ARN}


def test_deploy_targets_the_thing_group_in_this_account_and_reports_every_device(aws, fleet_repo, dev_document):
    make_group(aws, ["cam-a", "cam-b"])
    expect_published(aws, dev_document)
    expect_create(aws, retargeted(dev_document), "d-1")
    expect_report(aws, "d-1", {"cam-a": ("IN_PROGRESS", ""), "cam-b": ("QUEUED", "")})
    expect_report(aws, "d-1", {"cam-a": ("SUCCEEDED", ""), "cam-b": ("FAILED", "COMPONENT_BROKEN: install failed")})
    lines: list[str] = []
    deployer = Deployer(aws, History(fleet_repo / "history"), sleep=lambda _: None, echo=lines.append)

    request = validated_request(dev_document, aws, [f"smartcam.{f}" for f in COMPONENT_FOLDERS], thing_group=GROUP)
    report = deployer.wait(deployer.deploy(request), timeout_s=60, poll_s=0)

    aws.stub.assert_no_pending_responses()
    assert request["targetArn"] == GROUP_ARN
    assert {d.thing: d.status for d in report.devices} == {"cam-a": "SUCCEEDED", "cam-b": "FAILED"}
    assert not report.succeeded
    assert any("cam-b: FAILED (COMPONENT_BROKEN: install failed)" in line for line in lines)
    assert aws.mutating_calls() == ["greengrassv2.CreateDeployment"]


def test_deploy_cli_exit_status_follows_the_devices(aws, fleet_repo, monkeypatch, capsys):
    document = load_document(REPO_ROOT / "recipes" / "prod.json")
    make_group(aws, ["cam-a"])
    expect_published(aws, document)
    expect_create(aws, retargeted(document), "d-2")
    expect_report(aws, "d-2", {"cam-a": ("SUCCEEDED", "")})
    monkeypatch.setattr(deploy.Aws, "connect", classmethod(lambda cls, **_: aws))

    status = deploy.main(["--root", str(fleet_repo), "--history", str(fleet_repo / "history"), "deploy",
                          str(REPO_ROOT / "recipes" / "prod.json"), "--thing-group", GROUP, "--poll", "0"])

    assert status == 0
    assert "1/1 devices succeeded" in capsys.readouterr().out


BAD_DOCUMENTS = {
    "unknown component": (lambda d: d["components"].update({"smartcam.Nope": {"componentVersion": "1.0.0"}}),
                          "'smartcam.Nope' is not in this repo"),
    "invalid merge JSON": (lambda d: d["components"]["smartcam.Runtime"].update(
        {"configurationUpdate": {"merge": "{not json"}}), "merge: not valid JSON"),
    "merge not an object": (lambda d: d["components"]["smartcam.Runtime"].update(
        {"configurationUpdate": {"merge": "[1]"}}), "merge: must be a JSON object"),
    "wrong ARN shape": (lambda d: d.update({"targetArn": "arn:aws:iot:eu-west-1:1234:group/smartcam"}),
                        "targetArn"),
    "account not 12 digits": (lambda d: d.update({"targetArn": "arn:aws:iot:eu-west-1:1234:thinggroup/smartcam"}),
                              "has the wrong shape"),
    "wrong failure policy": (lambda d: d["deploymentPolicies"].update({"failureHandlingPolicy": "ROLLBACKK"}),
                             "ROLLBACKK"),
    "abort threshold above 100": (lambda d: d["iotJobConfiguration"]["abortConfig"]["criteriaList"][0].update(
        {"thresholdPercentage": 150}), "above the maximum 100"),
}


@pytest.mark.parametrize("case", sorted(BAD_DOCUMENTS))
def test_a_bad_document_is_refused_before_any_call(aws, fleet_repo, dev_document, case):
    change, message = BAD_DOCUMENTS[case]
    document = copy.deepcopy(dev_document)
    change(document)
    aws.calls.clear()

    with pytest.raises(FleetError, match="invalid deployment document") as error:
        validated_request(document, aws, [f"smartcam.{f}" for f in COMPONENT_FOLDERS])

    assert message in str(error.value)
    assert aws.calls == []


def test_an_unpublished_version_is_refused_and_nothing_is_created(aws, fleet_repo, dev_document):
    expect_published(aws, dev_document, missing="smartcam.DynamoWriter")
    aws.calls.clear()

    with pytest.raises(FleetError, match=r"smartcam.DynamoWriter 1.0.0 is not published"):
        validated_request(dev_document, aws, [f"smartcam.{f}" for f in COMPONENT_FOLDERS])

    assert aws.mutating_calls() == []


def test_an_invalid_thing_group_override_is_refused(aws, fleet_repo, dev_document):
    with pytest.raises(FleetError, match="thing group name 'a/b' is invalid"):
        validated_request(dev_document, aws, [f"smartcam.{f}" for f in COMPONENT_FOLDERS], thing_group="a/b")
    assert aws.mutating_calls() == []


def test_missing_credentials_are_reported_before_any_call(aws_env, fleet_repo, monkeypatch, capsys):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    status = deploy.main(["--root", str(fleet_repo), "--region", REGION, "deploy",
                          str(REPO_ROOT / "recipes" / "dev.json")])

    assert status == 2
    assert "no AWS credentials found" in capsys.readouterr().err


def test_rollback_redeploys_the_previous_deployment_of_the_target(aws, fleet_repo, dev_document):
    previous = {**retargeted(dev_document), "components": copy.deepcopy(dev_document["components"])}
    previous["components"]["smartcam.SsdInference"]["componentVersion"] = "1.0.0"
    aws.stub.add_response("list_deployments", {"deployments": [
        {"deploymentId": "d-old", "targetArn": GROUP_ARN, "creationTimestamp": "2026-01-01T00:00:00Z"},
        {"deploymentId": "d-new", "targetArn": GROUP_ARN, "creationTimestamp": "2026-02-01T00:00:00Z",
         "isLatestForTarget": True},
    ]}, {"targetArn": GROUP_ARN, "historyFilter": "ALL"})
    aws.stub.add_response("get_deployment", {**previous, "deploymentId": "d-old", "deploymentStatus": "INACTIVE",
                                             "revisionId": "1"}, {"deploymentId": "d-old"})
    expect_published(aws, previous)
    expect_create(aws, previous, "d-rollback")
    deployer = Deployer(aws, History(fleet_repo / "history"), echo=lambda _: None)

    request = validated_request(deployer.previous_request(GROUP_ARN), aws, [f"smartcam.{f}" for f in COMPONENT_FOLDERS],
                                target_arn=GROUP_ARN)
    deployment_id = deployer.deploy(request)

    aws.stub.assert_no_pending_responses()
    assert deployment_id == "d-rollback"
    assert request == previous


def test_rollback_from_the_local_history(aws, fleet_repo, dev_document):
    history = History(fleet_repo / "history")
    first, second = retargeted(dev_document), copy.deepcopy(retargeted(dev_document))
    second["components"]["smartcam.Runtime"]["componentVersion"] = "1.0.1"
    history.record("d-1", first)
    history.record("d-2", second)

    assert Deployer(aws, history).previous_request(GROUP_ARN, use_history=True) == first
    with pytest.raises(FleetError, match="no previous deployment"):
        Deployer(aws, History(fleet_repo / "empty")).previous_request(GROUP_ARN, use_history=True)


def test_a_group_without_devices_reports_and_returns(aws, fleet_repo):
    make_group(aws, [])
    expect_report(aws, "d-3", {})
    lines: list[str] = []

    report = Deployer(aws, History(fleet_repo / "h"), echo=lines.append).wait("d-3", timeout_s=5, poll_s=0)

    assert report.devices == [] and "no core devices" in lines[-1]


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_the_repo_documents_are_valid_create_deployment_requests(name):
    document = json.loads((REPO_ROOT / "recipes" / f"{name}.json").read_text())
    from fleet.documents import problems_offline

    repo_components = {f"smartcam.{folder}" for folder in COMPONENT_FOLDERS}
    assert problems_offline(document, repo_components) == []
    assert set(document["components"]) >= repo_components
    assert json.loads(document["components"]["aws.greengrass.Nucleus"]["configurationUpdate"]["merge"])[
        "interpolateComponentConfiguration"] is True
    assert document["deploymentPolicies"]["failureHandlingPolicy"] == "ROLLBACK"
    job = document["iotJobConfiguration"]
    assert job["jobExecutionsRolloutConfig"]["exponentialRate"]["incrementFactor"] > 1
    assert job["abortConfig"]["criteriaList"] and job["timeoutConfig"]["inProgressTimeoutInMinutes"] > 0


def test_status_and_rollback_commands(aws, fleet_repo, dev_document, monkeypatch, capsys):
    make_group(aws, ["cam-a"])
    monkeypatch.setattr(deploy.Aws, "connect", classmethod(lambda cls, **_: aws))
    common = ["--root", str(fleet_repo), "--history", str(fleet_repo / "history")]
    aws.stub.add_response("list_deployments", {"deployments": [{"deploymentId": "d-9", "targetArn": GROUP_ARN}]},
                          {"targetArn": GROUP_ARN, "historyFilter": "LATEST_ONLY"})
    expect_report(aws, "d-9", {"cam-a": ("FAILED", "boom")})

    assert deploy.main([*common, "status", "--thing-group", GROUP]) == 1
    assert "cam-a" in capsys.readouterr().out

    history = History(fleet_repo / "history")
    history.record("d-8", retargeted(dev_document))
    history.record("d-9", {**retargeted(dev_document), "deploymentName": "broken"})
    expect_published(aws, dev_document)
    expect_create(aws, retargeted(dev_document), "d-10")

    status = deploy.main([*common, "rollback", "--thing-group", GROUP, "--from-history", "--no-wait"])

    assert status == 0
    aws.stub.assert_no_pending_responses()
    assert history.entries(GROUP_ARN)[-1]["deploymentId"] == "d-10"


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_the_same_documents_load_in_the_local_runtime(name):
    from local_greengrass.deployment.documents import load_document as load_local

    document = json.loads((REPO_ROOT / "recipes" / f"{name}.json").read_text())
    local = load_local(REPO_ROOT / "recipes" / f"{name}.json")
    assert {n: c.version for n, c in local.components.items()} == {
        n: spec["componentVersion"] for n, spec in document["components"].items()}


def test_a_bare_wildcard_in_access_control_is_refused_unless_the_operator_allows_it(fleet_repo, capsys):
    from fleet.documents import problems_offline

    document = json.loads((REPO_ROOT / "recipes" / "dev.json").read_text())
    document["components"]["smartcam.DynamoWriter"]["configurationUpdate"] = {"merge": json.dumps(
        {"accessControl": {"aws.greengrass.ipc.pubsub": {"p": {"operations": ["*"], "resources": ["*"]}}}})}
    repo_components = {f"smartcam.{folder}" for folder in COMPONENT_FOLDERS}
    problems = problems_offline(document, repo_components)
    assert len(problems) == 2 and all("contains a bare '*'" in p for p in problems)
    assert problems[0].startswith("components['smartcam.DynamoWriter'].configurationUpdate.merge: accessControl.")
    assert problems_offline(document, repo_components, allow_wildcard_access=True) == []

    path = fleet_repo / "wildcard.json"
    path.write_text(json.dumps(document))
    assert deploy.main(["--root", str(REPO_ROOT), "validate", str(path)]) == 1
    assert "bare '*'" in capsys.readouterr().err
    assert deploy.main(["--root", str(REPO_ROOT), "validate", str(path), "--allow-wildcard-access"]) == 0
