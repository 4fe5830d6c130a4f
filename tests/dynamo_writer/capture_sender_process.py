"""The writer's capture sender alone in a process, for the kill -9 tests.

    python capture_sender_process.py SPOOL BUCKET [--die-after-calls N]

Uploads the data captures of SPOOL into BUCKET (endpoint and credentials from the environment, as on a
device), prints how many PutObject calls it made and exits 0 when no capture is pending. With
--die-after-calls N it SIGKILLs itself right after the N-th PutObject returned: after S3 took the
object and before the spool recorded it.
"""

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from dynamo_writer.capture_sender import CaptureSender
from dynamo_writer.capture_spool import CaptureSpool
from dynamo_writer.settings import DynamoWriterConfig
from dynamo_writer.snapshots import SnapshotCopier, make_s3_client
from smartcam.telemetry import Counters


class Counting:
    """Wraps a client: counts the PutObject calls, dies after the last one allowed."""

    calls = 0
    die_after = 0

    def __init__(self, inner):
        self.inner = inner

    def put_object(self, **kwargs):
        response = self.inner.put_object(**kwargs)
        Counting.calls += 1
        if Counting.calls == Counting.die_after:
            os.kill(os.getpid(), signal.SIGKILL)
        return response


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("spool", type=Path)
    parser.add_argument("bucket")
    parser.add_argument("--die-after-calls", type=int, default=0)
    args = parser.parse_args()
    cfg = DynamoWriterConfig.model_validate({"snapshotBucket": args.bucket, "backoffBaseS": 0.01,
                                             "backoffMaxS": 0.5})
    Counting.die_after = args.die_after_calls
    spool = CaptureSpool(args.spool)
    copier = SnapshotCopier(args.spool.parent / "tracker", args.spool.parent / "captures")
    sender = CaptureSender(spool, copier, lambda: cfg, Counters(),
                           s3_client_factory=lambda c: Counting(make_s3_client(c)))
    while (delay := sender.step()) is not None:
        if delay > 0:
            time.sleep(min(delay, 0.5))
    print(f"drained after {Counting.calls} calls", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
