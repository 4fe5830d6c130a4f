"""The tracker's recipe grants what the component does, and nothing more; its defaults are its settings'."""

import yaml

from event_tracker.settings import EventTrackerConfig
from repo_layout import REPO_ROOT
from smartcam import topics
from smartcam.config import validate_config

RECIPE = REPO_ROOT / "components" / "EventTracker" / "recipe.yaml"


def defaults() -> dict:
    return yaml.safe_load(RECIPE.read_text())["ComponentConfiguration"]["DefaultConfiguration"]


def test_access_control_is_least_privilege():
    access = defaults()["accessControl"]
    assert set(access) == {"aws.greengrass.ipc.pubsub", "aws.greengrass.ipc.mqttproxy"}
    policies = [p for service in access.values() for p in service.values()]
    granted = {(op, res) for p in policies for op in p["operations"] for res in p["resources"]}
    assert granted == {
        ("aws.greengrass#SubscribeToTopic", topics.DETECTIONS),
        ("aws.greengrass#SubscribeToTopic", topics.RECEIPTS),
        ("aws.greengrass#PublishToTopic", topics.EVENTS),
        ("aws.greengrass#PublishToTopic", topics.DATA_CAPTURES),
        ("aws.greengrass#PublishToTopic", topics.health("smartcam.EventTracker")),
        ("aws.greengrass#PublishToTopic", topics.CLOUDWATCH_METRIC_PUT),
        ("aws.greengrass#PublishToIoTCore", topics.iot_events("{iot:thingName}")),
        ("aws.greengrass#PublishToIoTCore", topics.iot_component_status("{iot:thingName}", "smartcam.EventTracker")),
    }


def test_the_recipe_defaults_are_the_settings_defaults():
    assert validate_config(EventTrackerConfig, defaults()) == EventTrackerConfig()


def test_the_store_and_the_snapshots_live_in_the_work_folder_beside_the_app():
    manifests = yaml.safe_load(RECIPE.read_text())["Manifests"]
    setenv = manifests[0]["Lifecycle"]["run"]["Setenv"]
    assert setenv == {"SMARTCAM_EVENTS_PATH": "{work:path}/events.sqlite3",
                      "SMARTCAM_SNAPSHOTS_DIR": "{work:path}/snapshots",
                      "SMARTCAM_CAPTURES_PATH": "{work:path}/captures.sqlite3",
                      "SMARTCAM_CAPTURES_DIR": "{work:path}/captures"}


def test_data_capture_is_off_by_default():
    assert defaults()["dataCapture"]["enabled"] is False
