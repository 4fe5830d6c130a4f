"""accessControl matching, as the nucleus does it."""

from __future__ import annotations

import pytest

from local_greengrass.ipc.authorization import (
    MQTT_PROXY,
    PUBSUB,
    AuthorizationError,
    check,
    is_authorized,
    mqtt_filter_matches,
    resource_matches,
)

PUBLISH = "aws.greengrass#PublishToTopic"
SUBSCRIBE = "aws.greengrass#SubscribeToTopic"
IOT_PUBLISH = "aws.greengrass#PublishToIoTCore"


@pytest.mark.parametrize(
    ("service", "pattern", "resource", "expected"),
    [
        (PUBSUB, "smartcam/frames", "smartcam/frames", True),
        (PUBSUB, "smartcam/frames", "smartcam/frames2", False),
        (PUBSUB, "*", "anything/at/all", True),
        (PUBSUB, "smartcam/*", "smartcam/a/b", True),
        (PUBSUB, "smartcam/*/status", "smartcam/cam1/status", True),
        (PUBSUB, "smartcam/*/status", "smartcam/cam1/other", False),
        (PUBSUB, "smartcam/+/status", "smartcam/cam1/status", True),
        (PUBSUB, "smartcam/+/status", "smartcam/a/b/status", False),
        (PUBSUB, "smartcam/#", "smartcam", True),
        (PUBSUB, "smartcam/#", "smartcam/a/b", True),
        (PUBSUB, "smartcam/#", "smartcamera/a", False),
        (PUBSUB, "smartcam/+", "smartcam/+", True),  # a subscription filter allowed by the same filter
        (PUBSUB, "smartcam/a", "smartcam/+", False),
        (MQTT_PROXY, "smartcam/+/capture", "smartcam/cam1/capture", True),
        (MQTT_PROXY, "smartcam/${iot:thingName}/detections", "smartcam/cam1/detections", True),
        (MQTT_PROXY, "smartcam/${iot:thingName}/detections", "smartcam/cam2/detections", False),
        (MQTT_PROXY, "literal/${*}", "literal/*", True),
        (MQTT_PROXY, "literal/${*}", "literal/x", False),
        ("aws.greengrass.SecretManager", "secret+", "secretX", False),  # MQTT wildcards only for MQTT services
    ],
)
def test_resource_matching(service, pattern, resource, expected):
    assert resource_matches(service, pattern, resource, thing_name="cam1") is expected


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [("a/+/c", "a/b/c", True), ("a/+", "a/b/c", False), ("#", "a/b", True), ("a/#/c", "a/b/c", False),
     ("+/+", "/x", True), ("a/b", "a/b/", False)],
)
def test_mqtt_filter_matching(topic_filter, topic, expected):
    assert mqtt_filter_matches(topic_filter, topic) is expected


ACCESS = {
    PUBSUB: {
        "com.example:pubsub:1": {"operations": [PUBLISH], "resources": ["smartcam/detections"]},
        "com.example:pubsub:2": {"operations": [SUBSCRIBE], "resources": ["smartcam/capture/+"]},
    },
    MQTT_PROXY: {"com.example:mqtt:1": {"operations": ["*"], "resources": ["smartcam/cam1/#"]}},
}


@pytest.mark.parametrize(
    ("service", "operation", "resource", "expected"),
    [
        (PUBSUB, PUBLISH, "smartcam/detections", True),
        (PUBSUB, SUBSCRIBE, "smartcam/detections", False),  # operation not in that policy
        (PUBSUB, SUBSCRIBE, "smartcam/capture/commands", True),
        (PUBSUB, PUBLISH, "smartcam/capture/commands", False),
        (MQTT_PROXY, IOT_PUBLISH, "smartcam/cam1/detections", True),
        (MQTT_PROXY, "aws.greengrass#SubscribeToIoTCore", "smartcam/cam1/capture", True),
        (MQTT_PROXY, IOT_PUBLISH, "smartcam/cam2/detections", False),
        ("aws.greengrass.ipc.other", PUBLISH, "smartcam/detections", False),
    ],
)
def test_policy_table(service, operation, resource, expected):
    assert is_authorized(ACCESS, service, operation, resource) is expected


@pytest.mark.parametrize("access", [None, {}, "junk", {PUBSUB: "junk"}, {PUBSUB: {"p": {"operations": "*"}}}])
def test_missing_or_malformed_access_control_denies(access):
    assert not is_authorized(access, PUBSUB, PUBLISH, "t")


def test_denial_message_is_the_nucleus_text():
    with pytest.raises(AuthorizationError) as denied:
        check("smartcam.CameraIngest", ACCESS, PUBSUB, PUBLISH, "smartcam/frames")
    assert str(denied.value) == (
        "Principal smartcam.CameraIngest is not authorized to perform "
        "aws.greengrass.ipc.pubsub:aws.greengrass#PublishToTopic on resource smartcam/frames"
    )
