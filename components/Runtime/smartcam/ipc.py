"""Greengrass IPC, used through one small class.

Components never build the awsiotsdk client themselves: their ``main.py`` builds a
``GreengrassCoreIPCClientV2`` and hands it to :class:`Ipc`. Tests hand in a mock instead. Handlers
run on the client's executor; an exception in a handler is logged and the subscription stays open,
so nothing a peer sends can stop a component.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, Literal

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import (
    QOS,
    BinaryMessage,
    ConfigurationUpdateEvents,
    ConfigurationValidityReport,
    ConfigurationValidityStatus,
    IoTCoreMessage,
    PublishMessage,
    ReceiveMode,
    ReportedLifecycleState,
    SubscriptionResponseMessage,
    ValidateConfigurationUpdateEvents,
)

from smartcam.contracts import Contract

log = logging.getLogger(__name__)

LocalHandler = Callable[[str, Any], None]  # (topic, JSON object or bytes)
IoTHandler = Callable[[str, bytes], None]  # (topic, payload)
# The proposed configuration -> None when it is acceptable, else why not (sent to the deployment).
ConfigurationValidator = Callable[[dict[str, Any]], "str | None"]


def local_message(message: Contract) -> PublishMessage:
    """A contract travels on local pub/sub as a binary message holding its JSON text (UTF-8).

    Nucleus lite's core bus decodes a JSON message into at most 550 bytes of objects (50 x 11-byte
    GgObject, PAYLOAD_MAX_SUBOBJECTS in core-bus/src/client_subscribe.c): each map entry takes 21
    bytes, each list item 11, and the envelope {topic, type, message} 63. A `Detections` message
    needs 588 bytes with no detection and 179 more per detection, so lite dropped every one ("Insufficient
    memory to decode packet") before any subscriber saw it; a `FrameRef` (294) passed. A binary message
    is one buffer, whatever its size; every subscriber here parses either form (``contracts.parse``).
    """
    return PublishMessage(binary_message=BinaryMessage(message=_wire(message).to_bytes()))


def published_body(message: PublishMessage) -> Any:
    """What a :func:`local_message` carries: the JSON object of either form."""
    if message.json_message is not None:
        return message.json_message.message
    if message.binary_message is not None:
        return json.loads(message.binary_message.message or b"null")
    return None


class Ipc:
    def __init__(self, client: GreengrassCoreIPCClientV2) -> None:
        self._client = client
        self._operations: list[Any] = []

    # local pub/sub -------------------------------------------------------------------------
    def publish(self, topic: str, message: Contract) -> None:
        self._client.publish_to_topic(topic=topic, publish_message=local_message(message))

    def publish_nowait(
        self, topic: str, message: Contract, on_failure: Callable[[BaseException], None]
    ) -> None:
        """Hands the message to the connection and returns without waiting for the nucleus's answer
        (a round trip through a busy core is milliseconds the caller's hot loop need not wait).
        Messages keep their order on the connection; ``on_failure`` runs, on the client's thread,
        only for one that failed."""
        future = self._client.publish_to_topic_async(topic=topic, publish_message=local_message(message))

        def done(finished: Any) -> None:
            error = finished.exception()
            if error is not None:
                on_failure(error)

        future.add_done_callback(done)

    def subscribe(self, topic: str, handler: LocalHandler, *, from_others_only: bool = False) -> None:
        def on_event(event: SubscriptionResponseMessage) -> None:
            if event.json_message is not None:
                context = event.json_message.context
                payload: Any = event.json_message.message
            elif event.binary_message is not None:
                context = event.binary_message.context
                payload = event.binary_message.message or b""
            else:
                log.warning("empty message on %s ignored", topic)
                return
            self._call(handler, context.topic if context and context.topic else topic, payload)

        mode = ReceiveMode.RECEIVE_MESSAGES_FROM_OTHERS if from_others_only else ReceiveMode.RECEIVE_ALL_MESSAGES
        _, operation = self._client.subscribe_to_topic(
            topic=topic,
            receive_mode=mode,
            on_stream_event=on_event,
            on_stream_error=self._keep_stream_open(topic),
        )
        self._operations.append(operation)

    # IoT Core ------------------------------------------------------------------------------
    def publish_iot(self, topic: str, message: Contract, *, qos: Literal[0, 1] = 1) -> None:
        self._client.publish_to_iot_core(
            topic_name=topic, qos=QOS.AT_LEAST_ONCE if qos else QOS.AT_MOST_ONCE, payload=_wire(message).to_bytes()
        )

    def subscribe_iot(self, topic: str, handler: IoTHandler, *, qos: Literal[0, 1] = 1) -> None:
        def on_event(event: IoTCoreMessage) -> None:
            message = event.message
            if message is None:
                return
            self._call(handler, message.topic_name or topic, message.payload or b"")

        _, operation = self._client.subscribe_to_iot_core(
            topic_name=topic,
            qos=QOS.AT_LEAST_ONCE if qos else QOS.AT_MOST_ONCE,
            on_stream_event=on_event,
            on_stream_error=self._keep_stream_open(topic),
        )
        self._operations.append(operation)

    # configuration and state ---------------------------------------------------------------
    def get_configuration(self) -> dict[str, Any]:
        response = self._client.get_configuration(key_path=[])
        return dict(response.value or {})

    def on_configuration_update(self, callback: Callable[[list[str]], None]) -> None:
        def on_event(event: ConfigurationUpdateEvents) -> None:
            update = event.configuration_update_event
            self._call(callback, list(update.key_path or []) if update else [])

        _, operation = self._client.subscribe_to_configuration_update(
            key_path=[], on_stream_event=on_event, on_stream_error=self._keep_stream_open("configuration")
        )
        self._operations.append(operation)

    def on_configuration_validation(self, validator: ConfigurationValidator) -> bool:
        """Answer the nucleus's validation of every configuration a deployment proposes for this component.

        ACCEPTED when ``validator`` returns None, REJECTED with its message otherwise (the deployment
        then fails and nothing is applied). False when the subscription is not available: deployments
        then apply configuration without asking, and LiveConfig still refuses an invalid update.
        """
        def on_event(event: ValidateConfigurationUpdateEvents) -> None:
            proposal = event.validate_configuration_update_event
            if proposal is None or not proposal.deployment_id:
                log.warning("configuration validation event without a deployment id ignored")
                return
            try:
                problem = validator(dict(proposal.configuration or {}))
            except Exception as exc:
                log.exception("validating the configuration of deployment %s failed", proposal.deployment_id)
                problem = f"the component could not validate the configuration: {exc!r}"
            if problem is None:
                report = ConfigurationValidityReport(status=ConfigurationValidityStatus.ACCEPTED,
                                                     deployment_id=proposal.deployment_id)
            else:
                log.warning("deployment %s: configuration rejected: %s", proposal.deployment_id, problem)
                report = ConfigurationValidityReport(status=ConfigurationValidityStatus.REJECTED,
                                                     deployment_id=proposal.deployment_id, message=problem)
            try:
                self._client.send_configuration_validity_report(configuration_validity_report=report)
            except Exception:
                log.exception("sending the configuration validity report of deployment %s failed",
                              proposal.deployment_id)

        try:
            _, operation = self._client.subscribe_to_validate_configuration_updates(
                on_stream_event=on_event, on_stream_error=self._keep_stream_open("configuration validation"))
        except Exception as exc:  # noqa: BLE001 - e.g. a runtime without it: the component runs on, unasked
            # Nucleus lite has no SubscribeToValidateConfigurationUpdates (its ggipcd answers
            # "Unhandled operation"; awsiotsdk raises an exception whose text may be empty): say so.
            log.warning("configuration validation is not available on this nucleus (SubscribeToValidateConfiguration"
                        "Updates failed: %s: %s); deployments will not ask this component first, so every update is "
                        "validated when it arrives and an invalid one is refused, keeping the last good configuration",
                        type(exc).__name__, str(exc) or "no detail")
            return False
        self._operations.append(operation)
        return True

    def report_state(self, state: Literal["RUNNING", "ERRORED"]) -> None:
        self._client.update_state(state=getattr(ReportedLifecycleState, state))

    def close(self) -> None:
        for operation in self._operations:
            try:
                operation.close()
            except Exception:
                log.debug("closing a stream failed", exc_info=True)
        self._operations.clear()
        self._client.close()

    # helpers -------------------------------------------------------------------------------
    @staticmethod
    def _call(handler: Callable[..., None], *args: Any) -> None:
        try:
            handler(*args)
        except Exception:
            log.exception("handler %s failed", getattr(handler, "__name__", handler))

    @staticmethod
    def _keep_stream_open(what: str) -> Callable[[Exception], bool]:
        def on_error(error: Exception) -> bool:
            log.error("stream error on %s: %s", what, error)
            return False  # keep the stream open

        return on_error


def _wire(message: Contract) -> Contract:
    """Only contracts cross a process boundary: a hand-built dict would skip the receiver's model."""
    if not isinstance(message, Contract):
        raise TypeError(f"publish a smartcam.contracts model, not {type(message).__name__}")
    return message
