"""The runtime's own MQTT connection to "IoT Core" (mosquitto locally), as the nucleus keeps one.

One awscrt MQTT5 client with mutual TLS carries every PublishToIoTCore/SubscribeToIoTCore. Several
local subscribers may share one topic filter: the broker subscription is reference counted, and
every active filter is subscribed again after a reconnect (the session is not assumed to survive).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from awscrt import mqtt5
from awscrt.exceptions import AwsCrtError
from awsiot import mqtt5_client_builder

from local_greengrass.ipc.authorization import mqtt_filter_matches

log = logging.getLogger(__name__)

MessageCallback = Callable[[str, bytes], None]
OPERATION_TIMEOUT_SECONDS = 30.0
_SUCCESSFUL_PUBACK = {mqtt5.PubackReasonCode.SUCCESS, mqtt5.PubackReasonCode.NO_MATCHING_SUBSCRIBERS}
_GRANTED = {mqtt5.SubackReasonCode.GRANTED_QOS_0, mqtt5.SubackReasonCode.GRANTED_QOS_1}


class IoTCoreError(RuntimeError):
    pass


def _log_unsubscribe_failure(future: Future) -> None:
    if future.exception() is not None:
        log.warning("unsubscribe failed: %s", future.exception())


class IoTCoreBridge:
    def __init__(self, host: str, port: int, ca: Path, cert: Path, key: Path, client_id: str) -> None:  # noqa: PLR0917
        self.host = host
        self.port = port
        self.client_id = client_id
        self._ca, self._cert, self._key = Path(ca), Path(cert), Path(key)
        self._lock = threading.Lock()
        self._filters: dict[str, dict[int, MessageCallback]] = {}  # filter -> {subscription id: callback}
        self._filter_qos: dict[str, int] = {}
        self._next_id = 0
        self._connected = threading.Event()
        self._ever_connected = False
        self._last_failure: Exception | None = None
        self._stopped = Future()
        self._client: mqtt5.Client | None = None

    def start(self, timeout: float = OPERATION_TIMEOUT_SECONDS) -> None:
        self._stopped = Future()
        self._ever_connected = False
        self._client = mqtt5_client_builder.mtls_from_path(
            endpoint=self.host,
            port=self.port,
            cert_filepath=str(self._cert),
            pri_key_filepath=str(self._key),
            ca_filepath=str(self._ca),
            client_id=self.client_id,
            enable_metrics_collection=False,
            min_reconnect_delay_ms=200,
            max_reconnect_delay_ms=5000,
            on_publish_received=self._on_publish,
            on_lifecycle_connection_success=self._on_connected,
            on_lifecycle_connection_failure=self._on_connection_failure,
            on_lifecycle_disconnection=self._on_disconnected,
            on_lifecycle_stopped=self._on_stopped,
        )
        self._client.start()
        if not self._connected.wait(timeout):
            self.stop()
            raise IoTCoreError(f"could not connect to {self.host}:{self.port}: {self._last_failure}")
        log.info("connected to IoT Core stand-in %s:%d as %s", self.host, self.port, self.client_id)

    def stop(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        client.stop()
        try:
            self._stopped.result(timeout=10)
        except TimeoutError:
            log.warning("MQTT client did not report stopped in time")
        self._connected.clear()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def publish(self, topic: str, payload: bytes, qos: int) -> None:
        client = self._require_client()
        packet = mqtt5.PublishPacket(topic=topic, payload=payload, qos=mqtt5.QoS(qos))
        result = client.publish(packet).result(OPERATION_TIMEOUT_SECONDS)
        puback = result.puback
        if qos and (puback is None or puback.reason_code not in _SUCCESSFUL_PUBACK):
            reason = puback.reason_code.name if puback is not None else "no PUBACK"
            raise IoTCoreError(f"publish to {topic} refused: {reason}")

    def subscribe(self, topic_filter: str, qos: int, callback: MessageCallback) -> Callable[[], None]:
        client = self._require_client()
        with self._lock:
            first = topic_filter not in self._filters
            subscription_id = self._next_id
            self._next_id += 1
            self._filters.setdefault(topic_filter, {})[subscription_id] = callback
            self._filter_qos[topic_filter] = max(qos, self._filter_qos.get(topic_filter, 0))
        if first:
            try:
                self._subscribe_on_broker(client, topic_filter, qos)
            except Exception:
                self._remove(topic_filter, subscription_id)
                raise

        def unsubscribe() -> None:
            if self._remove(topic_filter, subscription_id) and self._client is not None:
                future = self._client.unsubscribe(mqtt5.UnsubscribePacket(topic_filters=[topic_filter]))
                future.add_done_callback(_log_unsubscribe_failure)

        return unsubscribe

    # internals -------------------------------------------------------------------------------
    def _require_client(self) -> mqtt5.Client:
        if self._client is None:
            raise IoTCoreError("the IoT Core bridge is not started")
        return self._client

    def _remove(self, topic_filter: str, subscription_id: int) -> bool:
        """Drop one local subscription; True when it was the filter's last one."""
        with self._lock:
            callbacks = self._filters.get(topic_filter)
            if callbacks is None or callbacks.pop(subscription_id, None) is None:
                return False
            if callbacks:
                return False
            del self._filters[topic_filter]
            self._filter_qos.pop(topic_filter, None)
            return True

    @staticmethod
    def _subscribe_on_broker(client: mqtt5.Client, topic_filter: str, qos: int) -> None:
        subscription = mqtt5.Subscription(topic_filter=topic_filter, qos=mqtt5.QoS(qos))
        packet = mqtt5.SubscribePacket(subscriptions=[subscription])
        suback = client.subscribe(packet).result(OPERATION_TIMEOUT_SECONDS)
        codes = suback.reason_codes or []
        if not codes or codes[0] not in _GRANTED:
            reason = codes[0].name if codes else "no reason code"
            raise IoTCoreError(f"subscription to {topic_filter} refused: {reason}")

    def _on_publish(self, data: mqtt5.PublishReceivedData) -> None:
        packet = data.publish_packet
        topic = packet.topic
        payload = bytes(packet.payload or b"")
        with self._lock:
            targets = [
                callback
                for topic_filter, callbacks in self._filters.items()
                if mqtt_filter_matches(topic_filter, topic)
                for callback in callbacks.values()
            ]
        for callback in targets:
            try:
                callback(topic, payload)
            except Exception:
                log.exception("IoT Core message handler for %s failed", topic)

    def _on_connected(self, data: mqtt5.LifecycleConnectSuccessData) -> None:
        reconnect = self._ever_connected
        self._ever_connected = True
        self._connected.set()
        if reconnect:
            threading.Thread(target=self._resubscribe, name="iot-resubscribe", daemon=True).start()

    def _resubscribe(self) -> None:
        client = self._client
        with self._lock:
            filters = dict(self._filter_qos)
        for topic_filter, qos in filters.items():
            if client is None:
                return
            try:
                self._subscribe_on_broker(client, topic_filter, qos)
            except (AwsCrtError, IoTCoreError, TimeoutError) as exc:
                log.warning("resubscribing %s after reconnect failed: %s", topic_filter, exc)

    def _on_connection_failure(self, data: mqtt5.LifecycleConnectFailureData) -> None:
        self._last_failure = data.exception
        log.warning("IoT Core connection attempt failed: %s", data.exception)

    def _on_disconnected(self, data: mqtt5.LifecycleDisconnectData) -> None:
        self._connected.clear()
        log.warning("IoT Core connection lost: %s", data.exception)

    def _on_stopped(self, data: mqtt5.LifecycleStoppedData) -> None:
        if not self._stopped.done():
            self._stopped.set_result(None)
