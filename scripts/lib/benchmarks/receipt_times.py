"""When the writer decided each frame: its receipts on local pub/sub (``smartcam/receipts``), heard
with CameraIngest's identity (the stage that consumes them), as the time each frame was stored.

The writer commits a frame's outcome to its durable spool (SQLite, synchronous=FULL) before it sends the
receipt: its detection items in store mode ``detections``, its row and its detections' effect on the
events in store mode ``events`` (receipted ``summarized``). The receipts go out in batches at most every
0.1 s; a batch's ``at`` is when it left, so the time taken is at most that much after the commit.
"""

from __future__ import annotations

import threading
from typing import Any

from awsiot import greengrasscoreipc
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

from benchmarks.camera_stats import SERVED
from local_device.process import LocalRuntime
from smartcam import topics
from smartcam.contracts import Receipts, parse
from smartcam.ipc import Ipc

WRITER = "smartcam.DynamoWriter"
LISTENER = "smartcam.CameraIngest"


class StoredReceipts:
    """Frame id -> when the writer's first receipt of the frame, with a served outcome, left."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self._lock = threading.Lock()
        self._stored_at: dict[str, float] = {}
        env = runtime.env(LISTENER)
        client = greengrasscoreipc.connect(ipc_socket=env["AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT"],
                                           authtoken=env["SVCUID"])
        self._ipc = Ipc(GreengrassCoreIPCClientV2(client=client))
        self._ipc.subscribe(topics.RECEIPTS, self._on_receipts)

    def _on_receipts(self, _topic: str, payload: Any) -> None:
        message = parse(Receipts, payload)
        if message.stage != WRITER:
            return
        with self._lock:
            for receipt in message.receipts:
                if receipt.outcome in SERVED:
                    self._stored_at.setdefault(receipt.frame_id, message.at)

    def stored_at(self) -> dict[str, float]:
        with self._lock:
            return dict(self._stored_at)

    def close(self) -> None:
        self._ipc.close()
