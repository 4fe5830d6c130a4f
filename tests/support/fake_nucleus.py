"""The mocked nucleus of every unit test: a MagicMock(spec=GreengrassCoreIPCClientV2) whose configuration
can change, which records what a component publishes and reports, and whose subscriptions can be fired
with real awsiotsdk model objects."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar
from unittest.mock import MagicMock

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import (
    BinaryMessage,
    ConfigurationUpdateEvent,
    ConfigurationUpdateEvents,
    ConfigurationValidityReport,
    GetConfigurationResponse,
    IoTCoreMessage,
    JsonMessage,
    MessageContext,
    MQTTMessage,
    SubscriptionResponseMessage,
    ValidateConfigurationUpdateEvent,
    ValidateConfigurationUpdateEvents,
)

from smartcam.config import ComponentConfig
from smartcam.contracts import Contract, parse
from smartcam.ipc import Ipc, published_body

M = TypeVar("M", bound=Contract)


class DemoConfig(ComponentConfig):
    score_threshold: float = 0.5
    camera_id: str = "cam1"


class FakeNucleus:
    """Stands in for the nucleus on the other end of a component's IPC connection."""

    def __init__(self, configuration: dict[str, Any], component: str = "demo") -> None:
        self.configuration = configuration
        self.component = component
        self.client = MagicMock(spec=GreengrassCoreIPCClientV2)
        self.topic_handlers: dict[str, Any] = {}
        self.iot_handlers: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._published: list[tuple[str, Any]] = []
        self._iot: list[tuple[str, bytes]] = []
        client = self.client
        client.get_configuration.side_effect = lambda **_: GetConfigurationResponse(
            component_name=component, value=json.loads(json.dumps(self.configuration)))
        client.subscribe_to_topic.side_effect = self._subscribe_local
        client.subscribe_to_iot_core.side_effect = self._subscribe_iot
        for method in ("subscribe_to_configuration_update", "subscribe_to_validate_configuration_updates"):
            getattr(client, method).return_value = (MagicMock(), MagicMock())
        client.publish_to_topic.side_effect = self._publish
        client.publish_to_topic_async.side_effect = self._publish_async
        client.publish_to_iot_core.side_effect = self._publish_iot
        self.ipc = Ipc(client)

    # what the component registered ------------------------------------------------------------
    def _subscribe_local(self, *, topic: str, on_stream_event: Any, **_: Any) -> tuple[MagicMock, MagicMock]:
        self.topic_handlers[topic] = on_stream_event
        return MagicMock(), MagicMock()

    def _subscribe_iot(self, *, topic_name: str, on_stream_event: Any, **_: Any) -> tuple[MagicMock, MagicMock]:
        self.iot_handlers[topic_name] = on_stream_event
        return MagicMock(), MagicMock()

    def stream_handler(self, method: str, index: int = -1) -> Callable[[Any], None]:
        return getattr(self.client, method).call_args_list[index].kwargs["on_stream_event"]

    # what the component sent ------------------------------------------------------------------
    def _publish(self, *, topic: str, publish_message: Any) -> None:
        with self._lock:  # contracts travel as binary JSON (smartcam.ipc.local_message)
            self._published.append((topic, published_body(publish_message)))

    def _publish_async(self, *, topic: str, publish_message: Any) -> Future:
        self._publish(topic=topic, publish_message=publish_message)
        done: Future = Future()
        done.set_result(None)
        return done

    def _publish_iot(self, *, topic_name: str, payload: bytes, **_: Any) -> None:
        with self._lock:
            self._iot.append((topic_name, payload))

    def on(self, topic: str) -> list[dict[str, Any]]:
        """The JSON messages published on local ``topic``, oldest first."""
        with self._lock:
            return [m for t, m in self._published if t == topic]

    def on_iot(self, topic: str) -> list[dict[str, Any]]:
        """The JSON payloads published to IoT Core on ``topic``, oldest first."""
        with self._lock:
            return [json.loads(p) for t, p in self._iot if t == topic]

    def iot_payloads(self, topic: str) -> list[bytes]:
        with self._lock:
            return [p for t, p in self._iot if t == topic]

    def parsed(self, model: type[M], topic: str) -> list[M]:
        return [parse(model, m) for m in self.on(topic)]

    def states(self) -> list[str]:
        return [str(c.kwargs["state"]) for c in self.client.update_state.call_args_list]

    def reports(self) -> list[ConfigurationValidityReport]:
        return [c.kwargs["configuration_validity_report"]
                for c in self.client.send_configuration_validity_report.call_args_list]

    # driving the component --------------------------------------------------------------------
    def send(self, topic: str, message: Contract | dict[str, Any], subscribed: str | None = None) -> None:
        """A JSON message on local ``topic`` (delivered to the subscription on ``subscribed``, default ``topic``)."""
        body = message.to_message() if isinstance(message, Contract) else message
        self.topic_handlers[subscribed or topic](SubscriptionResponseMessage(
            json_message=JsonMessage(message=body, context=MessageContext(topic=topic))))

    def send_binary(self, topic: str, payload: bytes) -> None:
        self.topic_handlers[topic](SubscriptionResponseMessage(
            binary_message=BinaryMessage(message=payload, context=MessageContext(topic=topic))))

    def send_iot(self, topic: str, payload: bytes) -> None:
        self.iot_handlers[topic](IoTCoreMessage(message=MQTTMessage(topic_name=topic, payload=payload)))

    def update_configuration(self, configuration: dict[str, Any], *key_path: str) -> None:
        """A deployment changed the configuration: every configuration subscription hears of it."""
        self.configuration = configuration
        event = ConfigurationUpdateEvents(
            configuration_update_event=ConfigurationUpdateEvent(component_name=self.component,
                                                                key_path=list(key_path)))
        for call in self.client.subscribe_to_configuration_update.call_args_list:
            call.kwargs["on_stream_event"](event)

    def update(self, **changes: Any) -> None:
        """Change some top-level keys (camelCase) of the configuration."""
        self.update_configuration({**self.configuration, **changes}, *list(changes)[:1])

    def propose(self, configuration: dict[str, Any] | None, deployment_id: str | None = "deployment-1") -> None:
        """What the nucleus sends before a deployment changes this component's configuration."""
        handler = self.client.subscribe_to_validate_configuration_updates.call_args.kwargs["on_stream_event"]
        handler(ValidateConfigurationUpdateEvents(validate_configuration_update_event=ValidateConfigurationUpdateEvent(
            configuration=configuration, deployment_id=deployment_id)))


def wait_until(predicate: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
