"""`scripts/deploy.py canary` in the cloud: CreateDeployment to the canary thing group, then to the fleet
group (greengrassv2 through Stubber, IoT and STS through moto, every request through the strict checker),
with the devices' IoT Core messages faked; and bad options refused before any call that changes AWS."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY

from fleet import canary_cli
from fleet import deploy_cli as deploy
from fleet.canary_policy import CanaryThresholds
from fleet.canary_watch import HealthWatch
from fleet.components import REPO_ROOT
from fleet.documents import load_document
from tests.fleet.canary_fakes import FakeConnection, summary
from tests.fleet.helpers import ACCOUNT, REGION, RecordingAws, write_project

FOLDERS = ("Runtime", "SsdModelStore", "CameraIngest", "SsdInference", "DynamoWriter", "EventTracker")
CANARY, FLEET = "smartcam-canary", "smartcam-test"
DEVICE = "cam-1"


def arn(group: str) -> str:
    return f"arn:aws:iot:{REGION}:{ACCOUNT}:thinggroup/{group}"


@pytest.fixture
def fleet_repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for folder in FOLDERS:
        write_project(root, folder)
    return root


def make_groups(aws: RecordingAws) -> None:
    iot = aws.session.client("iot", region_name=REGION)
    for group, thing in ((CANARY, DEVICE), (FLEET, "cam-2")):
        iot.create_thing_group(thingGroupName=group)
        iot.create_thing(thingName=thing)
        iot.add_thing_to_thing_group(thingGroupName=group, thingName=thing)


def expect_deployment(aws: RecordingAws, document: dict[str, Any], group: str, model_version: str,
                      deployment_id: str, thing: str) -> None:
    request = {**document, "targetArn": arn(group)}
    request["components"] = {**document["components"],
                             "smartcam.SsdModelStore": {"componentVersion": model_version}}
    for name, spec in request["components"].items():
        owner = "aws" if name.startswith("aws.greengrass.") else ACCOUNT
        component = f"arn:aws:greengrass:{REGION}:{owner}:components:{name}:versions:{spec['componentVersion']}"
        aws.stub.add_response("describe_component", {"arn": component, "componentName": name}, {"arn": component})
    aws.stub.add_response("create_deployment", {"deploymentId": deployment_id}, {**request, "clientToken": ANY})
    aws.stub.add_response("get_deployment", {"deploymentId": deployment_id, "targetArn": arn(group),
                                             "deploymentStatus": "ACTIVE"}, {"deploymentId": deployment_id})
    entry = {"deploymentId": deployment_id, "deploymentName": "smartcam", "coreDeviceExecutionStatus": "SUCCEEDED",
             "targetArn": arn(group), "creationTimestamp": "2026-01-01T00:00:00Z",
             "modifiedTimestamp": "2026-01-01T00:01:00Z"}
    aws.stub.add_response("list_effective_deployments", {"effectiveDeployments": [entry]},
                          {"coreDeviceThingName": thing})


def fake_watching(baseline_count: int, canary_count: int) -> Any:
    """The devices' messages: the baseline's frames now, the new model's once the watch drained."""
    def factory(endpoint: Any) -> Any:
        @contextmanager
        def watch(things: list[str]) -> Iterator[HealthWatch]:
            connection = FakeConnection()
            for _ in range(3):
                connection.messages.put(summary("1.0.0", baseline_count, thing=DEVICE))
            connection.messages.later = [summary("1.1.0", canary_count, thing=DEVICE) for _ in range(3)]
            counter = itertools.count()
            health = HealthWatch(connection, things, clock=lambda: next(counter) * 0.1)
            health.subscribe()
            yield health
        return watch
    return factory


def canary_args(fleet_repo: Path, *extra: str) -> list[str]:
    return ["--root", str(fleet_repo), "--history", str(fleet_repo / "history"), "canary",
            str(REPO_ROOT / "recipes" / "dev.json"), "--model-version", "1.1.0", "--canary-group", CANARY,
            "--fleet-group", FLEET, "--watch-s", "1", "--baseline-s", "1", "--min-frames", "3", "--poll", "0",
            "--endpoint", "example-ats.iot.eu-west-1.amazonaws.com", "--cert", "op.pem", "--key", "op.key", *extra]


