"""The writer's recipe grants what the component does, and nothing more."""

import yaml

from repo_layout import REPO_ROOT
from smartcam import topics

RECIPE = REPO_ROOT / "components" / "DynamoWriter" / "recipe.yaml"


def test_access_control_is_least_privilege():
    access = yaml.safe_load(RECIPE.read_text())["ComponentConfiguration"]["DefaultConfiguration"]["accessControl"]
    assert set(access) == {"aws.greengrass.ipc.pubsub", "aws.greengrass.ipc.mqttproxy"}
    policies = [p for service in access.values() for p in service.values()]
    granted = {(op, res) for p in policies for op in p["operations"] for res in p["resources"]}
    assert granted == {
        ("aws.greengrass#SubscribeToTopic", topics.DETECTIONS),
        ("aws.greengrass#SubscribeToTopic", topics.EVENTS),
        ("aws.greengrass#SubscribeToTopic", topics.DATA_CAPTURES),
        ("aws.greengrass#PublishToTopic", topics.RECEIPTS),
        ("aws.greengrass#PublishToTopic", "smartcam/health/smartcam.DynamoWriter"),
        ("aws.greengrass#PublishToTopic", topics.CLOUDWATCH_METRIC_PUT),  # its metrics (smartcam.metrics)
        ("aws.greengrass#PublishToIoTCore", "smartcam/{iot:thingName}/writer"),
        # StatusReporter's problem reports (spoolItemsLost), see smartcam.telemetry
        ("aws.greengrass#PublishToIoTCore", "smartcam/{iot:thingName}/status/smartcam.DynamoWriter"),
    }
