"""The writer's event sender alone in a process, for the kill -9 tests.

    python event_sender_process.py SPOOL TABLE BUCKET [--die-after-calls N]

Drains the events of SPOOL into TABLE and their pictures into BUCKET (endpoints and credentials from
the environment, as on a device) and exits 0 when no event is pending. With --die-after-calls N it
SIGKILLs itself right after the N-th call (S3 PutObject or DynamoDB PutItem) returned: after the
cloud took it and before the spool recorded it.
"""

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from dynamo_writer.dynamo import make_client
from dynamo_writer.event_sender import EventSender
from dynamo_writer.event_spool import EventSpool
from dynamo_writer.settings import DynamoWriterConfig
from dynamo_writer.snapshots import SnapshotCopier, make_s3_client
from smartcam.telemetry import Counters


class DieAfter:
    """Wraps a client: counts the calls that write, dies after the last one allowed."""

    calls_left = 0

    def __init__(self, inner):
        self.inner = inner

    def _count(self, response):
        DieAfter.calls_left -= 1
        if DieAfter.calls_left == 0:
            os.kill(os.getpid(), signal.SIGKILL)
        return response

    def put_object(self, **kwargs):
        return self._count(self.inner.put_object(**kwargs))

    def put_item(self, **kwargs):
        return self._count(self.inner.put_item(**kwargs))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("spool", type=Path)
    parser.add_argument("table")
    parser.add_argument("bucket")
    parser.add_argument("--die-after-calls", type=int, default=0)
    args = parser.parse_args()
    cfg = DynamoWriterConfig.model_validate({"store": "events", "eventsTableName": args.table,
                                             "snapshotBucket": args.bucket, "backoffBaseS": 0.01,
                                             "backoffMaxS": 0.5})
    factory, s3_factory = make_client, make_s3_client
    if args.die_after_calls:
        DieAfter.calls_left = args.die_after_calls
        factory = lambda c: DieAfter(make_client(c))  # noqa: E731
        s3_factory = lambda c: DieAfter(make_s3_client(c))  # noqa: E731
    spool = EventSpool(args.spool)
    copier = SnapshotCopier(args.spool.parent / "tracker", args.spool.parent / "snapshots")
    sender = EventSender(spool, copier, lambda: cfg, Counters(), client_factory=factory, s3_client_factory=s3_factory)
    print("draining", flush=True)
    while (delay := sender.step()) is not None:
        if delay > 0:
            time.sleep(min(delay, 0.5))
    print("drained", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
