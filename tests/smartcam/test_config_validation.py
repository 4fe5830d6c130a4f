"""LiveConfig answers the nucleus's configuration validation (mocked IPC client, real awsiotsdk model objects)."""

from __future__ import annotations

import threading

import pytest
from awsiot.greengrasscoreipc.model import (
    ConfigurationValidityStatus,
)

from smartcam.config import ConfigError, LiveConfig, validate_config
from smartcam.ipc import Ipc
from tests.support.fake_nucleus import DemoConfig, FakeNucleus


def test_a_valid_proposal_is_accepted_and_not_applied_by_validation():
    nucleus = FakeNucleus({"scoreThreshold": 0.7})
    config = LiveConfig(Ipc(nucleus.client), DemoConfig)
    nucleus.propose({"scoreThreshold": 0.9, "cameraId": "cam2",
                     "accessControl": {"aws.greengrass.ipc.pubsub": {}}})  # accessControl is not a setting
    [report] = nucleus.reports()
    assert report.status == ConfigurationValidityStatus.ACCEPTED
    assert report.deployment_id == "deployment-1" and report.message is None
    assert report._to_payload() == {"status": "ACCEPTED", "deploymentId": "deployment-1"}
    assert config.current == DemoConfig(score_threshold=0.7)  # only the update event applies it


@pytest.mark.parametrize("proposal", [{"scoreThreshold": "high"}, {"scoreThreshold": 0.5, "fps": 3}])
def test_an_invalid_proposal_is_rejected_with_the_validation_message(proposal: dict):
    nucleus = FakeNucleus({"scoreThreshold": 0.7})
    config = LiveConfig(Ipc(nucleus.client), DemoConfig)
    nucleus.propose(proposal, "deployment-2")
    [report] = nucleus.reports()
    with pytest.raises(ConfigError) as expected:
        validate_config(DemoConfig, proposal)
    assert report.status == ConfigurationValidityStatus.REJECTED
    assert report.deployment_id == "deployment-2"
    assert report.message == str(expected.value) and "invalid DemoConfig" in report.message
    assert config.current == DemoConfig(score_threshold=0.7)


def test_validation_is_answered_while_the_current_configuration_is_unusable():
    nucleus = FakeNucleus({"scoreThreshold": "not a number"})
    errors: list[ConfigError] = []
    config = LiveConfig(Ipc(nucleus.client), DemoConfig, on_error=errors.append)
    assert errors and not config.wait_until_valid(_already_set())
    nucleus.propose({"scoreThreshold": 0.4})
    nucleus.propose({"scoreThreshold": "still not"}, "deployment-3")
    assert [r.status for r in nucleus.reports()] == [ConfigurationValidityStatus.ACCEPTED,
                                                     ConfigurationValidityStatus.REJECTED]


def test_a_failing_validator_rejects_and_bad_events_or_send_failures_do_not_escape(caplog):
    nucleus = FakeNucleus({})
    ipc = Ipc(nucleus.client)

    def broken(proposal: dict) -> str | None:
        raise RuntimeError("bug")

    assert ipc.on_configuration_validation(broken)
    nucleus.propose({"a": 1})
    [report] = nucleus.reports()
    assert report.status == ConfigurationValidityStatus.REJECTED and "RuntimeError('bug')" in report.message

    nucleus.propose({"a": 1}, deployment_id=None)  # nothing to answer to
    assert len(nucleus.reports()) == 1

    nucleus.client.send_configuration_validity_report.side_effect = RuntimeError("connection gone")
    nucleus.propose({"a": 1}, "deployment-4")  # logged, never raised into the client's executor
    assert "sending the configuration validity report of deployment deployment-4 failed" in caplog.text


def test_without_the_subscription_live_config_still_works():
    nucleus = FakeNucleus({"scoreThreshold": 0.7})
    nucleus.client.subscribe_to_validate_configuration_updates.side_effect = RuntimeError("not supported")
    config = LiveConfig(Ipc(nucleus.client), DemoConfig)
    assert config.current == DemoConfig(score_threshold=0.7)
    assert config.check({"scoreThreshold": 2}) is None
    assert "scoreThreshold" in config.check({"scoreThreshold": []})


def test_the_validation_stream_is_closed_with_the_ipc():
    nucleus = FakeNucleus({})
    ipc = Ipc(nucleus.client)
    LiveConfig(ipc, DemoConfig)
    _, operation = nucleus.client.subscribe_to_validate_configuration_updates.return_value
    ipc.close()
    operation.close.assert_called_once()


def _already_set() -> threading.Event:
    event = threading.Event()
    event.set()
    return event
