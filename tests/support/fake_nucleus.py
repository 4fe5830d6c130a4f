"""A mocked nucleus for the shared package's unit tests: a MagicMock IPC client whose configuration can
change and whose subscriptions can be fired with real awsiotsdk model objects."""

from __future__ import annotations

from unittest.mock import MagicMock

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import (
    ConfigurationUpdateEvent,
    ConfigurationUpdateEvents,
    ConfigurationValidityReport,
    GetConfigurationResponse,
    ValidateConfigurationUpdateEvent,
    ValidateConfigurationUpdateEvents,
)

from smartcam.config import ComponentConfig


class DemoConfig(ComponentConfig):
    score_threshold: float = 0.5
    camera_id: str = "cam1"


class FakeNucleus:
    """A MagicMock IPC client whose configuration can be changed and whose subscriptions can be fired."""

    def __init__(self, configuration: dict) -> None:
        self.configuration = configuration
        self.client = MagicMock(spec=GreengrassCoreIPCClientV2)
        self.client.get_configuration.side_effect = lambda **_: GetConfigurationResponse(value=dict(self.configuration))
        for method in ("subscribe_to_topic", "subscribe_to_iot_core", "subscribe_to_configuration_update",
                       "subscribe_to_validate_configuration_updates"):
            getattr(self.client, method).return_value = (MagicMock(), MagicMock())

    def stream_handler(self, method: str, index: int = -1):
        return getattr(self.client, method).call_args_list[index].kwargs["on_stream_event"]

    def update_configuration(self, configuration: dict, *key_path: str) -> None:
        self.configuration = configuration
        event = ConfigurationUpdateEvents(
            configuration_update_event=ConfigurationUpdateEvent(component_name="demo", key_path=list(key_path)))
        self.stream_handler("subscribe_to_configuration_update")(event)

    def states(self) -> list[str]:
        return [str(c.kwargs["state"]) for c in self.client.update_state.call_args_list]

    def propose(self, configuration: dict | None, deployment_id: str | None = "deployment-1") -> None:
        """What the nucleus sends before a deployment changes this component's configuration."""
        handler = self.client.subscribe_to_validate_configuration_updates.call_args.kwargs["on_stream_event"]
        handler(ValidateConfigurationUpdateEvents(validate_configuration_update_event=ValidateConfigurationUpdateEvent(
            configuration=configuration, deployment_id=deployment_id)))

    def reports(self) -> list[ConfigurationValidityReport]:
        return [c.kwargs["configuration_validity_report"]
                for c in self.client.send_configuration_validity_report.call_args_list]
