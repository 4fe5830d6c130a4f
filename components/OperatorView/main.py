"""Entry point of smartcam.OperatorView: the only place that builds the Greengrass IPC client."""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

from operator_view.app import OperatorViewApp
from operator_view.settings import OperatorViewConfig
from smartcam.component import run_component

COMPONENT_NAME = "smartcam.OperatorView"


def main(client: GreengrassCoreIPCClientV2 | None = None, stop: threading.Event | None = None) -> int:
    # One worker: messages are handled in the order they came, and the page's state is behind one lock anyway.
    client = client or GreengrassCoreIPCClientV2(executor=ThreadPoolExecutor(max_workers=1))
    return run_component(COMPONENT_NAME, OperatorViewConfig, OperatorViewApp, client, stop)


if __name__ == "__main__":
    sys.exit(main())
