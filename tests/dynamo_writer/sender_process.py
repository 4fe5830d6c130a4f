"""The writer's sender alone in a process, for the kill -9 tests.

    python sender_process.py SPOOL TABLE [--die-after-calls N]

Drains SPOOL into TABLE (endpoint and credentials from the environment, as on a device) and exits
0 when the spool is empty. With --die-after-calls N it SIGKILLs itself right after the N-th
BatchWriteItem returned, i.e. after DynamoDB accepted the batch and before the spool forgot it:
the worst moment for duplicates.
"""

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from dynamo_writer.dynamo import make_client
from dynamo_writer.sender import Sender
from dynamo_writer.settings import DynamoWriterConfig
from dynamo_writer.spool import Spool
from smartcam.telemetry import Counters


class DieAfter:
    def __init__(self, inner, calls):
        self.inner, self.left = inner, calls

    def batch_write_item(self, **kwargs):
        response = self.inner.batch_write_item(**kwargs)
        self.left -= 1
        if self.left == 0:
            os.kill(os.getpid(), signal.SIGKILL)
        return response


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("spool", type=Path)
    parser.add_argument("table")
    parser.add_argument("--die-after-calls", type=int, default=0)
    args = parser.parse_args()
    cfg = DynamoWriterConfig.model_validate({"tableName": args.table, "backoffBaseS": 0.01, "backoffMaxS": 0.5})
    factory = make_client
    if args.die_after_calls:
        client = DieAfter(make_client(cfg), args.die_after_calls)
        factory = lambda _cfg: client  # noqa: E731
    spool = Spool(args.spool)
    sender = Sender(spool, lambda: cfg, Counters(), client_factory=factory)
    print("draining", flush=True)
    while spool.depth()[0]:
        delay = sender.step(force=True)
        if delay > 0:
            time.sleep(min(delay, 0.5))
    print("drained", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
