"""Entry point of smartcam.EventTracker: the only place that builds the Greengrass IPC client."""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

from event_tracker.app import EventTrackerApp
from event_tracker.settings import EventTrackerConfig
from smartcam.component import run_component

COMPONENT_NAME = "smartcam.EventTracker"


def main(client: GreengrassCoreIPCClientV2 | None = None, stop: threading.Event | None = None) -> int:
    # One worker keeps subscription events in the order they were sent: a camera's frames in capture order.
    client = client or GreengrassCoreIPCClientV2(executor=ThreadPoolExecutor(max_workers=1))
    return run_component(COMPONENT_NAME, EventTrackerConfig, EventTrackerApp, client, stop)


if __name__ == "__main__":
    sys.exit(main())
