"""Unit tests of the shared package's IPC seam, live configuration and component lifecycle (mocked IPC)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from unittest.mock import MagicMock

import pytest
from awsiot.greengrasscoreipc.model import (
    BinaryMessage,
    IoTCoreMessage,
    JsonMessage,
    MessageContext,
    MQTTMessage,
    SubscriptionResponseMessage,
)

from smartcam.component import run_component
from smartcam.config import ConfigError, LiveConfig
from smartcam.contracts import Health
from smartcam.ipc import Ipc, published_body
from tests.support.fake_nucleus import DemoConfig, FakeNucleus

GENEROUS_S = 120.0


# --- LiveConfig ----------------------------------------------------------------------------------

def test_live_config_reads_camel_case_keys_and_ignores_access_control():
    nucleus = FakeNucleus({"scoreThreshold": 0.7, "accessControl": {"aws.greengrass.ipc.pubsub": {}}})
    config = LiveConfig(Ipc(nucleus.client), DemoConfig)
    assert config.current == DemoConfig(score_threshold=0.7)
    assert nucleus.client.subscribe_to_configuration_update.called


def test_invalid_update_keeps_the_old_config_and_calls_no_listener():
    nucleus = FakeNucleus({"scoreThreshold": 0.7})
    errors: list[ConfigError] = []
    refusals: list[ConfigError] = []
    config = LiveConfig(Ipc(nucleus.client), DemoConfig, on_error=errors.append, on_refused=refusals.append)
    listener = MagicMock()
    config.on_change(listener)

    nucleus.update_configuration({"scoreThreshold": "high", "typoKey": 1}, "scoreThreshold")

    assert config.current == DemoConfig(score_threshold=0.7)
    listener.assert_not_called()
    assert errors == []  # the configuration is still usable: not an error of the component
    assert len(refusals) == 1
    assert "scoreThreshold" in str(refusals[0]) and "typoKey" in str(refusals[0])
    assert config.refused is not None and "/scoreThreshold refused" in config.refused

    nucleus.update_configuration({"scoreThreshold": 0.8}, "scoreThreshold")
    assert config.current == DemoConfig(score_threshold=0.8) and config.refused is None


def test_valid_update_calls_listeners_with_old_and_new():
    nucleus = FakeNucleus({"scoreThreshold": 0.7})
    config = LiveConfig(Ipc(nucleus.client), DemoConfig)
    seen = []
    config.on_change(lambda old, new: seen.append((old, new)))

    nucleus.update_configuration({"scoreThreshold": 0.9, "cameraId": "cam2"}, "cameraId")
    nucleus.update_configuration({"scoreThreshold": 0.9, "cameraId": "cam2"}, "cameraId")  # no change: no call

    assert seen == [(DemoConfig(score_threshold=0.7), DemoConfig(score_threshold=0.9, camera_id="cam2"))]
    assert config.current.camera_id == "cam2"


def _run_in_thread(nucleus: FakeNucleus, factory) -> tuple[threading.Thread, threading.Event, list[int]]:
    """run_component on a thread, as the component's main would; set the event to stop it."""
    stop = threading.Event()
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(run_component("demo", DemoConfig, factory, nucleus.client, stop)), daemon=True)
    thread.start()
    return thread, stop, result


def _wait_for_state(nucleus: FakeNucleus, state: str) -> None:
    deadline = time.monotonic() + GENEROUS_S
    while state not in nucleus.states() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_run_component_reports_errored_until_a_deployment_fixes_the_config():
    nucleus = FakeNucleus({"scoreThreshold": "not a number"})
    started = threading.Event()
    app = MagicMock()
    app.start.side_effect = started.set

    def factory(ipc, live):
        assert live.current.score_threshold == 0.4
        return app

    thread, stop, result = _run_in_thread(nucleus, factory)
    try:
        _wait_for_state(nucleus, "ERRORED")
        assert nucleus.states() == ["ERRORED"]
        assert not app.start.called

        nucleus.update_configuration({"scoreThreshold": 0.4}, "scoreThreshold")
        assert started.wait(GENEROUS_S)
        _wait_for_state(nucleus, "RUNNING")
        assert nucleus.states() == ["ERRORED", "RUNNING"]
    finally:
        stop.set()
        thread.join(GENEROUS_S)
    assert result == [0]
    app.stop.assert_called_once()
    nucleus.client.close.assert_called_once()


def test_an_invalid_update_from_any_path_keeps_the_component_running_on_the_last_good_config():
    """UpdateConfiguration outside a deployment (no validation asked): refused, and never ERRORED."""
    nucleus = FakeNucleus({"scoreThreshold": 0.7})
    started = threading.Event()
    lives: list[LiveConfig] = []
    app = MagicMock()
    app.start.side_effect = started.set

    def factory(ipc, live):
        lives.append(live)
        return app

    thread, stop, result = _run_in_thread(nucleus, factory)
    try:
        assert started.wait(GENEROUS_S)
        _wait_for_state(nucleus, "RUNNING")
        for bad in ({"scoreThreshold": "high"}, {"scoreThreshold": True}, {"scoreThreshold": 0.7, "typo": 1}):
            nucleus.update_configuration(bad, next(iter(bad)))
        assert thread.is_alive()
        assert nucleus.states() == ["RUNNING"]
        [live] = lives
        assert live.current == DemoConfig(score_threshold=0.7)
        assert live.refused is not None and "typo" in live.refused
    finally:
        stop.set()
        thread.join(GENEROUS_S)
    assert result == [0]


