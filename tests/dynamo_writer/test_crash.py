
"""kill -9 of the writer mid-drain, then a restart: every item arrives exactly once."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dynamo_writer.items import items_for
from dynamo_writer.spool import Spool
from repo_layout import REPO_ROOT
from tests.dynamo_writer.helpers import DEVICE, frames, scan_all, wait_until

pytestmark = pytest.mark.integration

REPO = REPO_ROOT
SCRIPT = Path(__file__).with_name("sender_process.py")


def spool_with(path, count):
    spool = Spool(path)
    expected = set()
    for message in frames(count):
        items = items_for(message, DEVICE, 30)
        spool.put(items, max_items=10**6, max_bytes=10**10, policy="refuseNewest")
        expected |= {i.item["sk"]["S"] for i in items}
    return spool, expected


def sender_process(spool_path, table, *extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "components" / "Runtime"), str(REPO / "components" / "DynamoWriter")])
    return subprocess.Popen([sys.executable, str(SCRIPT), str(spool_path), table, *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process, timeout=300):
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return process.returncode, out


def stored(ddb, table):
    keys = [i["sk"]["S"] for i in scan_all(ddb.client(), table)]
    assert len(keys) == len(set(keys))
    return set(keys)


def test_killed_after_dynamodb_accepted_before_the_spool_forgot(aws_env, table, tmp_path):
    spool, expected = spool_with(tmp_path / "spool.sqlite3", 500)
    code, out = finish(sender_process(spool.path, table, "--die-after-calls", "3"))
    assert code == -signal.SIGKILL, out
    # Batches 1 and 2 were acknowledged; batch 3 reached DynamoDB but is still spooled.
    assert spool.depth()[0] == 500 - 50
    assert len(stored(aws_env, table)) == 75
    code, out = finish(sender_process(spool.path, table))
    assert code == 0, out
    assert spool.depth() == (0, 0)
    assert stored(aws_env, table) == expected
    spool.close()


def test_killed_at_a_random_moment_mid_drain_and_restarted(aws_env, table, tmp_path):
    spool, expected = spool_with(tmp_path / "spool.sqlite3", 3000)
    process = sender_process(spool.path, table)
    try:
        wait_until(lambda: spool.depth()[0] <= 2900 or process.poll() is not None, what="the drain to start")
        process.send_signal(signal.SIGKILL)
    finally:
        code, out = finish(process)
    assert code == -signal.SIGKILL, out
    left = spool.depth()[0]
    assert 0 < left < 3000
    code, out = finish(sender_process(spool.path, table))
    assert code == 0, out
    assert spool.depth() == (0, 0)
    assert stored(aws_env, table) == expected
    spool.close()
