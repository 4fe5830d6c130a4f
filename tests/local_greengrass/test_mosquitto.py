"""The mosquitto stand-in keeps persistent sessions across its own restart, as IoT Core keeps them
while a device's runtime (and with it the local broker) restarts."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.mqtt import Endpoint, Message, MqttConnection, MqttError
from local_greengrass.standins.mosquitto import OPERATOR, Mosquitto

pytestmark = pytest.mark.integration
STATUS_TOPIC = "smartcam/cam-9/capture/status"


def started(workdir: Path) -> Mosquitto:
    for attempt in range(3):
        mosquitto = Mosquitto(workdir)
        try:
            mosquitto.start()
            return mosquitto
        except RuntimeError as error:  # the free port it picked was taken meanwhile by another process
            if "Address already in use" not in str(error) or attempt == 2:
                raise
    raise AssertionError("unreachable")


def connection(broker: Mosquitto, identity: str, client_id: str, session_expiry_s: int = 0) -> MqttConnection:
    cert, key = broker.issue_client_cert(identity)
    mqtt = MqttConnection(Endpoint(broker.host, broker.port, broker.ca_path, cert, key), client_id, session_expiry_s)
    mqtt.connect()
    return mqtt


def received(mqtt: MqttConnection, timeout: float = 10.0) -> list[Message]:
    """Everything that arrives until the line is quiet for 1 s, in arrival order."""
    messages = []
    try:
        while True:
            messages.append(mqtt.messages.get(timeout=timeout))
            timeout = 1.0
    except queue.Empty:
        return messages


def distinct(messages: list[Message]) -> list[tuple[str, bytes]]:
    """The messages without repeats, in order of first arrival. QoS 1 is at least once: when a
    connection drops before the broker saw its PUBACK (the client's 3 s ping timeout on a loaded
    machine), the broker sends the message again on the resumed session (seen once in CI)."""
    return list(dict.fromkeys((m.topic, m.payload) for m in messages))


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "mosquitto"


def restart_and_publish(workdir: Path, first: Mosquitto) -> Mosquitto:
    first.stop()
    second = started(workdir)
    with connection(second, "cam-9", "cam-9") as device:
        device.publish(STATUS_TOPIC, b'{"state": "finished"}', qos=1)
    return second


def test_a_persistent_session_receives_what_was_sent_while_the_broker_restarted(workdir: Path):
    first = started(workdir)
    operator = connection(first, OPERATOR, "operator-persistent", session_expiry_s=600)
    operator.subscribe(STATUS_TOPIC)
    operator.close()
    second = restart_and_publish(workdir, first)
    try:
        assert second.port != 0
        with connection(second, OPERATOR, "operator-persistent", session_expiry_s=600) as again:
            messages = received(again)
    finally:
        second.stop()

    assert distinct(messages) == [(STATUS_TOPIC, b'{"state": "finished"}')]


def test_a_clean_session_does_not(workdir: Path):
    first = started(workdir)
    operator = connection(first, OPERATOR, "operator-clean")
    operator.subscribe(STATUS_TOPIC)
    operator.close()
    second = restart_and_publish(workdir, first)
    try:
        with connection(second, OPERATOR, "operator-clean") as again:
            # Anything the broker had kept for this client would arrive right after the connection,
            # ahead of a message published after subscribing again: that one ends the wait.
            again.subscribe(STATUS_TOPIC)
            with connection(second, "cam-9", "cam-9") as device:
                device.publish(STATUS_TOPIC, b'{"state": "accepted"}', qos=1)
            messages = received(again)
    finally:
        second.stop()

    assert distinct(messages) == [(STATUS_TOPIC, b'{"state": "accepted"}')]


def test_a_connection_is_started_once(workdir: Path):
    broker = started(workdir)
    try:
        mqtt = connection(broker, OPERATOR, "operator-once")
        with mqtt as entered:  # already connected: entering does not start a second client
            assert entered is mqtt
            with pytest.raises(MqttError, match="already connected"):
                mqtt.connect()
            entered.subscribe(STATUS_TOPIC)
            with connection(broker, "cam-9", "cam-9") as device:
                device.publish(STATUS_TOPIC, b"{}", qos=1)
            assert distinct(received(entered)) == [(STATUS_TOPIC, b"{}")]
    finally:
        broker.stop()
