"""PublishToIoTCore / SubscribeToIoTCore through the runtime's bridge to mosquitto (the IoT Core stand-in)."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from awscrt import mqtt5
from awsiot import mqtt5_client_builder

from local_greengrass.ipc.server import IpcServer
from local_greengrass.standins.mosquitto import Mosquitto
from tests.local_greengrass.ipc.helpers import bridged_server

pytestmark = pytest.mark.integration

THING = "cam1"
TIMEOUT = 60


class MqttClient:
    """An outside MQTT client, as an operator or another device would be: awsiotsdk mqtt5 with mTLS."""

    def __init__(self, broker: Mosquitto, identity: str) -> None:
        cert, key = broker.issue_client_cert(identity)
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        connected = threading.Event()
        self._stopped = threading.Event()
        self.client = mqtt5_client_builder.mtls_from_path(
            endpoint=broker.host,
            port=broker.port,
            cert_filepath=str(cert),
            pri_key_filepath=str(key),
            ca_filepath=str(broker.ca_path),
            client_id=identity,
            enable_metrics_collection=False,
            on_publish_received=lambda data: self.messages.put(
                (data.publish_packet.topic, bytes(data.publish_packet.payload))
            ),
            on_lifecycle_connection_success=lambda data: connected.set(),
            on_lifecycle_stopped=lambda data: self._stopped.set(),
        )
        self.client.start()
        assert connected.wait(TIMEOUT), "MQTT client could not connect to mosquitto"

    def subscribe(self, topic_filter: str) -> None:
        subscription = mqtt5.Subscription(topic_filter=topic_filter, qos=mqtt5.QoS.AT_LEAST_ONCE)
        packet = mqtt5.SubscribePacket(subscriptions=[subscription])
        self.client.subscribe(packet).result(TIMEOUT)

    def publish(self, topic: str, payload: bytes) -> mqtt5.PubackPacket:
        packet = mqtt5.PublishPacket(topic=topic, payload=payload, qos=mqtt5.QoS.AT_LEAST_ONCE)
        return self.client.publish(packet).result(TIMEOUT).puback

    def stop(self) -> None:
        self.client.stop()
        self._stopped.wait(TIMEOUT)


@pytest.fixture
def server(broker: Mosquitto, short_dir: Path, config) -> Iterator[IpcServer]:
    """Overrides the plain server of conftest: this one bridges to mosquitto as thing cam1."""
    with bridged_server(broker, short_dir, config, THING) as bridged:
        yield bridged


@pytest.fixture
def operator(broker: Mosquitto) -> Iterator[MqttClient]:
    client = MqttClient(broker, "operator")
    yield client
    client.stop()


def mqtt_access(*resources: str) -> dict:
    return {"aws.greengrass.ipc.mqttproxy": {"test:mqtt:1": {"operations": ["*"], "resources": list(resources)}}}


def test_subscribe_to_iot_core_receives_mqtt_messages(server, config, spawn_client, operator):
    access = mqtt_access("smartcam/${iot:thingName}/capture", "smartcam/fleet/#")
    config.set_component("Capture", {"accessControl": access})
    component = spawn_client(server.add_component("Capture"))
    component.ok("subscribe_iot", topic=f"smartcam/{THING}/capture", name="own")
    component.ok("subscribe_iot", topic="smartcam/fleet/#", name="fleet")

    for n in range(3):
        puback = operator.publish(f"smartcam/{THING}/capture", json.dumps({"n": n}).encode())
        assert puback.reason_code in (mqtt5.PubackReasonCode.SUCCESS, mqtt5.PubackReasonCode.NO_MATCHING_SUBSCRIBERS)
    operator.publish("smartcam/fleet/capture", b'{"fleet": true}')

    own = component.ok("wait_events", name="own", count=3, timeout=TIMEOUT)
    assert own == [{"topic": f"smartcam/{THING}/capture", "payload": json.dumps({"n": n})} for n in range(3)]
    fleet = component.ok("wait_events", name="fleet", count=1, timeout=TIMEOUT)
    assert fleet == [{"topic": "smartcam/fleet/capture", "payload": '{"fleet": true}'}]

    denied = component.call("subscribe_iot", topic="smartcam/cam2/capture")
    assert denied["error"] == "UnauthorizedError"
    assert "aws.greengrass.ipc.mqttproxy:aws.greengrass#SubscribeToIoTCore" in denied["message"]


def test_publish_to_iot_core_reaches_an_mqtt_subscriber(server, config, spawn_client, operator):
    operator.subscribe("smartcam/#")
    config.set_component("Writer", {"accessControl": mqtt_access("smartcam/*")})
    component = spawn_client(server.add_component("Writer"))
    component.ok("publish_iot", topic=f"smartcam/{THING}/detections", payload='{"label": "person"}')
    assert operator.messages.get(timeout=TIMEOUT) == (f"smartcam/{THING}/detections", b'{"label": "person"}')

    # allowed by the recipe but not by the broker's policy for this thing: the PUBACK refusal surfaces
    refused = component.call("publish_iot", topic="smartcam/cam2/detections", payload="{}")
    assert refused["error"] == "ServiceError"
    assert "NOT_AUTHORIZED" in refused["message"]


def test_broker_acl_is_shaped_like_the_iot_policy(broker, operator):
    thing = MqttClient(broker, "cam7")
    try:
        thing.subscribe("smartcam/cam7/#")
        thing.subscribe("smartcam/fleet/#")
        assert operator.publish("smartcam/cam7/capture", b"1").reason_code != mqtt5.PubackReasonCode.NOT_AUTHORIZED
        assert operator.publish("smartcam/fleet/capture", b"2").reason_code != mqtt5.PubackReasonCode.NOT_AUTHORIZED
        assert operator.publish("smartcam/cam7/other", b"x").reason_code == mqtt5.PubackReasonCode.NOT_AUTHORIZED
        assert thing.publish("smartcam/cam8/capture", b"x").reason_code == mqtt5.PubackReasonCode.NOT_AUTHORIZED
        assert thing.publish("smartcam/fleet/capture", b"x").reason_code == mqtt5.PubackReasonCode.NOT_AUTHORIZED
        # the nucleus's own jobs/shadow/health topics, its own thing's only
        assert thing.publish("$aws/things/cam7/jobs/get", b"{}").reason_code != mqtt5.PubackReasonCode.NOT_AUTHORIZED
        assert thing.publish("$aws/things/cam8/jobs/get", b"{}").reason_code == mqtt5.PubackReasonCode.NOT_AUTHORIZED
        received = {thing.messages.get(timeout=TIMEOUT) for _ in range(2)}
        assert received == {("smartcam/cam7/capture", b"1"), ("smartcam/fleet/capture", b"2")}
    finally:
        thing.stop()