def test_a_refused_update_is_a_standing_note_in_every_health_message():
    from smartcam.telemetry import Telemetry

    nucleus = FakeNucleus({"scoreThreshold": 0.7})
    live = LiveConfig(Ipc(nucleus.client), DemoConfig)
    telemetry = Telemetry(nucleus.ipc, "demo", "thing1")
    telemetry.add_note(lambda: live.refused)
    assert telemetry.health("ok", "idle").state == "ok"

    nucleus.update(scoreThreshold="high")
    health = telemetry.health("ok", "idle")
    assert health.state == "degraded"
    assert health.detail.startswith("idle; configuration update at /scoreThreshold refused")
    assert telemetry.health("errored", "model missing").state == "errored"

    nucleus.update(scoreThreshold=0.6)
    assert telemetry.health("ok", "idle").model_dump()["state"] == "ok"


def test_run_component_reports_errored_and_returns_1_when_the_app_cannot_start():
    nucleus = FakeNucleus({})
    app = MagicMock()
    app.start.side_effect = RuntimeError("camera missing")
    assert run_component("demo", DemoConfig, lambda ipc, live: app, nucleus.client, threading.Event()) == 1
    assert nucleus.states() == ["ERRORED"]
    nucleus.client.close.assert_called_once()


# --- Ipc -----------------------------------------------------------------------------------------

def test_local_json_and_binary_events_reach_the_handler_with_their_topic():
    nucleus = FakeNucleus({})
    received = []
    Ipc(nucleus.client).subscribe("smartcam/+", lambda topic, payload: received.append((topic, payload)))
    on_event = nucleus.stream_handler("subscribe_to_topic")

    on_event(SubscriptionResponseMessage(json_message=JsonMessage(
        message={"a": 1}, context=MessageContext(topic="smartcam/frames"))))
    on_event(SubscriptionResponseMessage(binary_message=BinaryMessage(
        message=b"\x00raw", context=MessageContext(topic="smartcam/detections"))))
    on_event(SubscriptionResponseMessage())  # neither: ignored

    assert received == [("smartcam/frames", {"a": 1}), ("smartcam/detections", b"\x00raw")]


def test_a_failing_handler_does_not_escape_and_the_subscription_stays():
    nucleus = FakeNucleus({})
    calls = []

    def handler(topic, payload):
        calls.append(payload)
        raise ValueError("bad frame")

    ipc = Ipc(nucleus.client)
    ipc.subscribe("smartcam/frames", handler)
    ipc.subscribe_iot("smartcam/t/capture", handler)
    local = nucleus.stream_handler("subscribe_to_topic")
    iot = nucleus.stream_handler("subscribe_to_iot_core")

    local(SubscriptionResponseMessage(json_message=JsonMessage(message={"n": 1})))
    local(SubscriptionResponseMessage(json_message=JsonMessage(message={"n": 2})))
    iot(IoTCoreMessage(message=MQTTMessage(topic_name="smartcam/t/capture", payload=b"{}")))

    assert calls == [{"n": 1}, {"n": 2}, b"{}"]
    # A stream error keeps the stream open (False) instead of raising.
    on_error = nucleus.client.subscribe_to_topic.call_args.kwargs["on_stream_error"]
    assert on_error(RuntimeError("connection hiccup")) is False


def health(n: int) -> Health:
    return Health(component="smartcam.Test", state="ok", counters={"n": n}, at=1_700_000_000.0)


def test_publish_sends_json_locally_and_bytes_to_iot_core():
    nucleus = FakeNucleus({})
    ipc = Ipc(nucleus.client)
    ipc.publish("smartcam/frames", health(1))
    ipc.publish_iot("smartcam/t/writer", health(2), qos=0)
    local = nucleus.client.publish_to_topic.call_args.kwargs
    assert local["topic"] == "smartcam/frames"
    assert published_body(local["publish_message"]) == health(1).to_message()
    iot = nucleus.client.publish_to_iot_core.call_args.kwargs
    assert iot["topic_name"] == "smartcam/t/writer"
    assert iot["payload"] == health(2).to_bytes()
    assert str(iot["qos"]) == "0"


def test_a_hand_built_dict_is_not_published():
    nucleus = FakeNucleus({})
    ipc = Ipc(nucleus.client)
    for publish in (ipc.publish, ipc.publish_iot, lambda t, m: ipc.publish_nowait(t, m, print)):
        with pytest.raises(TypeError, match=r"smartcam\.contracts"):
            publish("smartcam/frames", {"x": 1})
    assert not nucleus.client.publish_to_topic.called and not nucleus.client.publish_to_iot_core.called
    assert not nucleus.client.publish_to_topic_async.called


def test_publish_nowait_returns_at_once_and_reports_only_failures():
    nucleus = FakeNucleus({})
    pending: list[Future] = []

    def publish_async(topic, publish_message):
        pending.append(Future())
        return pending[-1]

    nucleus.client.publish_to_topic_async.side_effect = publish_async
    ipc = Ipc(nucleus.client)
    failures: list[BaseException] = []
    ipc.publish_nowait("smartcam/detections", health(1), failures.append)
    ipc.publish_nowait("smartcam/detections", health(2), failures.append)
    calls = nucleus.client.publish_to_topic_async.call_args_list
    assert [published_body(c.kwargs["publish_message"]) for c in calls] == [
        health(1).to_message(), health(2).to_message()
    ]
    assert failures == []  # nothing answered yet, and the caller was not kept waiting
    pending[0].set_result(None)
    denied = RuntimeError("not authorized")
    pending[1].set_exception(denied)
    assert failures == [denied]