def test_a_good_model_goes_to_the_canary_group_then_to_the_fleet_group(aws, fleet_repo, monkeypatch, capsys):
    document = load_document(REPO_ROOT / "recipes" / "dev.json")
    make_groups(aws)
    expect_deployment(aws, document, CANARY, "1.1.0", "d-canary", DEVICE)
    expect_deployment(aws, document, FLEET, "1.1.0", "d-fleet", "cam-2")
    monkeypatch.setattr(deploy.Aws, "connect", classmethod(lambda cls, **_: aws))
    monkeypatch.setattr(canary_cli, "watching", fake_watching(1, 1))

    status = deploy.main(canary_args(fleet_repo))

    out = capsys.readouterr().out
    assert status == 0, out
    aws.stub.assert_no_pending_responses()
    assert aws.mutating_calls() == ["greengrassv2.CreateDeployment", "greengrassv2.CreateDeployment"]
    assert "decision: PROMOTE to the fleet (every check passed)" in out
    assert f"fleet deployment of 1.1.0 to {FLEET}: done: deployment d-fleet ACTIVE: cam-2 SUCCEEDED" in out


def test_a_model_that_detects_nothing_is_rolled_back_on_the_canary_group_only(aws, fleet_repo, monkeypatch, capsys):
    document = load_document(REPO_ROOT / "recipes" / "dev.json")
    make_groups(aws)
    expect_deployment(aws, document, CANARY, "1.1.0", "d-canary", DEVICE)
    expect_deployment(aws, document, CANARY, "1.0.0", "d-back", DEVICE)
    monkeypatch.setattr(deploy.Aws, "connect", classmethod(lambda cls, **_: aws))
    monkeypatch.setattr(canary_cli, "watching", fake_watching(2, 0))

    status = deploy.main(canary_args(fleet_repo))

    out = capsys.readouterr().out
    assert status == 1, out
    aws.stub.assert_no_pending_responses()
    assert ("FAIL detection rate  0.00 per frame vs baseline 2.00: -100.0 % (allowed -30.0 % .. +100.0 %)"
            in out)
    assert f"rollback of {CANARY} to 1.0.0: done" in out


@pytest.mark.parametrize(("extra", "problem"), [
    (["--watch-s", "0"], "watchS: must be greater than 0"),
    (["--max-detection-rate-drop", "2"], "maxDetectionRateDrop: must be less than or equal to 1"),
    (["--model-version", "latest"], "'latest' is not a component version"),
    (["--model-version", "1.0.0"], "already deploys smartcam.SsdModelStore 1.0.0"),
    (["--fleet-group", CANARY], "must differ"),
    (["--fleet-group", "bad group"], "thing group name 'bad group' is invalid"),
    (["--local", "nothing-here"], "expected GROUP=ROOT"),
    (["--local", f"{CANARY}=/r1"], f"--local given, but not for {FLEET}"),
])
def test_bad_options_are_refused_before_any_call(aws, fleet_repo, monkeypatch, capsys, extra, problem):
    monkeypatch.setattr(deploy.Aws, "connect", classmethod(lambda cls, **_: aws))
    status = deploy.main(canary_args(fleet_repo, *extra))
    assert status == 2
    assert problem in capsys.readouterr().err
    assert aws.mutating_calls() == []


def test_the_cloud_needs_an_operator_certificate_to_hear_the_devices(aws, fleet_repo, monkeypatch, capsys):
    make_groups(aws)
    monkeypatch.setattr(deploy.Aws, "connect", classmethod(lambda cls, **_: aws))
    args = canary_args(fleet_repo)
    status = deploy.main(args[:args.index("--endpoint")])
    assert status == 2
    assert "pass --endpoint, --cert and --key" in capsys.readouterr().err
    assert aws.mutating_calls() == []


def test_a_thresholds_file_is_read_and_an_option_given_wins(tmp_path):
    path = tmp_path / "thresholds.json"
    path.write_text('{"watchS": 30, "maxErrors": 2, "maxDetectionRateRise": null}')
    args = deploy.parse_args(["canary", "doc.json", "--model-version", "1.1.0", "--canary-group", CANARY,
                              "--fleet-group", FLEET, "--thresholds", str(path), "--watch-s", "12"])
    thresholds = canary_cli.thresholds_from(args)
    assert thresholds == CanaryThresholds.from_values({"watchS": 12, "maxErrors": 2, "maxDetectionRateRise": None})
