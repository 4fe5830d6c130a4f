"""ConfigStore and LocalPubSub units."""

from __future__ import annotations

import pytest

from local_greengrass.configuration.store import ConfigStore
from local_greengrass.ipc.pubsub import RECEIVE_ALL, RECEIVE_FROM_OTHERS, LocalPubSub, default_receive_mode


def test_get_returns_copies_and_raises_key_error():
    store = ConfigStore()
    store.set_component("C", {"a": {"b": [1, 2]}})
    value = store.get("C", ["a"])
    value["b"].append(3)
    assert store.get("C", ["a", "b"]) == [1, 2]
    with pytest.raises(KeyError):
        store.get("C", ["a", "missing"])
    with pytest.raises(KeyError):
        store.get("C", ["a", "b", "deeper"])
    with pytest.raises(KeyError):
        store.get("Nobody", [])


def test_merge_deep_merges_objects_and_replaces_scalars():
    store = ConfigStore()
    store.set_component("C", {"camera": {"width": 640, "height": 480}, "list": [1]})
    store.merge("C", ["camera"], {"width": 1280, "extra": {"x": 1}}, timestamp_ms=2**62)
    store.merge("C", [], {"list": [2, 3]}, timestamp_ms=2**62)
    assert store.get("C", []) == {"camera": {"width": 1280, "height": 480, "extra": {"x": 1}}, "list": [2, 3]}


def test_stale_merge_is_ignored_per_key():
    store = ConfigStore()
    store.set_component("C", {"a": 1})
    store.merge("C", [], {"a": 2, "b": 2}, timestamp_ms=1)  # older than the deployment's write of "a"
    assert store.get("C", []) == {"a": 1, "b": 2}
    store.merge("C", [], {"b": 3}, timestamp_ms=5)
    store.merge("C", [], {"b": 4}, timestamp_ms=4)
    assert store.get("C", ["b"]) == 3


def test_subscribers_get_changed_paths_under_or_above_their_key():
    store = ConfigStore()
    store.set_component("C", {"camera": {"width": 640}, "fps": 5})
    camera, everything, other = [], [], []
    store.subscribe("C", ["camera"], lambda c, p: camera.append(p))
    store.subscribe("C", [], lambda c, p: everything.append(p))
    store.subscribe("D", [], lambda c, p: other.append(p))

    store.set_component("C", {"camera": {"width": 1280, "height": 720}, "fps": 5})
    assert camera == [["camera", "height"], ["camera", "width"]]
    assert everything == camera

    store.set_component("C", {"fps": 5})  # camera removed: a change above ["camera", ...]
    assert camera[-1] == ["camera"]
    store.set_component("C", {"fps": 5})  # nothing changed: no events
    assert len(everything) == 3
    assert other == []


def test_unsubscribe_stops_events_and_a_failing_callback_does_not_stop_others():
    store = ConfigStore()
    seen = []

    def broken(component, path):
        raise RuntimeError("boom")

    store.subscribe("C", [], broken)
    unsubscribe = store.subscribe("C", [], lambda c, p: seen.append(p))
    store.set_component("C", {"a": 1})
    unsubscribe()
    store.set_component("C", {"a": 2})
    assert seen == [["a"]]


def test_pubsub_receive_modes_and_wildcards():
    bus = LocalPubSub()
    got: dict[str, list] = {"exact": [], "plus": [], "hash": [], "others": []}
    bus.subscribe("a/b", "Me", lambda t, m: got["exact"].append(t))
    bus.subscribe("a/+", "Me", lambda t, m: got["plus"].append(t))
    bus.subscribe("#", "Me", lambda t, m: got["hash"].append(t), RECEIVE_ALL)
    unsubscribe = bus.subscribe("a/b", "Me", lambda t, m: got["others"].append(t), RECEIVE_FROM_OTHERS)

    bus.publish("a/b", "Me", {"jsonMessage": {"message": {}}})
    bus.publish("a/b", "You", {"jsonMessage": {"message": {}}})
    unsubscribe()
    bus.publish("a/b", "You", {"jsonMessage": {"message": {}}})
    assert got == {"exact": ["a/b"] * 3, "plus": ["a/b"] * 2, "hash": ["a/b"] * 3, "others": ["a/b"]}
    assert default_receive_mode("a/+") == RECEIVE_FROM_OTHERS
    assert default_receive_mode("a/b") == RECEIVE_ALL
