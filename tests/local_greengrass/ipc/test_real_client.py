"""The IPC server against the unmodified awsiotsdk GreengrassCoreIPCClientV2 in separate processes."""

from __future__ import annotations

import json
import socket
import time
import zlib
from typing import Any

import pytest

from local_greengrass.ipc.eventstream import Header, decode_message, encode_message

pytestmark = pytest.mark.integration


def pubsub_access(*resources: str, operations: tuple[str, ...] = ("*",)) -> dict[str, Any]:
    return {
        "aws.greengrass.ipc.pubsub": {
            "test:pubsub:1": {"policyDescription": "test", "operations": list(operations), "resources": list(resources)}
        }
    }


def test_one_process_receives_in_order_what_another_publishes(server, config, spawn_client):
    config.set_component("Sender", {"accessControl": pubsub_access("smartcam/frames")})
    config.set_component("Receiver", {"accessControl": pubsub_access("smartcam/*")})
    sender = spawn_client(server.add_component("Sender"))
    receiver = spawn_client(server.add_component("Receiver"))

    receiver.ok("subscribe", topic="smartcam/frames")
    for seq in range(50):
        sender.ok("publish", topic="smartcam/frames", message={"seq": seq})
    sender.ok("publish", topic="smartcam/frames", binary="raw bytes")

    events = receiver.ok("wait_events", name="smartcam/frames", count=51)
    assert [e["json"] for e in events[:50]] == [{"seq": seq} for seq in range(50)]
    assert all(e["topic"] == "smartcam/frames" for e in events)
    assert events[50]["binary"] == "cmF3IGJ5dGVz"  # base64 of b"raw bytes"


def test_receive_modes_and_wildcard_default(server, config, spawn_client):
    config.set_component("Echo", {"accessControl": pubsub_access("*")})
    echo = spawn_client(server.add_component("Echo"))
    echo.ok("subscribe", topic="modes/exact", name="exact")  # default: all messages
    echo.ok("subscribe", topic="modes/+", name="wildcard")  # default: from others only
    echo.ok("subscribe", topic="modes/exact", receive_mode="RECEIVE_MESSAGES_FROM_OTHERS", name="others")
    echo.ok("publish", topic="modes/exact", message={"from": "self"})

    config.set_component("Other", {"accessControl": pubsub_access("modes/*")})
    other = spawn_client(server.add_component("Other"))
    other.ok("publish", topic="modes/exact", message={"from": "other"})

    assert [e["json"] for e in echo.ok("wait_events", name="exact", count=2)] == [{"from": "self"}, {"from": "other"}]
    assert [e["json"] for e in echo.ok("wait_events", name="wildcard", count=1)] == [{"from": "other"}]
    assert [e["json"] for e in echo.ok("wait_events", name="others", count=1)] == [{"from": "other"}]


def test_unsubscribe_on_stream_close_and_on_disconnect(server, config, spawn_client):
    config.set_component("Sub", {"accessControl": pubsub_access("gone/*")})
    subscriber = spawn_client(server.add_component("Sub"))
    subscriber.ok("subscribe", topic="gone/a", name="a")
    subscriber.ok("subscribe", topic="gone/b", name="b")
    assert len(server.pubsub._exact) == 2

    subscriber.ok("unsubscribe", name="a")
    deadline = time.monotonic() + 30
    while "gone/a" in server.pubsub._exact and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "gone/a" not in server.pubsub._exact

    subscriber.close()
    while server.pubsub._exact and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.pubsub._exact == {}


def test_configuration_get_update_and_events(server, config, spawn_client):
    config.set_component("Ingest", {"fps": 5, "camera": {"width": 640, "height": 480}})
    config.set_component("Other", {"tableName": "detections"})
    ingest = spawn_client(server.add_component("Ingest"))

    assert ingest.ok("get_config") == {
        "componentName": "Ingest",
        "value": {"fps": 5, "camera": {"width": 640, "height": 480}},
    }
    assert ingest.ok("get_config", key_path=["camera", "width"])["value"] == {"width": 640}
    assert ingest.ok("get_config", component="Other", key_path=["tableName"]) == {
        "componentName": "Other",
        "value": {"tableName": "detections"},
    }
    missing = ingest.call("get_config", key_path=["nope"])
    assert missing["error"] == "ResourceNotFoundError"

    ingest.ok("subscribe_config", key_path=["camera"], name="camera-events")
    ingest.ok("update_config", key_path=["camera"], value={"width": 1280})
    assert config.get("Ingest", ["camera"]) == {"width": 1280, "height": 480}
    stale = time.time() - 3600
    ingest.ok("update_config", key_path=["camera"], value={"width": 1}, timestamp=stale)
    assert config.get("Ingest", ["camera", "width"]) == 1280

    config.set_component("Ingest", {"fps": 10, "camera": {"width": 1280, "height": 720}})
    events = ingest.ok("wait_events", name="camera-events", count=2)
    # first from the component's own UpdateConfiguration, then from the redeploy (height changed)
    assert events[0] == {"componentName": "Ingest", "keyPath": ["camera", "width"]}
    assert events[1] == {"componentName": "Ingest", "keyPath": ["camera", "height"]}
    # An fps change is outside the subscribed key path; the camera change after it is inside. Events come
    # in order on the one stream, so the third event is the camera's, not one of the fps change.
    config.set_component("Ingest", {"fps": 15, "camera": {"width": 1280, "height": 720}})
    config.set_component("Ingest", {"fps": 15, "camera": {"width": 1920, "height": 720}})
    events = ingest.ok("wait_events", name="camera-events", count=3)
    assert events[2:] == [{"componentName": "Ingest", "keyPath": ["camera", "width"]}]


