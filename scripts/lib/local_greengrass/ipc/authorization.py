"""IPC authorization from a component's ``accessControl`` configuration, matched as the nucleus does.

``accessControl`` = ``{service: {policyId: {"operations": [...], "resources": [...]}}}``. An operation
matches when listed or when the list holds ``"*"``. A resource matches when equal, when a ``*`` glob
matches it, or (pubsub and mqttproxy) when it is an MQTT filter with ``+``/``#`` that matches the
requested topic. ``${iot:thingName}`` is substituted and ``${*}``, ``${?}``, ``${$}`` stand for the
literal characters, like the nucleus's policy variables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

PUBSUB = "aws.greengrass.ipc.pubsub"
MQTT_PROXY = "aws.greengrass.ipc.mqttproxy"
_MQTT_SERVICES = frozenset({PUBSUB, MQTT_PROXY})


class AuthorizationError(Exception):
    def __init__(self, principal: str, service: str, operation: str, resource: str) -> None:
        super().__init__(
            f"Principal {principal} is not authorized to perform {service}:{operation} on resource {resource}"
        )


_LITERAL_ESCAPES = {"${*}": "*", "${?}": "?", "${$}": "$"}
_TOKEN = re.compile(r"\$\{\*\}|\$\{\?\}|\$\{\$\}|\*")


@lru_cache(maxsize=4096)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    last = 0
    for match in _TOKEN.finditer(pattern):
        parts.append(re.escape(pattern[last : match.start()]))
        piece = match.group()
        parts.append(".*" if piece == "*" else re.escape(_LITERAL_ESCAPES[piece]))
        last = match.end()
    parts.append(re.escape(pattern[last:]))
    return re.compile("".join(parts), re.DOTALL)


def glob_matches(pattern: str, resource: str) -> bool:
    return _glob_regex(pattern).fullmatch(resource) is not None


def mqtt_filter_matches(topic_filter: str, topic: str) -> bool:
    """MQTT 3.1.1 section 4.7 matching; wildcard characters in ``topic`` are taken literally."""
    filter_levels = topic_filter.split("/")
    topic_levels = topic.split("/")
    for index, level in enumerate(filter_levels):
        if level == "#":
            return index == len(filter_levels) - 1
        if index >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[index]:
            return False
    return len(filter_levels) == len(topic_levels)


def resource_matches(service: str, pattern: str, resource: str, *, thing_name: str | None = None) -> bool:
    if thing_name is not None:
        pattern = pattern.replace("${iot:thingName}", thing_name)
    if pattern == resource or glob_matches(pattern, resource):
        return True
    if service in _MQTT_SERVICES and ("+" in pattern or "#" in pattern):
        return mqtt_filter_matches(pattern, resource)
    return False


def is_authorized(
    access_control: Mapping[str, Any] | None,
    service: str,
    operation: str,
    resource: str,
    *,
    thing_name: str | None = None,
) -> bool:
    if not isinstance(access_control, Mapping):
        return False
    policies = access_control.get(service)
    if not isinstance(policies, Mapping):
        return False
    for policy in policies.values():
        if not isinstance(policy, Mapping):
            continue
        operations = policy.get("operations") or []
        resources = policy.get("resources") or []
        if not isinstance(operations, list) or not isinstance(resources, list):
            continue
        if operation not in operations and "*" not in operations:
            continue
        if any(isinstance(p, str) and resource_matches(service, p, resource, thing_name=thing_name) for p in resources):
            return True
    return False


def check(
    principal: str,
    access_control: Mapping[str, Any] | None,
    service: str,
    operation: str,
    resource: str,
    *,
    thing_name: str | None = None,
) -> None:
    """Raise :class:`AuthorizationError` with the nucleus's message unless allowed."""
    if not is_authorized(access_control, service, operation, resource, thing_name=thing_name):
        raise AuthorizationError(principal, service, operation, resource)
