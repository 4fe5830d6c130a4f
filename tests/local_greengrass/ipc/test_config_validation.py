"""SubscribeToValidateConfigurationUpdates and SendConfigurationValidityReport with the real awsiotsdk client.

The deployment side (ConfigValidation.request) is driven from the test, as the launcher drives it.
"""

from __future__ import annotations

import time

from local_greengrass.configuration.validation import ACCEPTED, REJECTED

REPLY_TIMEOUT = 90.0


def _wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + REPLY_TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_the_proposal_reaches_the_subscriber_and_its_report_answers_the_deployment(server, config, spawn_client):
    config.set_component("Cam", {"fps": 5})
    cam = spawn_client(server.add_component("Cam"))
    cam.ok("subscribe_validation", answer={"status": "REJECTED", "message": "fps must be at most 30"})
    proposal = {"fps": 60, "accessControl": {"aws.greengrass.ipc.pubsub": {}}}

    report = server.validation.request("Cam", "deployment-1", proposal).result(REPLY_TIMEOUT)

    assert (report.status, report.deployment_id, report.message) == (REJECTED, "deployment-1", "fps must be at most 30")
    events = cam.ok("wait_events", name="validation", count=1)
    assert events == [{"deploymentId": "deployment-1", "configuration": proposal}]
    assert config.get("Cam", []) == {"fps": 5}  # validating never applies anything
    # A component that did not subscribe is not asked: nothing to wait for.
    spawn_client(server.add_component("Quiet")).ok("connect")
    assert server.validation.request("Quiet", "deployment-1", {"a": 1}) is None


def test_accepted_report_and_a_second_deployment(server, config, spawn_client):
    config.set_component("Cam", {"fps": 5})
    cam = spawn_client(server.add_component("Cam"))
    cam.ok("subscribe_validation", answer={"status": "ACCEPTED"})
    first = server.validation.request("Cam", "d-1", {"fps": 10}).result(REPLY_TIMEOUT)
    second = server.validation.request("Cam", "d-2", {"fps": 12}).result(REPLY_TIMEOUT)
    assert (first.status, first.deployment_id, first.message) == (ACCEPTED, "d-1", None)
    assert (second.status, second.deployment_id) == (ACCEPTED, "d-2")


def test_reports_nobody_waits_for_are_invalid_arguments(server, config, spawn_client):
    config.set_component("Cam", {})
    cam = spawn_client(server.add_component("Cam"))
    cam.ok("subscribe_validation")  # records proposals, answers nothing

    never_asked = cam.call("send_validity_report", status="ACCEPTED", deployment_id="never-asked")
    assert never_asked["error"] == "InvalidArgumentsError"
    assert "Validation request either timed out or was never made" in never_asked["message"]

    future = server.validation.request("Cam", "d-late", {"x": 1})
    assert cam.ok("wait_events", name="validation", count=1)[0]["deploymentId"] == "d-late"
    server.validation.discard("Cam", "d-late")  # the deployment gave up (timeout)
    assert future.cancelled()
    late = cam.call("send_validity_report", status="ACCEPTED", deployment_id="d-late")
    assert late["error"] == "InvalidArgumentsError"

    no_id = cam.call("send_validity_report", status="ACCEPTED")
    assert no_id["error"] == "InvalidArgumentsError" and "deployment ID provided was null" in no_id["message"]

    # Another component cannot answer for Cam.
    future = server.validation.request("Cam", "d-2", {"x": 2})
    other = spawn_client(server.add_component("Other"))
    assert other.call("send_validity_report", status="ACCEPTED", deployment_id="d-2")["error"] == \
        "InvalidArgumentsError"
    assert not future.done()
    cam.ok("send_validity_report", status="REJECTED", deployment_id="d-2", message="no")
    assert future.result(REPLY_TIMEOUT).message == "no"


def test_closing_the_stream_or_disconnecting_ends_the_subscription(server, config, spawn_client):
    config.set_component("Cam", {})
    cam = spawn_client(server.add_component("Cam"))
    cam.ok("subscribe_validation", name="v")
    assert server.validation.subscribed("Cam")
    cam.ok("unsubscribe", name="v")
    _wait_until(lambda: not server.validation.subscribed("Cam"), "the unsubscribe")
    assert server.validation.request("Cam", "d-1", {}) is None

    cam.ok("subscribe_validation", name="v2")
    assert server.validation.subscribed("Cam")
    cam.close()
    _wait_until(lambda: not server.validation.subscribed("Cam"), "the disconnect")
