"""scripts/mqtt-client against a real mosquitto with mutual TLS and the IoT-policy-shaped ACL
(local_greengrass.standins.mosquitto); devices are played by the same MQTT code with their own certificates."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.components import REPO_ROOT
from fleet.mqtt import Endpoint, MqttConnection, MqttError
from fleet.mqtt_client import main
from local_greengrass.standins.mosquitto import Mosquitto
from smartcam import topics
from smartcam.contracts import CaptureCommand, CaptureStatus, parse

pytestmark = pytest.mark.integration
CLIENT = REPO_ROOT / "scripts" / "mqtt-client"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    workdir = tmp_path_factory.mktemp("mosquitto")
    for attempt in range(3):
        mosquitto = Mosquitto(workdir)
        try:
            mosquitto.start()
            break
        except RuntimeError as error:  # the free port it picked was taken meanwhile by another process
            if "Address already in use" not in str(error) or attempt == 2:
                raise
    try:
        yield mosquitto
    finally:
        mosquitto.stop()


class FakeDevice:
    """A core device's capture path, reduced to its MQTT contract: answers a command with accepted,
    a detection summary, a writer report and finished."""

    def __init__(self, broker: Mosquitto, thing: str, answer: bool = True) -> None:
        cert, key = broker.issue_client_cert(thing)
        self.thing = thing
        self.answer = answer
        self.commands: list[CaptureCommand] = []
        self.payloads: list[bytes] = []
        self.connection = MqttConnection(Endpoint(broker.host, broker.port, broker.ca_path, cert, key), thing)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"device-{thing}", daemon=True)

    def __enter__(self) -> FakeDevice:
        self.connection.connect()
        self.connection.subscribe(topics.iot_capture_commands(self.thing))
        self.connection.subscribe(topics.FLEET_CAPTURE_COMMANDS)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(30)
        self.connection.close()

    def _status(self, command: CaptureCommand, state: str, frames: int) -> bytes:
        return CaptureStatus(state=state, request_id=command.request_id, camera_id=command.camera_id,
                             frames_captured=frames, frames_requested=command.frames, at=time.time()).to_bytes()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                message = self.connection.messages.get(timeout=0.2)
            except queue.Empty:
                continue
            self.payloads.append(message.payload)
            command = parse(CaptureCommand, message.payload)
            self.commands.append(command)
            if not self.answer:
                continue
            self.connection.publish(topics.iot_capture_status(self.thing), self._status(command, "accepted", 0))
            summary = {"frame_id": "f-1", "labels": {"person": 1}, "request_id": command.request_id}
            self.connection.publish(topics.iot_detection_summary(self.thing), json.dumps(summary).encode())
            self.connection.publish(topics.iot_writer_reports(self.thing), b'{"written":1,"spooled":0}')
            frames = command.frames or 0
            self.connection.publish(topics.iot_capture_status(self.thing), self._status(command, "finished", frames))


def run_client(broker: Mosquitto, identity: str, *args: str) -> subprocess.CompletedProcess[str]:
    cert, key = broker.issue_client_cert(identity)
    command = [str(CLIENT), "--endpoint", broker.host, "--port", str(broker.port), "--ca", str(broker.ca_path),
               "--cert", str(cert), "--key", str(key), "--connect-timeout", "60", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)


def lines_of(kind: str, output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(kind)]


def test_the_operator_commands_one_thing_and_sees_status_and_results_as_they_arrive(broker):
    with FakeDevice(broker, "cam-1") as device:
        done = run_client(broker, "operator", "--thing", "cam-1", "--camera-id", "cam0", "--frames", "5",
                          "--request-id", "req-1", "--timeout", "120")

    assert done.returncode == 0, done.stderr + done.stdout
    received = [(c.action, c.camera_id, c.frames, c.request_id) for c in device.commands]
    assert received == [("capture", "cam0", 5, "req-1")]
    states = [json.loads(line.split(": ", 1)[1])["state"] for line in lines_of("status", done.stdout)]
    assert states == ["accepted", "finished"]
    assert lines_of("detections cam-1", done.stdout) and lines_of("writer    cam-1", done.stdout)


def test_a_fleet_command_reaches_every_device(broker):
    with FakeDevice(broker, "cam-a") as first, FakeDevice(broker, "cam-b") as second:
        done = run_client(broker, "operator", "--fleet", "--expect", "2", "--camera-id", "cam0", "--duration", "1",
                          "--timeout", "120")

    assert done.returncode == 0, done.stderr + done.stdout
    assert len(first.commands) == 1 and len(second.commands) == 1
    finished = {line.split()[1].rstrip(":") for line in lines_of("status", done.stdout) if '"finished"' in line}
    assert finished == {"cam-a", "cam-b"}


def test_a_device_certificate_cannot_command_another_thing(broker):
    with FakeDevice(broker, "cam-1") as victim:
        done = run_client(broker, "cam-2", "--thing", "cam-1", "--camera-id", "cam0", "--frames", "1",
                          "--client-id", "cam-2", "--timeout", "30")

    assert done.returncode == 2
    assert "refused" in done.stderr and "NOT_AUTHORIZED" in done.stderr
    assert victim.commands == []


def test_a_device_certificate_may_command_its_own_thing(broker):
    with FakeDevice(broker, "cam-3") as device:
        done = run_client(broker, "operator", "--thing", "cam-3", "--camera-id", "cam0", "--action", "snapshot",
                          "--timeout", "120")

    assert done.returncode == 0, done.stderr + done.stdout
    assert [c.action for c in device.commands] == ["snapshot"]


def test_no_answer_ends_with_a_timeout_status(broker):
    with FakeDevice(broker, "cam-mute", answer=False) as device:
        done = run_client(broker, "operator", "--thing", "cam-mute", "--camera-id", "cam0", "--frames", "1",
                          "--timeout", "3")

    assert done.returncode == 3
    assert "timed out" in done.stdout and "cam-mute" in done.stdout
    assert len(device.commands) == 1


def test_an_invalid_command_is_refused_before_connecting(tmp_path: Path, capsys):
    status = main(["--endpoint", "127.0.0.1", "--port", "1", "--cert", str(tmp_path / "c"), "--key",
                   str(tmp_path / "k"), "--thing", "cam-1", "--camera-id", "cam0"])  # capture without frames/duration

    assert status == 2
    assert "invalid capture command" in capsys.readouterr().err


def test_a_wildcard_thing_name_is_refused(tmp_path: Path, capsys):
    status = main(["--endpoint", "127.0.0.1", "--cert", str(tmp_path / "c"), "--key", str(tmp_path / "k"),
                   "--thing", "+", "--camera-id", "cam0", "--frames", "1"])

    assert status == 2
    assert "not a thing name" in capsys.readouterr().err


@pytest.mark.parametrize("topic", ["smartcam/cam-1/capture", "smartcam/fleet/capture"])
def test_a_device_may_not_publish_commands_to_other_things_or_the_fleet(broker, topic):
    cert, key = broker.issue_client_cert("cam-2")
    command = CaptureCommand(action="snapshot", camera_id="cam0").to_bytes()
    with MqttConnection(Endpoint(broker.host, broker.port, broker.ca_path, cert, key), "cam-2") as connection:
        with pytest.raises(MqttError, match="NOT_AUTHORIZED"):
            connection.publish(topic, command)
        connection.publish("smartcam/cam-2/capture", command)  # its own topics are allowed


def test_a_raw_payload_is_sent_exactly_as_given(broker):
    command = CaptureCommand(action="capture", camera_id="cam0", frames=2, request_id="req-raw").to_message()
    raw = json.dumps(command, indent=1)  # not how the client would format it
    with FakeDevice(broker, "cam-raw") as device:
        done = run_client(broker, "operator", "--thing", "cam-raw", "--raw", raw, "--timeout", "120")

    assert done.returncode == 0, done.stderr + done.stdout
    assert device.payloads == [raw.encode()]


def test_without_raw_a_camera_id_is_required(tmp_path: Path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--endpoint", "127.0.0.1", "--cert", str(tmp_path / "c"), "--key", str(tmp_path / "k"),
              "--thing", "cam-1", "--frames", "1"])

    assert exit_info.value.code == 2
    assert "--camera-id is required" in capsys.readouterr().err
