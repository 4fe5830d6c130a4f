"""A command sent while a restarted component has not subscribed to IoT Core again is not lost.

The runtime reports a component RUNNING when its process starts (as the nucleus does), a moment before
the component's SubscribeToIoTCore reaches the broker. In between, a command published to the
component's topic reaches nobody: mosquitto answers the PUBACK with NO_MATCHING_SUBSCRIBERS and drops
it (this made tests/e2e/test_e2e_faults.py::test_camera_ingest_killed_mid_capture flaky). The operator
side (fleet.mqtt.MqttConnection.publish_until_heard, used by local_device.observe.Operator) publishes
again until the broker reports a subscriber, so the restarted component gets the command.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.mqtt import Endpoint, MqttConnection
from local_greengrass.ipc.server import IpcServer
from local_greengrass.standins.mosquitto import Mosquitto
from tests.local_greengrass.ipc.helpers import bridged_server

pytestmark = pytest.mark.integration

THING = "cam1"
COMMAND_TOPIC = f"smartcam/{THING}/capture"
TIMEOUT = 60.0


@pytest.fixture
def server(broker: Mosquitto, short_dir: Path, config) -> Iterator[IpcServer]:
    """Overrides the plain server of conftest: this one bridges to mosquitto as thing cam1."""
    with bridged_server(broker, short_dir, config, THING) as bridged:
        yield bridged


@pytest.fixture
def operator(broker: Mosquitto) -> Iterator[MqttConnection]:
    cert, key = broker.issue_client_cert("operator")
    connection = MqttConnection(Endpoint(broker.host, broker.port, broker.ca_path, cert, key), "operator-restart")
    connection.connect()
    yield connection
    connection.close()


def test_command_sent_before_the_restarted_component_subscribes_reaches_it(server, config, spawn_client, operator):
    access = {"aws.greengrass.ipc.mqttproxy": {"test:mqtt:1": {"operations": ["*"], "resources": [COMMAND_TOPIC]}}}
    config.set_component("Capture", {"accessControl": access})
    first = spawn_client(server.add_component("Capture"))
    first.ok("subscribe_iot", topic=COMMAND_TOPIC, name="commands")

    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait(timeout=TIMEOUT)

    unheard = threading.Event()
    failures: list[BaseException] = []

    def send() -> None:
        try:
            operator.publish_until_heard(COMMAND_TOPIC, b'{"command": 1}', timeout_s=TIMEOUT * 2,
                                         on_unheard=unheard.set)
        except BaseException as exc:  # handed to the test thread
            failures.append(exc)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    # The killed instance's broker subscription is gone and the new one is not there yet.
    assert unheard.wait(TIMEOUT), "the broker should have reported no subscriber for the command"

    restarted = spawn_client(server.add_component("Capture"))
    restarted.ok("subscribe_iot", topic=COMMAND_TOPIC, name="commands")
    sender.join(TIMEOUT * 2)
    assert not sender.is_alive() and not failures, failures

    received = restarted.ok("wait_events", name="commands", count=1, timeout=TIMEOUT)
    assert received == [{"topic": COMMAND_TOPIC, "payload": '{"command": 1}'}]
