"""smartcam.DynamoWriter: placeholder until the DynamoWriter issue lands."""

from __future__ import annotations

import time

from dynamo_writer.settings import DynamoWriterConfig
from smartcam import topics
from smartcam.config import LiveConfig
from smartcam.contracts import Health
from smartcam.ipc import Ipc


class DynamoWriterApp:
    def __init__(self, ipc: Ipc, config: LiveConfig[DynamoWriterConfig]) -> None:
        self._ipc = ipc
        self._config = config

    def start(self) -> None:
        self._ipc.publish(
            topics.health("smartcam.DynamoWriter"),
            Health(component="smartcam.DynamoWriter", state="ok", at=time.time()),
        )

    def stop(self) -> None:
        pass