def test_update_state_reaches_on_state(server, config, spawn_client, states):
    config.set_component("Writer", {})
    writer = spawn_client(server.add_component("Writer"))
    writer.ok("update_state", state="RUNNING")
    writer.ok("update_state", state="ERRORED")
    assert states == [("Writer", "RUNNING"), ("Writer", "ERRORED")]


def test_access_control_denials_use_the_nucleus_text(server, config, spawn_client):
    access = pubsub_access("allowed/topic", operations=("aws.greengrass#PublishToTopic",))
    config.set_component("Narrow", {"accessControl": access})
    narrow = spawn_client(server.add_component("Narrow"))
    narrow.ok("publish", topic="allowed/topic", message={"ok": True})

    denied = narrow.call("publish", topic="other/topic", message={})
    assert denied["error"] == "UnauthorizedError"
    assert denied["message"] == (
        "Principal Narrow is not authorized to perform aws.greengrass.ipc.pubsub:aws.greengrass#PublishToTopic "
        "on resource other/topic"
    )
    assert narrow.call("subscribe", topic="allowed/topic")["error"] == "UnauthorizedError"
    assert narrow.call("publish_iot", topic="smartcam/x", payload="{}")["error"] == "UnauthorizedError"

    # accessControl is read per request: a redeploy applies at once
    config.set_component("Narrow", {"accessControl": pubsub_access("*")})
    narrow.ok("subscribe", topic="allowed/topic")


def test_wildcard_publish_is_invalid(server, config, spawn_client):
    config.set_component("Pub", {"accessControl": pubsub_access("*")})
    publisher = spawn_client(server.add_component("Pub"))
    for topic in ("a/+/b", "a/#", "a/*"):
        assert publisher.call("publish", topic=topic, message={})["error"] == "InvalidArgumentsError"


def test_unknown_token_is_refused_and_removed_component_loses_access(server, config, spawn_client):
    stranger = spawn_client("not-a-token")
    assert stranger.call("connect")["error"] == "AccessDeniedError"

    config.set_component("Temp", {})
    token = server.add_component("Temp")
    temp = spawn_client(token)
    temp.ok("get_config")
    server.remove_component("Temp")
    again = spawn_client(token)
    assert again.call("connect")["error"] == "AccessDeniedError"


def test_unsupported_operation_is_a_service_error_naming_it(server, config, spawn_client):
    config.set_component("Curious", {})
    curious = spawn_client(server.add_component("Curious"))
    reply = curious.call("list_components")
    assert reply["error"] == "ServiceError"
    assert "aws.greengrass#ListComponents" in reply["message"]
    curious.ok("get_config")  # the connection stays usable


def test_iot_core_operations_without_a_bridge_are_service_errors(server, config, spawn_client):
    config.set_component(
        "Cloudy",
        {"accessControl": {"aws.greengrass.ipc.mqttproxy": {"p": {"operations": ["*"], "resources": ["smartcam/#"]}}}},
    )
    cloudy = spawn_client(server.add_component("Cloudy"))
    assert cloudy.call("publish_iot", topic="smartcam/x", payload="{}")["error"] == "ServiceError"
    assert cloudy.call("subscribe_iot", topic="smartcam/x")["error"] == "ServiceError"


def _raw_connection(path) -> socket.socket:
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.settimeout(30)
    raw.connect(str(path))
    return raw


def _rpc_headers(message_type: int, flags: int = 0, stream_id: int = 0) -> list[Header]:
    return [Header.int32(":message-type", message_type), Header.int32(":message-flags", flags),
            Header.int32(":stream-id", stream_id)]


def _prelude(total: int, headers_length: int) -> bytes:
    head = total.to_bytes(4, "big") + headers_length.to_bytes(4, "big")
    return head + zlib.crc32(head).to_bytes(4, "big")


