"""The IPC operations this runtime serves. Each handler validates, authorizes, acts, responds.

Handlers run on the event loop; anything that may block (the IoT Core bridge, the on_state callback)
runs in a thread and the handler returns an awaitable.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from local_greengrass.configuration.validation import (
    VALIDITY_STATUSES,
    ConfigValidation,
    NoValidationRequested,
    ValidityReport,
)
from local_greengrass.ipc import authorization
from local_greengrass.ipc.pubsub import RECEIVE_MODES, LocalPubSub, has_wildcard
from local_greengrass.ipc.rpc import SERVICE, IpcError, invalid_arguments, resource_not_found, service_error

if TYPE_CHECKING:
    from local_greengrass.configuration.store import ConfigStore
    from local_greengrass.ipc.connection import Handler, Stream
    from local_greengrass.ipc.iot_core import IoTCoreBridge

log = logging.getLogger(__name__)

ACCESS_CONTROL_KEY = "accessControl"
LIFECYCLE_STATES = ("RUNNING", "ERRORED")


def _string(request: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    value = request.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise invalid_arguments(f"{key} must be a non-empty string")
    return value


def _key_path(request: dict[str, Any], key: str = "keyPath") -> list[str]:
    value = request.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(part, str) for part in value):
        raise invalid_arguments(f"{key} must be a list of strings")
    return value


def _qos(request: dict[str, Any]) -> int:
    value = request.get("qos", "0")
    if value not in ("0", "1", 0, 1):
        raise invalid_arguments("qos must be '0' or '1'")
    return int(value)


def _base64(value: Any, what: str) -> bytes:
    if value is None:
        return b""
    if not isinstance(value, str):
        raise invalid_arguments(f"{what} must be base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise invalid_arguments(f"{what} is not valid base64") from exc


class Operations:
    def __init__(
        self,
        config: ConfigStore,
        pubsub: LocalPubSub,
        iot: IoTCoreBridge | None,
        on_state: Callable[[str, str], None],
        thing_name: str | None,
        *,
        validation: ConfigValidation | None = None,
    ) -> None:
        self._config = config
        self.validation = validation or ConfigValidation()
        self._pubsub = pubsub
        self._iot = iot
        self._on_state = on_state
        self._thing_name = thing_name
        self._access_cache: dict[str, tuple[int, Any]] = {}
        # One thread keeps a component's UpdateState calls in the order they were sent.
        self._state_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ipc-state")
        self._iot_executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ipc-iot")
        self._handlers: dict[str, Handler] = {
            f"{SERVICE}#PublishToTopic": self.publish_to_topic,
            f"{SERVICE}#SubscribeToTopic": self.subscribe_to_topic,
            f"{SERVICE}#PublishToIoTCore": self.publish_to_iot_core,
            f"{SERVICE}#SubscribeToIoTCore": self.subscribe_to_iot_core,
            f"{SERVICE}#GetConfiguration": self.get_configuration,
            f"{SERVICE}#UpdateConfiguration": self.update_configuration,
            f"{SERVICE}#SubscribeToConfigurationUpdate": self.subscribe_to_configuration_update,
            f"{SERVICE}#UpdateState": self.update_state,
            f"{SERVICE}#SubscribeToValidateConfigurationUpdates": self.subscribe_to_validate_configuration_updates,
            f"{SERVICE}#SendConfigurationValidityReport": self.send_configuration_validity_report,
        }

    def handler(self, operation: str) -> Handler | None:
        return self._handlers.get(operation)

    def shutdown(self) -> None:
        self._state_executor.shutdown(wait=False, cancel_futures=True)
        self._iot_executor.shutdown(wait=False, cancel_futures=True)

    def _access_control(self, component: str) -> Any:
        """The component's current accessControl; cached until its configuration changes (redeploys apply)."""
        generation = self._config.generation(component)
        cached = self._access_cache.get(component)
        if cached is not None and cached[0] == generation:
            return cached[1]
        try:
            access_control = self._config.get(component, [ACCESS_CONTROL_KEY])
        except KeyError:
            access_control = None
        self._access_cache[component] = (generation, access_control)
        return access_control

    def _authorize(self, stream: Stream, service: str, resource: str) -> None:
        access_control = self._access_control(stream.component)
        try:
            authorization.check(
                stream.component,
                access_control,
                service,
                f"{SERVICE}#{stream.operation}",
                resource,
                thing_name=self._thing_name,
            )
        except authorization.AuthorizationError as exc:
            raise IpcError("UnauthorizedError", str(exc)) from exc

    # local pub/sub ---------------------------------------------------------------------------
    def publish_to_topic(self, stream: Stream, request: dict[str, Any]) -> None:
        topic = _string(request, "topic")
        assert topic is not None
        if has_wildcard(topic):
            raise invalid_arguments(f"Cannot publish to topic {topic} containing wildcards (+, #, *)")
        message = request.get("publishMessage")
        if not isinstance(message, dict) or len(message) != 1:
            raise invalid_arguments("publishMessage must hold exactly one of jsonMessage or binaryMessage")
        if "jsonMessage" in message:
            body = message["jsonMessage"]
            if not isinstance(body, dict) or not isinstance(body.get("message"), dict):
                raise invalid_arguments("jsonMessage.message must be a JSON object")
            delivered = {"jsonMessage": {"message": body["message"]}}
        elif "binaryMessage" in message:
            body = message["binaryMessage"]
            if not isinstance(body, dict):
                raise invalid_arguments("binaryMessage must be an object")
            _base64(body.get("message"), "binaryMessage.message")
            delivered = {"binaryMessage": {"message": body.get("message", "")}}
        else:
            raise invalid_arguments("publishMessage must hold jsonMessage or binaryMessage")
        self._authorize(stream, authorization.PUBSUB, topic)
        stream.respond({})
        self._pubsub.publish(topic, stream.component, delivered)

    def subscribe_to_topic(self, stream: Stream, request: dict[str, Any]) -> None:
        topic = _string(request, "topic")
        assert topic is not None
        mode = request.get("receiveMode")
        if mode is not None and mode not in RECEIVE_MODES:
            raise invalid_arguments(f"receiveMode must be one of {', '.join(RECEIVE_MODES)}")
        self._authorize(stream, authorization.PUBSUB, topic)

        def deliver(actual_topic: str, message: dict[str, Any]) -> None:
            kind, body = next(iter(message.items()))
            stream.send_event("SubscriptionResponseMessage", {kind: {**body, "context": {"topic": actual_topic}}})

        # Registered before the response goes out, so a publish the client makes right after its
        # subscribe call returns is never missed; the stream holds events back until the response is out.
        stream.on_close(self._pubsub.subscribe(topic, stream.component, deliver, mode))
        stream.respond({}, keep_open=True)

    # IoT Core --------------------------------------------------------------------------------
    def _bridge(self) -> IoTCoreBridge:
        if self._iot is None:
            raise service_error("No IoT Core connection is configured in the local Greengrass runtime")
        return self._iot

    def publish_to_iot_core(self, stream: Stream, request: dict[str, Any]) -> Awaitable[None]:
        topic = _string(request, "topicName")
        assert topic is not None
        if has_wildcard(topic):
            raise invalid_arguments(f"Cannot publish to topic {topic} containing wildcards (+, #, *)")
        qos = _qos(request)
        payload = _base64(request.get("payload"), "payload")
        self._authorize(stream, authorization.MQTT_PROXY, topic)
        bridge = self._bridge()

        async def publish() -> None:
            try:
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(self._iot_executor, bridge.publish, topic, payload, qos)
            except IpcError:
                raise
            except Exception as exc:
                raise service_error(f"Publish to IoT Core topic {topic} failed: {exc}") from exc
            stream.respond({})

        return publish()

    def subscribe_to_iot_core(self, stream: Stream, request: dict[str, Any]) -> Awaitable[None]:
        topic_filter = _string(request, "topicName")
        assert topic_filter is not None
        qos = _qos(request)
        self._authorize(stream, authorization.MQTT_PROXY, topic_filter)
        bridge = self._bridge()

        def on_message(topic: str, payload: bytes) -> None:
            event = {"message": {"topicName": topic, "payload": base64.b64encode(payload).decode()}}
            stream.send_event_threadsafe("IoTCoreMessage", event)

        async def subscribe() -> None:
            try:
                unsubscribe = await asyncio.get_running_loop().run_in_executor(
                    self._iot_executor, bridge.subscribe, topic_filter, qos, on_message
                )
            except Exception as exc:
                raise service_error(f"Subscribe to IoT Core topic {topic_filter} failed: {exc}") from exc
            stream.on_close(unsubscribe)
            stream.respond({}, keep_open=True)

        return subscribe()

    # configuration ---------------------------------------------------------------------------
    def get_configuration(self, stream: Stream, request: dict[str, Any]) -> None:
        component = _string(request, "componentName", required=False) or stream.component
        key_path = _key_path(request)
        try:
            value = self._config.get(component, key_path)
        except KeyError as exc:
            where = "/".join(key_path) or "(root)"
            raise resource_not_found(
                f"Key not found: {where} in the configuration of {component}", "Configuration", where
            ) from exc
        if not isinstance(value, dict):
            value = {key_path[-1]: value} if key_path else {}
        stream.respond({"componentName": component, "value": value})

    def update_configuration(self, stream: Stream, request: dict[str, Any]) -> None:
        key_path = _key_path(request)
        value = request.get("valueToMerge")
        if not isinstance(value, dict):
            raise invalid_arguments("valueToMerge must be a JSON object")
        timestamp = request.get("timestamp")
        if not isinstance(timestamp, (int, float)) or isinstance(timestamp, bool):
            raise invalid_arguments("timestamp is required (epoch seconds)")
        touches_acl = (key_path[:1] == [ACCESS_CONTROL_KEY]) or (not key_path and ACCESS_CONTROL_KEY in value)
        if touches_acl:
            raise invalid_arguments("A component cannot change its own accessControl")
        self._config.merge(stream.component, key_path, value, int(timestamp * 1000))
        stream.respond({})

    def subscribe_to_configuration_update(self, stream: Stream, request: dict[str, Any]) -> None:
        component = _string(request, "componentName", required=False) or stream.component
        key_path = _key_path(request)

        def on_change(changed_component: str, changed_path: list[str]) -> None:
            event = {"configurationUpdateEvent": {"componentName": changed_component, "keyPath": changed_path}}
            stream.send_event_threadsafe("ConfigurationUpdateEvents", event)

        stream.respond({}, keep_open=True)
        stream.on_close(self._config.subscribe(component, key_path, on_change))

    def subscribe_to_validate_configuration_updates(self, stream: Stream, request: dict[str, Any]) -> None:
        def send(deployment_id: str, configuration: dict[str, Any]) -> None:
            # The awsiotsdk model's ValidateConfigurationUpdateEvent has exactly these two fields.
            proposal = {"configuration": configuration, "deploymentId": deployment_id}
            event = {"validateConfigurationUpdateEvent": proposal}
            stream.send_event_threadsafe("ValidateConfigurationUpdateEvents", event)

        # Registered before the response goes out: a deployment right after the call returns asks it.
        stream.on_close(self.validation.subscribe(stream.component, send))
        stream.respond({}, keep_open=True)

    def send_configuration_validity_report(self, stream: Stream, request: dict[str, Any]) -> None:
        report = request.get("configurationValidityReport")
        if not isinstance(report, dict):
            raise invalid_arguments("configurationValidityReport is required")
        deployment_id = report.get("deploymentId")
        if not isinstance(deployment_id, str) or not deployment_id:
            raise invalid_arguments("Cannot accept configuration validity report, the deployment ID provided was null")
        status = report.get("status")
        if status not in VALIDITY_STATUSES:
            raise invalid_arguments(f"configurationValidityReport.status must be one of {', '.join(VALIDITY_STATUSES)}")
        message = report.get("message")
        if message is not None and not isinstance(message, str):
            raise invalid_arguments("configurationValidityReport.message must be a string")
        try:
            self.validation.report(stream.component, ValidityReport(status, deployment_id, message))
        except NoValidationRequested as exc:
            raise invalid_arguments(str(exc)) from exc
        stream.respond({})

    # lifecycle -------------------------------------------------------------------------------
    def update_state(self, stream: Stream, request: dict[str, Any]) -> Awaitable[None]:
        state = request.get("state")
        if state not in LIFECYCLE_STATES:
            raise invalid_arguments(f"state must be one of {', '.join(LIFECYCLE_STATES)}")
        component = stream.component

        async def report() -> None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._state_executor, self._on_state, component, state)
            stream.respond({})

        return report()
