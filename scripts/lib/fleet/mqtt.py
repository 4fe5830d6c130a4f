"""One MQTT 5 connection with mutual TLS (awsiotsdk ``mtls_from_path``): the same code talks to AWS IoT
Core and to the local mosquitto stand-in. Operations block until the broker answers, and a refusal
(SUBACK/PUBACK reason code, e.g. NOT_AUTHORIZED by the IoT policy or ACL) raises :class:`MqttError`."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from awscrt import mqtt5
from awsiot import mqtt5_client_builder

OPERATION_TIMEOUT_S = 30.0
UNHEARD_RETRY_S = 0.2
_PUBLISHED = {mqtt5.PubackReasonCode.SUCCESS, mqtt5.PubackReasonCode.NO_MATCHING_SUBSCRIBERS}
_GRANTED = {mqtt5.SubackReasonCode.GRANTED_QOS_0, mqtt5.SubackReasonCode.GRANTED_QOS_1}


class MqttError(RuntimeError):
    pass


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    ca: Path | None
    cert: Path
    key: Path

    def check_files(self) -> None:
        for label, path in (("--ca", self.ca), ("--cert", self.cert), ("--key", self.key)):
            if path is not None and not Path(path).is_file():
                raise MqttError(f"{label} {path}: no such file")


class MqttConnection:
    """Received messages land in ``messages`` (a queue), in arrival order.

    ``session_expiry_s`` > 0 asks for a persistent session: connecting again with the same client id
    within that time resumes the subscriptions and receives the QoS 1 messages sent meanwhile."""

    def __init__(self, endpoint: Endpoint, client_id: str, session_expiry_s: int = 0) -> None:
        endpoint.check_files()
        self.endpoint = endpoint
        self.client_id = client_id
        self.session_expiry_s = session_expiry_s
        self.messages: queue.Queue[Message] = queue.Queue()
        self._connected = threading.Event()
        self._stopped = threading.Event()
        self._failure: Exception | None = None
        self._client: mqtt5.Client | None = None

    def connect(self, timeout_s: float = OPERATION_TIMEOUT_S) -> None:
        # A second client under the same id would take the session over, and the first one, no longer
        # referenced, would be freed by Python while its native threads still call back (a segfault).
        if self._client is not None:
            raise MqttError(f"{self.client_id} is already connected")
        options = {"ca_filepath": str(self.endpoint.ca)} if self.endpoint.ca else {}
        self._client = mqtt5_client_builder.mtls_from_path(
            endpoint=self.endpoint.host,
            port=self.endpoint.port,
            cert_filepath=str(self.endpoint.cert),
            pri_key_filepath=str(self.endpoint.key),
            client_id=self.client_id,
            session_behavior=(mqtt5.ClientSessionBehaviorType.REJOIN_ALWAYS if self.session_expiry_s
                              else mqtt5.ClientSessionBehaviorType.CLEAN),
            session_expiry_interval_sec=self.session_expiry_s,
            enable_metrics_collection=False,
            on_publish_received=self._on_publish,
            on_lifecycle_connection_success=lambda _: self._connected.set(),
            on_lifecycle_connection_failure=self._on_failure,
            on_lifecycle_stopped=lambda _: self._stopped.set(),
            **options,
        )
        self._client.start()
        if not self._connected.wait(timeout_s):
            self.close()
            raise MqttError(f"cannot connect to {self.endpoint.host}:{self.endpoint.port} as {self.client_id}: "
                            f"{self._failure or 'no answer'}")

    def subscribe(self, topic_filter: str, qos: int = 1) -> None:
        packet = mqtt5.SubscribePacket(subscriptions=[mqtt5.Subscription(topic_filter=topic_filter,
                                                                         qos=mqtt5.QoS(qos))])
        suback = self._require().subscribe(packet).result(OPERATION_TIMEOUT_S)
        codes = suback.reason_codes or []
        if not codes or codes[0] not in _GRANTED:
            raise MqttError(f"subscribing to {topic_filter} refused: {codes[0].name if codes else 'no reason code'}")

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> mqtt5.PubackReasonCode | None:
        """The PUBACK reason code (None for QoS 0); a refusal raises :class:`MqttError`."""
        packet = mqtt5.PublishPacket(topic=topic, payload=payload, qos=mqtt5.QoS(qos))
        result = self._require().publish(packet).result(OPERATION_TIMEOUT_S)
        puback = getattr(result, "puback", None)
        if qos and (puback is None or puback.reason_code not in _PUBLISHED):
            reason = puback.reason_code.name if puback is not None else "no PUBACK"
            raise MqttError(f"publishing to {topic} refused: {reason}")
        return puback.reason_code if qos and puback is not None else None

    def publish_until_heard(self, topic: str, payload: bytes, timeout_s: float = OPERATION_TIMEOUT_S,
                            on_unheard: Callable[[], None] | None = None) -> None:
        """Publish at QoS 1 again while the broker answers NO_MATCHING_SUBSCRIBERS (it delivered the
        message to nobody, e.g. a device component restarting has not subscribed yet), up to
        ``timeout_s``. Against a broker that never reports it, this is one plain QoS 1 publish."""
        deadline = time.monotonic() + timeout_s
        while self.publish(topic, payload, qos=1) is mqtt5.PubackReasonCode.NO_MATCHING_SUBSCRIBERS:
            if on_unheard is not None:
                on_unheard()
            if time.monotonic() >= deadline:
                raise MqttError(f"nobody subscribed to {topic} within {timeout_s:g} s")
            time.sleep(UNHEARD_RETRY_S)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        client.stop()
        self._stopped.wait(OPERATION_TIMEOUT_S)

    def __enter__(self) -> MqttConnection:
        """Connects unless :meth:`connect` was already called; closes on exit either way."""
        if self._client is None:
            self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _require(self) -> mqtt5.Client:
        if self._client is None:
            raise MqttError("not connected")
        return self._client

    def _on_publish(self, data: mqtt5.PublishReceivedData) -> None:
        packet = data.publish_packet
        self.messages.put(Message(packet.topic, bytes(packet.payload or b"")))

    def _on_failure(self, data: mqtt5.LifecycleConnectFailureData) -> None:
        self._failure = data.exception
