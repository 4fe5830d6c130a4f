"""smartcam.SsdInference: placeholder until the SsdInference issue lands."""

from __future__ import annotations

import time

from smartcam import topics
from smartcam.config import LiveConfig
from smartcam.contracts import Health
from smartcam.ipc import Ipc
from ssd_inference.settings import SsdInferenceConfig


class SsdInferenceApp:
    def __init__(self, ipc: Ipc, config: LiveConfig[SsdInferenceConfig]) -> None:
        self._ipc = ipc
        self._config = config

    def start(self) -> None:
        self._ipc.publish(
            topics.health("smartcam.SsdInference"),
            Health(component="smartcam.SsdInference", state="ok", at=time.time()),
        )

    def stop(self) -> None:
        pass
