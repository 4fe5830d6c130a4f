
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
from tests.dynamo_writer.helpers import (
    DEVICE,
    assert_stored_as_spooled,
    frames,
    item_key,
    scan_all,
    stored_items,
    wait_until,
)

pytestmark = pytest.mark.integration

REPO = REPO_ROOT
SCRIPT = Path(__file__).with_name("sender_process.py")


def spool_with(path, count):
    """A spool holding the items of ``count`` frames, committed in one transaction (the same rows, in the
    same order, as one put per frame, without a durable commit for each), and those items by primary key."""
    spool = Spool(path)
    items = [item for message in frames(count) for item in items_for(message, DEVICE, 30)]
    admission = spool.put(items, max_items=10**6, max_bytes=10**10, policy="refuseNewest")
    assert admission.accepted == len(items) == count
    return spool, {item_key(i.item): i.item for i in items}


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


def test_killed_after_dynamodb_accepted_before_the_spool_forgot(aws_env, table, tmp_path):
    spool, expected = spool_with(tmp_path / "spool.sqlite3", 500)
    code, out = finish(sender_process(spool.path, table, "--die-after-calls", "3"))
    assert code == -signal.SIGKILL, out
    # Batches 1 and 2 were acknowledged; batch 3 reached DynamoDB but is still spooled.
    assert spool.depth()[0] == 500 - 50
    assert len(stored_items(aws_env.client(), table)) == 75
    code, out = finish(sender_process(spool.path, table))
    assert code == 0, out
    assert spool.depth() == (0, 0)
    assert_stored_as_spooled(aws_env.client(), table, expected)
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
    assert_stored_as_spooled(aws_env.client(), table, expected)
    spool.close()


# events ---------------------------------------------------------------------------------------------
EVENT_SCRIPT = Path(__file__).with_name("event_sender_process.py")
EVENTS = 12


def spool_events(tmp_path, bucket):
    """EVENTS events in the spool, each received as start, update and end, with a snapshot."""
    from dynamo_writer.event_receiver import EventReceiver
    from dynamo_writer.event_spool import EventSpool
    from dynamo_writer.snapshots import SnapshotCopier
    from smartcam.telemetry import Counters
    from tests.dynamo_writer.helpers import config, snapshot, track_event

    source = tmp_path / "tracker"
    source.mkdir()
    path = tmp_path / "spool.sqlite3"
    spool = EventSpool(path)
    cfg = config(store="events", snapshotBucket=bucket)
    receiver = EventReceiver(spool, lambda: cfg, Counters(), DEVICE, lambda: None,
                             copier=SnapshotCopier(source, tmp_path / "snapshots"))
    pictures = {}
    for n in range(EVENTS):
        event_id = f"cam1-e{n:03d}"
        ref = snapshot(source, event_id, f"cam1-{n:06d}", seed=n)
        pictures[event_id] = (source / event_id / "full.jpg").read_bytes()
        for sequence in range(3):
            receiver.on_message("smartcam/events", track_event(
                event_id, sequence, kind="end" if sequence == 2 else None, snapshot=ref).to_message())
    return spool, pictures


def event_sender_process(spool_path, table, bucket, *extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "components" / "Runtime"), str(REPO / "components" / "DynamoWriter")])
    return subprocess.Popen([sys.executable, str(EVENT_SCRIPT), str(spool_path), table, bucket, *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def events_stored(ddb, s3, table, bucket):
    """Every stored event as of its last message (the end, sequence 2), naming objects that are there: event
    id -> its full picture. (The table holds one item per event id: which events are there and what each
    holds is the check.)"""
    found = scan_all(ddb.client(), table)
    client = s3.client()
    out = {}
    for item in found:
        assert (item["state"], item["sequence"]) == ({"S": "ended"}, {"N": "2"}), item["event_id"]
        location = item["snapshot"]["M"]
        client.head_object(Bucket=bucket, Key=location["crop_key"]["S"])
        out[item["event_id"]["S"]] = client.get_object(Bucket=bucket, Key=location["key"]["S"])["Body"].read()
    return out


@pytest.mark.parametrize("calls", [1, 2, 3, 8])  # after the first picture, the second, the item, mid-way
def test_events_killed_after_the_cloud_took_a_call_before_the_spool_knew(s3_env, ddb_local, events_table, bucket,
                                                                        tmp_path, calls):
    spool, pictures = spool_events(tmp_path, bucket)
    code, out = finish(event_sender_process(spool.path, events_table, bucket, "--die-after-calls", str(calls)))
    assert code == -signal.SIGKILL, out
    # Three calls per event (two pictures, the item); the event of the killing call stays pending.
    assert spool.depth()[0] == EVENTS - (calls - 1) // 3
    code, out = finish(event_sender_process(spool.path, events_table, bucket))
    assert code == 0, out
    assert spool.depth() == (0, 0)
    assert events_stored(ddb_local, s3_env, events_table, bucket) == pictures
    assert not list((tmp_path / "snapshots").rglob("*.jpg"))  # every copy deleted once its item was written
    spool.close()


def test_events_killed_at_a_random_moment_mid_drain_and_restarted(s3_env, ddb_local, events_table, bucket, tmp_path):
    spool, pictures = spool_events(tmp_path, bucket)
    process = event_sender_process(spool.path, events_table, bucket)
    try:
        wait_until(lambda: spool.depth()[0] <= EVENTS - 2 or process.poll() is not None, what="the drain to start")
        process.send_signal(signal.SIGKILL)
    finally:
        code, out = finish(process)
    assert code == -signal.SIGKILL, out
    code, out = finish(event_sender_process(spool.path, events_table, bucket))
    assert code == 0, out
    assert spool.depth() == (0, 0)
    assert events_stored(ddb_local, s3_env, events_table, bucket) == pictures
    spool.close()
