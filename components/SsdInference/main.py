"""Entry point of smartcam.SsdInference: the only place that builds the Greengrass IPC client."""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

from smartcam.component import run_component
from ssd_inference.app import SsdInferenceApp
from ssd_inference.settings import SsdInferenceConfig

COMPONENT_NAME = "smartcam.SsdInference"


def main(client: GreengrassCoreIPCClientV2 | None = None, stop: threading.Event | None = None) -> int:
    # One worker keeps subscription events in the order they were sent.
    client = client or GreengrassCoreIPCClientV2(executor=ThreadPoolExecutor(max_workers=1))
    return run_component(COMPONENT_NAME, SsdInferenceConfig, SsdInferenceApp, client, stop)


if __name__ == "__main__":
    sys.exit(main())