def _read_until_closed(raw: socket.socket) -> bytes:
    data = b""
    while chunk := raw.recv(65536):
        data += chunk
    return data


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00" * 64,  # prelude CRC mismatch
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        encode_message(_rpc_headers(4), b"")[:-1] + b"\x00",  # message CRC mismatch
        _prelude(2**30, 0),  # oversize frame
        _prelude(1024, 200 * 1024),  # oversize headers
        encode_message([Header.string(":version", "0.1.0")], b"{}"),  # no RPC headers
        encode_message(_rpc_headers(42), b""),  # unknown message type
        encode_message(_rpc_headers(0, stream_id=1), b"{}"),  # request before CONNECT
    ],
    ids=["zeros", "http", "bad-crc", "oversize", "oversize-headers", "no-rpc-headers", "unknown-type", "no-handshake"],
)
def test_garbage_closes_only_that_connection(server, config, spawn_client, garbage):
    config.set_component("Steady", {"accessControl": pubsub_access("steady")})
    steady = spawn_client(server.add_component("Steady"))
    steady.ok("subscribe", topic="steady")

    raw = _raw_connection(server.socket_path)
    raw.sendall(garbage)
    reply = _read_until_closed(raw)
    raw.close()
    answer = decode_message(reply)  # exactly one frame, then the server closed the connection
    assert answer.header(":message-type").value == 6  # PROTOCOL_ERROR

    steady.ok("publish", topic="steady", message={"still": "serving"})
    assert steady.ok("wait_events", name="steady", count=1)[0]["json"] == {"still": "serving"}


def test_client_vanishing_mid_stream_does_not_disturb_others(server, config, spawn_client):
    config.set_component("Steady", {"accessControl": pubsub_access("*")})
    token = server.add_component("Steady")
    steady = spawn_client(token)
    steady.ok("subscribe", topic="mid/stream")

    raw = _raw_connection(server.socket_path)
    hello = json.dumps({"authToken": token}).encode()
    connect = encode_message([*_rpc_headers(4), Header.string(":version", "0.1.0")], hello)
    raw.sendall(connect)
    ack = raw.recv(65536)
    assert len(ack) >= 16
    request = encode_message(
        [*_rpc_headers(0, stream_id=1), Header.string("operation", "aws.greengrass#SubscribeToTopic"),
         Header.string(":content-type", "application/json")],
        b'{"topic": "mid/stream"}',
    )
    raw.sendall(request + request[:20])  # a subscription, then half a frame, then gone
    time.sleep(0.2)
    raw.close()

    for seq in range(5):
        steady.ok("publish", topic="mid/stream", message={"seq": seq})
    assert [e["json"]["seq"] for e in steady.ok("wait_events", name="mid/stream", count=5)] == list(range(5))


def _authenticated_raw_connection(server, component: str) -> socket.socket:
    raw = _raw_connection(server.socket_path)
    hello = json.dumps({"authToken": server.add_component(component)}).encode()
    raw.sendall(encode_message([*_rpc_headers(4), Header.string(":version", "0.1.0")], hello))
    ack = decode_message(raw.recv(65536))
    assert ack.header(":message-type").value == 5
    assert ack.header(":message-flags").value == 1
    return raw


def test_socket_is_private_and_ping_is_answered(server, config):
    assert server.socket_path.stat().st_mode & 0o777 == 0o600
    config.set_component("Pinger", {})
    raw = _authenticated_raw_connection(server, "Pinger")
    raw.sendall(encode_message(_rpc_headers(2), b"hello"))
    pong = decode_message(raw.recv(65536))
    raw.close()
    assert pong.header(":message-type").value == 3
    assert pong.payload == b"hello"


def test_a_subscriber_that_never_reads_does_not_block_publishers(server, config, spawn_client):
    server.max_pending_event_bytes = 64 * 1024
    config.set_component("Slow", {"accessControl": pubsub_access("*")})
    config.set_component("Busy", {"accessControl": pubsub_access("*")})
    slow = _authenticated_raw_connection(server, "Slow")
    subscribe = encode_message(
        [*_rpc_headers(0, stream_id=1), Header.string("operation", "aws.greengrass#SubscribeToTopic"),
         Header.string(":content-type", "application/json")],
        b'{"topic": "flood"}',
    )
    slow.sendall(subscribe)  # ...and never reads again

    busy = spawn_client(server.add_component("Busy"))
    busy.ok("subscribe", topic="busy/after")
    big = "x" * 50_000
    for _ in range(100):  # 5 MB towards a reader that takes nothing
        busy.ok("publish", topic="flood", binary=big)
    busy.ok("publish", topic="busy/after", message={"still": "flowing"})

    assert busy.ok("wait_events", name="busy/after", count=1)[0]["json"] == {"still": "flowing"}
    assert server.dropped_events().get("Slow", 0) > 0
    slow.close()
