"""Per-component configuration trees with change notification, like the nucleus's config store.

Every leaf carries the timestamp (ms) of its last write; an UpdateConfiguration older than the
value it would replace is ignored, as the nucleus does. Subscribers get one call per changed key
path (leaf, or the node whose type changed) whose path lies under, or above, the subscribed path.
Callbacks run on the writer's thread after the lock is released.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

ConfigCallback = Callable[[str, list[str]], None]
_Path = tuple[str, ...]


def _now_ms() -> int:
    return int(time.time() * 1000)


def _changed_paths(old: Any, new: Any, prefix: _Path = ()) -> list[_Path]:
    if isinstance(old, dict) and isinstance(new, dict):
        changed: list[_Path] = []
        for key in sorted(set(old) | set(new), key=str):
            if key not in old or key not in new:
                changed.append((*prefix, key))
            else:
                changed.extend(_changed_paths(old[key], new[key], (*prefix, key)))
        return changed
    if old == new and type(old) is type(new):
        return []
    return [prefix]


def _is_related(changed: _Path, subscribed: _Path) -> bool:
    shorter = min(len(changed), len(subscribed))
    return changed[:shorter] == subscribed[:shorter]


class ConfigStore:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._configs: dict[str, dict[str, Any]] = {}
        self._timestamps: dict[str, dict[_Path, int]] = {}
        self._subscribers: dict[str, list[tuple[_Path, ConfigCallback]]] = {}
        self._generations: dict[str, int] = {}

    def generation(self, component: str) -> int:
        """A number that changes whenever the component's configuration changes (for caches)."""
        with self._lock:
            return self._generations.get(component, 0)

    def _bump(self, component: str) -> None:
        self._generations[component] = self._generations.get(component, 0) + 1

    def components(self) -> list[str]:
        with self._lock:
            return sorted(self._configs)

    def has_component(self, component: str) -> bool:
        with self._lock:
            return component in self._configs

    def set_component(self, component: str, config: dict) -> None:
        if not isinstance(config, dict):
            raise TypeError("a component configuration must be a JSON object")
        new = copy.deepcopy(config)
        now = _now_ms()
        with self._lock:
            old = self._configs.get(component, {})
            changed = _changed_paths(old, new)
            self._configs[component] = new
            stamps = self._timestamps.setdefault(component, {})
            for path in changed:
                stamps[path] = now
            self._bump(component)
        self._notify(component, changed)

    def remove_component(self, component: str) -> None:
        with self._lock:
            self._configs.pop(component, None)
            self._timestamps.pop(component, None)
            self._bump(component)

    def get(self, component: str, key_path: list[str]) -> Any:
        with self._lock:
            if component not in self._configs:
                raise KeyError(component)
            node: Any = self._configs[component]
            for key in key_path:
                if not isinstance(node, dict) or key not in node:
                    raise KeyError("/".join([component, *key_path]))
                node = node[key]
            return copy.deepcopy(node)

    def merge(self, component: str, key_path: list[str], value: Any, timestamp_ms: int) -> None:
        """Merge ``value`` at ``key_path``: objects merge key by key, anything else replaces."""
        changed: list[_Path] = []
        with self._lock:
            root = self._configs.setdefault(component, {})
            stamps = self._timestamps.setdefault(component, {})
            self._merge_into(root, tuple(key_path), value, timestamp_ms=timestamp_ms, stamps=stamps, changed=changed)
            if changed:
                self._bump(component)
        self._notify(component, changed)

    def _merge_into(
        self, root: dict, path: _Path, value: Any, *, timestamp_ms: int, stamps: dict[_Path, int], changed: list[_Path]
    ) -> None:
        if isinstance(value, dict) and value:
            for key, child in value.items():
                self._merge_into(
                    root, (*path, str(key)), child, timestamp_ms=timestamp_ms, stamps=stamps, changed=changed
                )
            return
        if not path:
            return
        if stamps.get(path, 0) > timestamp_ms:
            log.info("ignoring stale update of %s (timestamp %d)", "/".join(path), timestamp_ms)
            return
        parent = root
        for key in path[:-1]:
            child = parent.get(key)
            if not isinstance(child, dict):
                child = parent[key] = {}
            parent = child
        old = parent.get(path[-1], _MISSING)
        new = copy.deepcopy(value)
        if isinstance(old, dict) and isinstance(new, dict):
            return  # empty object merged into an existing object: nothing to do
        if old is _MISSING or old != new or type(old) is not type(new):
            parent[path[-1]] = new
            stamps[path] = timestamp_ms
            changed.append(path)

    def subscribe(self, component: str, key_path: list[str], callback: ConfigCallback) -> Callable[[], None]:
        entry = (tuple(key_path), callback)
        with self._lock:
            self._subscribers.setdefault(component, []).append(entry)

        def unsubscribe() -> None:
            with self._lock:
                entries = self._subscribers.get(component, [])
                if entry in entries:
                    entries.remove(entry)

        return unsubscribe

    def _notify(self, component: str, changed: list[_Path]) -> None:
        if not changed:
            return
        with self._lock:
            subscribers = list(self._subscribers.get(component, []))
        for path in changed:
            for subscribed, callback in subscribers:
                if _is_related(path, subscribed):
                    try:
                        callback(component, list(path))
                    except Exception:
                        log.exception("configuration subscriber of %s failed", component)


_MISSING = object()
