"""smartcam.config: validate_config refuses with every problem named; LiveConfig answers the nucleus's
configuration validation, follows updates and keeps the last good configuration (mocked IPC client, real
awsiotsdk model objects)."""

from __future__ import annotations

import math
import sys
import threading

import pytest
from awsiot.greengrasscoreipc.model import (
    ConfigurationValidityStatus,
)
from pydantic import ValidationError

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


# --- validate_config ------------------------------------------------------------------------------

def test_a_configuration_that_is_not_an_object_is_refused():
    with pytest.raises(ConfigError, match=r"^invalid DemoConfig: the configuration must be a JSON object$"):
        validate_config(DemoConfig, [{"scoreThreshold": 0.5}])  # type: ignore[arg-type]


def test_a_refusal_names_the_first_20_problems_and_counts_the_rest():
    for count, listed, more in ((20, 20, ""), (21, 20, " (+1 more)"), (23, 20, " (+3 more)")):
        typos = {f"typo{i:02d}": i for i in range(count)}
        with pytest.raises(ConfigError) as refusal:
            validate_config(DemoConfig, typos)
        named = [f"typo{i:02d}: unknown key" for i in range(listed)]
        assert str(refusal.value) == f"invalid DemoConfig: {'; '.join(named)}{more}"


def test_not_a_number_is_refused_as_the_setting_s_problem():
    for value in (math.nan, math.inf, -math.inf):
        with pytest.raises(ConfigError, match=r"^invalid DemoConfig: scoreThreshold: must be a finite number$"):
            validate_config(DemoConfig, {"scoreThreshold": value})


def test_a_configuration_nested_deeper_than_python_can_encode_is_refused():
    deep: list = []
    for _ in range(sys.getrecursionlimit() + 100):
        deep = [deep]
    with pytest.raises(ConfigError, match=r"^invalid DemoConfig: the configuration is nested too deeply$"):
        validate_config(DemoConfig, {"scoreThreshold": 0.5, "cameraId": deep})


def test_values_json_cannot_carry_are_refused_as_not_json():
    circular: dict = {}
    circular["self"] = circular
    for value, problem in (({1, 2}, "is not JSON serializable"), (circular, "Circular reference detected")):
        with pytest.raises(ConfigError, match=f"^invalid DemoConfig: not a JSON configuration: .*{problem}"):
            validate_config(DemoConfig, {"scoreThreshold": 0.5, "cameraId": value})


def test_a_configuration_cannot_be_changed_in_place():
    config = validate_config(DemoConfig, {"scoreThreshold": 0.7})
    with pytest.raises(ValidationError, match="frozen"):
        config.score_threshold = 0.9  # type: ignore[misc]
    assert config == DemoConfig(score_threshold=0.7)


# --- LiveConfig -----------------------------------------------------------------------------------

def test_an_unusable_first_configuration_is_an_error_and_there_is_no_current_one(caplog: pytest.LogCaptureFixture):
    nucleus = FakeNucleus({"scoreThreshold": "high"})
    config = LiveConfig(Ipc(nucleus.client), DemoConfig)  # the default on_error logs it
    assert "invalid DemoConfig: scoreThreshold: must be a number" in caplog.text
    with pytest.raises(ConfigError, match=r"^no valid configuration yet$"):
        _ = config.current
    assert config.refused is None and not config.wait_until_valid(_already_set())


def test_a_good_configuration_is_there_at_once():
    nucleus = FakeNucleus({"scoreThreshold": 0.7})
    config = LiveConfig(Ipc(nucleus.client), DemoConfig)
    assert config.wait_until_valid(threading.Event())
    assert config.current == DemoConfig(score_threshold=0.7) and config.refused is None


