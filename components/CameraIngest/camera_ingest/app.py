"""smartcam.CameraIngest: placeholder until the camera ingest issue lands."""

from __future__ import annotations

import time

from camera_ingest.settings import CameraIngestConfig
from smartcam import topics
from smartcam.config import LiveConfig
from smartcam.contracts import Health
from smartcam.ipc import Ipc


class CameraIngestApp:
    def __init__(self, ipc: Ipc, config: LiveConfig[CameraIngestConfig]) -> None:
        self._ipc = ipc
        self._config = config

    def start(self) -> None:
        self._ipc.publish(
            topics.health("smartcam.CameraIngest"),
            Health(component="smartcam.CameraIngest", state="ok", at=time.time()),
        )

    def stop(self) -> None:
        pass
