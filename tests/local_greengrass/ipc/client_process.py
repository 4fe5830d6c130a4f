"""A component stand-in for the IPC tests: the UNMODIFIED awsiotsdk GreengrassCoreIPCClientV2 in its own process.

Reads one JSON command per stdin line, prints one JSON result per line:
``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "<exception class>", "message": "..."}``.
Connects from the nucleus environment (AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT, SVCUID)
on the first command, so a refused connection is reported as a result too.
"""

from __future__ import annotations

import base64
import concurrent.futures
import datetime
import json
import sys
import threading
import time
from typing import Any

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import BinaryMessage, ConfigurationValidityReport, JsonMessage, PublishMessage

_state: dict[str, GreengrassCoreIPCClientV2] = {}
_events: dict[str, list[Any]] = {}
_lock = threading.Lock()
_operations: dict[str, Any] = {}


def client() -> GreengrassCoreIPCClientV2:
    if "client" not in _state:
        # One worker: events are handled in the order they arrive.
        executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        _state["client"] = GreengrassCoreIPCClientV2(executor=executor)
    return _state["client"]


def collect(name: str, value: Any) -> None:
    with _lock:
        _events.setdefault(name, []).append(value)


def on_topic_event(name: str) -> Any:
    def handle(event: Any) -> None:
        if event.json_message is not None:
            collect(name, {"topic": event.json_message.context.topic, "json": event.json_message.message})
        else:
            message = event.binary_message
            collect(name, {"topic": message.context.topic, "binary": base64.b64encode(message.message or b"").decode()})

    return handle


def run(command: dict[str, Any]) -> Any:
    op = command["op"]
    if op == "connect":
        client()
        return None
    if op == "publish":
        if "binary" in command:
            message = PublishMessage(binary_message=BinaryMessage(message=command["binary"].encode()))
        else:
            message = PublishMessage(json_message=JsonMessage(message=command["message"]))
        client().publish_to_topic(topic=command["topic"], publish_message=message)
        return None
    if op == "publish_many":
        futures = [
            client().publish_to_topic_async(
                topic=command["topic"], publish_message=PublishMessage(json_message=JsonMessage(message={"seq": i}))
            )
            for i in range(command["count"])
        ]
        for future in futures:
            future.result(60)
        return None
    if op == "subscribe":
        name = command.get("name", command["topic"])
        _, operation = client().subscribe_to_topic(
            topic=command["topic"], receive_mode=command.get("receive_mode"), on_stream_event=on_topic_event(name)
        )
        _operations[name] = operation
        return None
    if op == "unsubscribe":
        _operations.pop(command["name"]).close().result(30)
        return None
    if op == "subscribe_iot":
        name = command.get("name", command["topic"])

        def on_iot(event: Any) -> None:
            collect(name, {"topic": event.message.topic_name, "payload": event.message.payload.decode()})

        _, operation = client().subscribe_to_iot_core(topic_name=command["topic"], qos="1", on_stream_event=on_iot)
        _operations[name] = operation
        return None
    if op == "publish_iot":
        client().publish_to_iot_core(topic_name=command["topic"], qos=str(command.get("qos", 1)),
                                     payload=command["payload"].encode())
        return None
    if op == "get_config":
        response = client().get_configuration(component_name=command.get("component"), key_path=command.get("key_path"))
        return {"componentName": response.component_name, "value": response.value}
    if op == "update_config":
        client().update_configuration(
            key_path=command.get("key_path", []),
            timestamp=datetime.datetime.fromtimestamp(command.get("timestamp", time.time()), datetime.UTC),
            value_to_merge=command["value"],
        )
        return None
    if op == "subscribe_config":
        name = command.get("name", "config")

        def on_config(event: Any) -> None:
            update = event.configuration_update_event
            collect(name, {"componentName": update.component_name, "keyPath": update.key_path})

        _, operation = client().subscribe_to_configuration_update(
            component_name=command.get("component"), key_path=command.get("key_path"), on_stream_event=on_config
        )
        _operations[name] = operation
        return None
    if op == "subscribe_validation":
        name = command.get("name", "validation")
        answer = command.get("answer")  # {"status", "message"?}, or None to only record the proposal

        def on_validate(event: Any) -> None:
            proposal = event.validate_configuration_update_event
            collect(name, {"deploymentId": proposal.deployment_id, "configuration": proposal.configuration})
            if answer:
                report = ConfigurationValidityReport(status=answer["status"], deployment_id=proposal.deployment_id,
                                                     message=answer.get("message"))
                client().send_configuration_validity_report(configuration_validity_report=report)

        _, operation = client().subscribe_to_validate_configuration_updates(on_stream_event=on_validate)
        _operations[name] = operation
        return None
    if op == "send_validity_report":
        report = ConfigurationValidityReport(status=command["status"], deployment_id=command.get("deployment_id"),
                                             message=command.get("message"))
        client().send_configuration_validity_report(configuration_validity_report=report)
        return None
    if op == "update_state":
        client().update_state(state=command["state"])
        return None
    if op == "list_components":
        client().list_components()
        return None
    if op == "wait_events":
        deadline = time.monotonic() + command.get("timeout", 60)
        while time.monotonic() < deadline:
            with _lock:
                events = list(_events.get(command["name"], []))
            if len(events) >= command["count"]:
                return events
            time.sleep(0.02)
        return events
    if op == "events":
        with _lock:
            return list(_events.get(command["name"], []))
    raise ValueError(f"unknown op {op}")


def main() -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        if command["op"] == "exit":
            break
        try:
            reply = {"ok": True, "result": run(command)}
        except Exception as exc:  # report every failure to the test
            reply = {"ok": False, "error": type(exc).__name__, "message": getattr(exc, "message", None) or str(exc)}
        print(json.dumps(reply), flush=True)
    if "client" in _state:
        _state["client"].close()


if __name__ == "__main__":
    main()
