"""The strict request checker catches what botocore's Stubber lets through (patterns, enums, max)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

from fleet import checker
from fleet.checker import RequestRejected

GROUP_ARN = "arn:aws:iot:eu-west-1:123456789012:thinggroup/smartcam-dev"
RECIPE = {"RecipeFormatVersion": "2020-01-25", "ComponentName": "smartcam.Runtime", "ComponentVersion": "1.0.0"}


@pytest.fixture
def greengrass():
    return boto3.client("greengrassv2", region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b")


def deployment(**changes):
    request = {"targetArn": GROUP_ARN, "components": {"smartcam.Runtime": {"componentVersion": "1.0.0"}},
               "deploymentPolicies": {"failureHandlingPolicy": "ROLLBACK"}}
    request.update(changes)
    return request


WRONG = {
    "targetArn pattern": deployment(targetArn="not-an-arn"),
    "failureHandlingPolicy enum": deployment(deploymentPolicies={"failureHandlingPolicy": "ROLLBACKK"}),
    "incrementFactor max": deployment(iotJobConfiguration={"jobExecutionsRolloutConfig": {"exponentialRate": {
        "baseRatePerMinute": 1, "incrementFactor": 9.0, "rateIncreaseCriteria": {"numberOfSucceededThings": 1}}}}),
    "abort failureType enum": deployment(iotJobConfiguration={"abortConfig": {"criteriaList": [{
        "failureType": "BROKEN", "action": "CANCEL", "thresholdPercentage": 10, "minNumberOfExecutedThings": 1}]}}),
    "merge not JSON": deployment(components={"smartcam.Runtime": {"componentVersion": "1.0.0",
                                                                  "configurationUpdate": {"merge": "{x"}}}),
    "version not semver": deployment(components={"smartcam.Runtime": {"componentVersion": "latest"}}),
}


@pytest.mark.parametrize("case", sorted(WRONG))
def test_stubber_accepts_what_the_checker_rejects(greengrass, case):
    request = WRONG[case]
    with Stubber(greengrass) as stub:
        stub.add_response("create_deployment", {"deploymentId": "d"}, request)
        greengrass.create_deployment(**request)  # botocore's own validation lets it through

    problems = checker.check_request(greengrass.meta.service_model.operation_model("CreateDeployment"), request)
    assert problems, case


def test_a_valid_request_has_no_problems(greengrass):
    checker.check(greengrass, "CreateDeployment", deployment())


def test_an_installed_checker_stops_the_request_before_it_is_sent(greengrass):
    checker.install(greengrass)
    request = WRONG["failureHandlingPolicy enum"]
    with Stubber(greengrass) as stub:
        stub.add_response("create_deployment", {"deploymentId": "d"}, request)
        with pytest.raises(RequestRejected, match="ROLLBACKK"):
            greengrass.create_deployment(**request)
        with pytest.raises(AssertionError):
            stub.assert_no_pending_responses()  # the stubbed response was never consumed: nothing was sent


def test_unknown_members_missing_members_and_types_are_reported(greengrass):
    problems = checker.check_request(
        greengrass.meta.service_model.operation_model("CreateDeployment"),
        {"components": {"x": {"componentVersion": 1}}, "bogus": True},
    )
    text = "\n".join(problems)
    assert "targetArn: required" in text
    assert "bogus: unknown parameter" in text
    assert "expected a string, got int" in text


def test_recipes_are_checked_for_name_version_format_and_size(greengrass):
    checker.check(greengrass, "CreateComponentVersion", {"inlineRecipe": json.dumps(RECIPE).encode()})
    for change, message in [({"ComponentName": "bad name"}, "ComponentName"),
                            ({"ComponentVersion": "NEXT_PATCH"}, "ComponentVersion"),
                            ({"RecipeFormatVersion": "2021-01-01"}, "RecipeFormatVersion"),
                            ({"ComponentDescription": "x" * 17000}, "limit is 16000")]:
        with pytest.raises(RequestRejected, match=message):
            checker.check(greengrass, "CreateComponentVersion", {"inlineRecipe": json.dumps({**RECIPE, **change})})