def test_a_fixed_configuration_ends_the_wait_and_later_refusals_are_not_errors():
    nucleus = FakeNucleus({"scoreThreshold": "high"})
    errors: list[ConfigError] = []
    refusals: list[ConfigError] = []
    config = LiveConfig(Ipc(nucleus.client), DemoConfig, on_error=errors.append, on_refused=refusals.append)
    assert len(errors) == 1 and refusals == [] and config.refused is None

    nucleus.update_configuration({"scoreThreshold": 0.4}, "scoreThreshold")
    assert config.wait_until_valid(threading.Event()) and config.current == DemoConfig(score_threshold=0.4)

    nucleus.update_configuration({"scoreThreshold": "low"}, "scoreThreshold")
    assert len(errors) == 1 and len(refusals) == 1
    assert config.current == DemoConfig(score_threshold=0.4)
    assert config.refused == f"configuration update at /scoreThreshold refused, the previous one stays: {refusals[0]}"
    assert str(refusals[0]).startswith("invalid DemoConfig: scoreThreshold: must be a number")


def test_a_refused_update_keeps_the_last_good_one_until_a_good_update_clears_it(caplog: pytest.LogCaptureFixture):
    nucleus = FakeNucleus({"scoreThreshold": 0.7})
    config = LiveConfig(Ipc(nucleus.client), DemoConfig)  # no on_refused: logged and noted only
    seen: list[tuple[DemoConfig, DemoConfig]] = []
    config.on_change(lambda old, new: seen.append((old, new)))

    nucleus.update_configuration({"scoreThreshold": 0.7, "typo": 1})  # the whole configuration changed: key path /
    assert config.refused is not None and config.refused.startswith("configuration update at / refused")
    assert "configuration update at / refused, the previous one stays: invalid DemoConfig: typo" in caplog.text
    assert config.current == DemoConfig(score_threshold=0.7) and seen == []

    nucleus.update_configuration({"scoreThreshold": 0.8}, "scoreThreshold")
    assert config.refused is None and config.current == DemoConfig(score_threshold=0.8)
    assert seen == [(DemoConfig(score_threshold=0.7), DemoConfig(score_threshold=0.8))]


def test_every_listener_hears_each_change_once_and_nothing_else():
    nucleus = FakeNucleus({"scoreThreshold": 0.7})
    config = LiveConfig(Ipc(nucleus.client), DemoConfig)
    first: list[tuple[DemoConfig, DemoConfig]] = []
    second: list[tuple[DemoConfig, DemoConfig]] = []
    config.on_change(lambda old, new: first.append((old, new)))
    config.on_change(lambda old, new: second.append((old, new)))

    nucleus.update_configuration({"scoreThreshold": 0.7}, "scoreThreshold")  # the same again: no change
    nucleus.update_configuration({"scoreThreshold": 0.7, "cameraId": "cam2"}, "cameraId")
    nucleus.update_configuration({"scoreThreshold": 0.7, "cameraId": "cam2"}, "cameraId")

    change = (DemoConfig(score_threshold=0.7), DemoConfig(score_threshold=0.7, camera_id="cam2"))
    assert first == second == [change]


class _SetAtThirdLook(threading.Event):
    """A stop event that is set the third time it is looked at."""

    def __init__(self) -> None:
        super().__init__()
        self.looks = 0

    def is_set(self) -> bool:
        self.looks += 1
        if self.looks == 3:
            self.set()
        return super().is_set()


class _NeverValid(threading.Event):
    """The configuration's "valid" event, never set, noting how long each wait for it may take."""

    def __init__(self) -> None:
        super().__init__()
        self.timeouts: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.timeouts.append(timeout)
        return False


def test_while_the_configuration_is_unusable_the_wait_looks_at_stop_five_times_a_second():
    """Neither spinning on a core of the device nor late to stop when the nucleus stops the component."""
    nucleus = FakeNucleus({"scoreThreshold": "high"})
    config = LiveConfig(Ipc(nucleus.client), DemoConfig, on_error=lambda exc: None)
    config._valid = valid = _NeverValid()
    stop = _SetAtThirdLook()
    assert not config.wait_until_valid(stop)
    assert valid.timeouts == [0.2, 0.2]
