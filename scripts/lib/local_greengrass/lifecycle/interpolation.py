"""Recipe variables: {artifacts:path}, {configuration:/pointer}, {work:path}, {Other:artifacts:path}, ...

As the nucleus does: cross-component variables only for DIRECT dependencies; a placeholder that
names no known namespace (`{COMPONENT_NAME}`, shell `${VAR}`, JSON) is left as written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from local_greengrass.deployment.recipes import COMPONENT_NAME

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_LOCAL = {"artifacts", "configuration", "work", "kernel", "iot"}
_CROSS = {"artifacts", "configuration", "work"}


class InterpolationError(ValueError):
    pass


@dataclass(frozen=True)
class ComponentView:
    """What another recipe may read of a component: its folders and its configuration."""

    name: str
    artifacts_path: str
    decompressed_path: str
    work_path: str
    configuration: Mapping[str, Any] = field(default_factory=dict)


def resolve_pointer(document: Any, pointer: str) -> Any:
    """RFC 6901; raises KeyError when the pointer names nothing."""
    if pointer == "":
        return document
    if not pointer.startswith("/"):
        raise KeyError(pointer)
    node = document
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise KeyError(pointer)
    return node


def as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


@dataclass
class Interpolator:
    kernel_root: str
    thing_name: str
    components: Mapping[str, ComponentView]

    def text(self, text: str, component: str, direct_dependencies: Collection[str]) -> str:
        def replace(match: re.Match[str]) -> str:
            found = self._lookup(match.group(1), component, direct_dependencies)
            return match.group(0) if found is None else found

        return _PLACEHOLDER.sub(replace, text)

    def value(self, value: Any, component: str, direct_dependencies: Collection[str]) -> Any:
        """Every string inside a configuration tree (interpolateComponentConfiguration)."""
        if isinstance(value, str):
            return self.text(value, component, direct_dependencies)
        if isinstance(value, dict):
            return {k: self.value(v, component, direct_dependencies) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, component, direct_dependencies) for v in value]
        return value

    def _lookup(self, body: str, component: str, direct_dependencies: Collection[str]) -> str | None:
        parts = body.split(":", 2)
        if len(parts) == 2 and parts[0] in _LOCAL:
            return self._local(component, parts[0], parts[1])
        if len(parts) == 3 and parts[1] in _CROSS and COMPONENT_NAME.match(parts[0]):
            other = parts[0]
            if other not in direct_dependencies:
                raise InterpolationError(
                    f"{component}: {{{body}}} refers to {other}, which is not a direct dependency of "
                    f"{component}; add {other} to its ComponentDependencies")
            if other not in self.components:
                raise InterpolationError(f"{component}: {{{body}}}: {other} has no artifacts, work or "
                                         "configuration here (it is a built-in of the runtime)")
            return self._local(other, parts[1], parts[2])
        return None

    def _local(self, component: str, namespace: str, key: str) -> str | None:
        if namespace == "kernel":
            return self.kernel_root if key == "rootPath" else None
        if namespace == "iot":
            return self.thing_name if key == "thingName" else None
        view = self.components.get(component)
        if view is None:
            return None
        if namespace == "configuration":
            try:
                return as_text(resolve_pointer(view.configuration, key))
            except KeyError:
                return None
        return {
            ("artifacts", "path"): view.artifacts_path,
            ("artifacts", "decompressedPath"): view.decompressed_path,
            ("work", "path"): view.work_path,
        }.get((namespace, key))
