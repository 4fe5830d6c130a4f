"""Local publish/subscribe between components (PublishToTopic / SubscribeToTopic).

Subscriptions are MQTT-style filters (``+``, ``#``). A subscriber in RECEIVE_MESSAGES_FROM_OTHERS
mode does not get what its own component publishes. Delivery callbacks are called synchronously on
the publisher's thread (the IPC event loop); they must not block (the IPC connection only queues).
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local_greengrass.ipc.authorization import mqtt_filter_matches

log = logging.getLogger(__name__)

RECEIVE_ALL = "RECEIVE_ALL_MESSAGES"
RECEIVE_FROM_OTHERS = "RECEIVE_MESSAGES_FROM_OTHERS"
RECEIVE_MODES = (RECEIVE_ALL, RECEIVE_FROM_OTHERS)

# (topic, message) where message is the IPC PublishMessage JSON: {"jsonMessage": ...} or {"binaryMessage": ...}
Delivery = Callable[[str, dict[str, Any]], None]


def has_wildcard(topic: str) -> bool:
    return any(char in topic for char in "+#*")


def default_receive_mode(topic_filter: str) -> str:
    return RECEIVE_FROM_OTHERS if has_wildcard(topic_filter) else RECEIVE_ALL


@dataclass(frozen=True, eq=False)
class _Subscription:
    topic_filter: str
    component: str
    receive_mode: str
    deliver: Delivery


class LocalPubSub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._exact: dict[str, dict[int, _Subscription]] = {}
        self._wildcard: dict[int, _Subscription] = {}
        self._ids = itertools.count()

    def subscribe(
        self, topic_filter: str, component: str, deliver: Delivery, receive_mode: str | None = None
    ) -> Callable[[], None]:
        mode = receive_mode or default_receive_mode(topic_filter)
        if mode not in RECEIVE_MODES:
            raise ValueError(f"unknown receive mode {mode}")
        subscription = _Subscription(topic_filter, component, mode, deliver)
        key = next(self._ids)
        wildcard = "+" in topic_filter or "#" in topic_filter
        with self._lock:
            if wildcard:
                self._wildcard[key] = subscription
            else:
                self._exact.setdefault(topic_filter, {})[key] = subscription

        def unsubscribe() -> None:
            with self._lock:
                if wildcard:
                    self._wildcard.pop(key, None)
                else:
                    bucket = self._exact.get(topic_filter, {})
                    bucket.pop(key, None)
                    if not bucket:
                        self._exact.pop(topic_filter, None)

        return unsubscribe

    def publish(self, topic: str, source_component: str, message: dict[str, Any]) -> int:
        """Deliver to every matching subscription; returns how many got it."""
        with self._lock:
            targets = list(self._exact.get(topic, {}).values())
            targets += [s for s in self._wildcard.values() if mqtt_filter_matches(s.topic_filter, topic)]
        delivered = 0
        for subscription in targets:
            if subscription.receive_mode == RECEIVE_FROM_OTHERS and subscription.component == source_component:
                continue
            try:
                subscription.deliver(topic, message)
                delivered += 1
            except Exception:
                log.exception("delivery to %s on %s failed", subscription.component, subscription.topic_filter)
        return delivered
