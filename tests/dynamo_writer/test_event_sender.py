"""The events' sender against DynamoDB Local and the S3 stand-in: one item per event, never an older
sequence over a newer one, the pictures in S3 before the item that names them, then the copies gone."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from dynamo_writer.dynamo import EVENTS_TABLE_DEFINITION, create_table_if_missing, make_client
from dynamo_writer.event_receiver import EventReceiver
from dynamo_writer.event_sender import EventSender
from dynamo_writer.event_spool import EventSpool, HeldEvent
from dynamo_writer.snapshots import SnapshotCopier, make_s3_client
from local_greengrass.standins.dynamodb_local import free_port
from smartcam.telemetry import Counters
from tests.dynamo_writer.helpers import (
    DEVICE,
    Clock,
    InMemoryDynamoDB,
    RecordingReceipts,
    config,
    scan_all,
    snapshot,
    track_event,
    wait_until,
)

pytestmark = pytest.mark.integration


class EventRig:
    """Receiver and sender of events over one spool, writing to DynamoDB Local and the S3 stand-in."""

    def __init__(self, tmp_path, table, bucket, *, spool_name="spool.sqlite3", client_factory=make_client,
                 s3_client_factory=make_s3_client, clock=time.time, **over):
        self.source = tmp_path / "tracker"
        self.source.mkdir(exist_ok=True)
        self.path = tmp_path / "writer" / spool_name
        self.spool = EventSpool(self.path, clock=clock)
        self.copier = SnapshotCopier(self.source, self.path.parent / "snapshots")
        self.counters = Counters()
        self.receipts = RecordingReceipts()
        self.settings = config(**{"store": "events", "eventsTableName": table, "snapshotBucket": bucket,
                                  "backoffBaseS": 0.01, "backoffMaxS": 0.05, "requestTimeoutS": 2, **over})
        self.receiver = EventReceiver(self.spool, lambda: self.settings, self.counters, DEVICE, lambda: None,
                                      copier=self.copier, receipts=self.receipts)
        self.sender = EventSender(self.spool, self.copier, lambda: self.settings, self.counters,
                                  client_factory=client_factory, s3_client_factory=s3_client_factory)

    def send(self, event):
        admission = self.receiver.on_message("smartcam/events", event.to_message())
        assert admission is not None and admission.decision == "stored", admission
        return admission

    def drain(self, timeout=60.0):
        deadline = time.monotonic() + timeout
        while (delay := self.sender.step()) is not None:
            assert time.monotonic() < deadline, f"events not drained: {self.sender.last_error}"
            time.sleep(min(delay, 0.1))

    def close(self):
        self.spool.close()


@pytest.fixture
def rig(tmp_path, s3_env, events_table, bucket):
    r = EventRig(tmp_path, events_table, bucket)
    yield r
    r.close()


@pytest.fixture
def items_of(ddb_local):
    """The items of a table by event id (its key: one item per event)."""
    return lambda table: items(ddb_local, table)


def items(ddb, table) -> dict[str, dict[str, Any]]:
    return {i["event_id"]["S"]: i for i in scan_all(ddb.client(), table)}


def objects(s3, bucket) -> dict[str, bytes]:
    client = s3.client()
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {key: client.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


def test_each_event_is_one_item_completed_at_its_end_with_its_pictures(rig, s3_env, events_table, bucket, items_of):
    pictures = {}
    for n in range(4):
        event_id = f"cam1-e{n}"
        ref = snapshot(rig.source, event_id, f"cam1-{n:06d}", seed=n)
        pictures[event_id] = ((rig.source / event_id / "full.jpg").read_bytes(),
                              (rig.source / event_id / "crop.jpg").read_bytes())
        rig.send(track_event(event_id, 0, snapshot=ref))
        if n % 2:
            rig.drain()  # written at start, then completed
        rig.send(track_event(event_id, 1, snapshot=ref))
        rig.send(track_event(event_id, 2, kind="end", snapshot=ref))
    rig.drain()
    stored = items_of(events_table)
    assert set(stored) == set(pictures)
    in_s3 = objects(s3_env, bucket)
    for event_id, (full, crop) in pictures.items():
        item = stored[event_id]
        assert (item["sequence"], item["state"], item["end_reason"]) == ({"N": "2"}, {"S": "ended"}, {"S": "unseen"})
        location = item["snapshot"]["M"]
        assert location["bucket"]["S"] == bucket
        assert in_s3[location["key"]["S"]] == full and in_s3[location["crop_key"]["S"]] == crop
        assert "snapshot_missing" not in item
    assert len(in_s3) == 8
    assert rig.copier.files() == set() and rig.spool.depth() == (0, 0)  # the copies went once written
    assert rig.counters["snapshotsUploaded"] == 4  # each snapshot once, however many messages named it
    assert rig.counters["eventsWritten"] == 6


def test_an_older_sequence_never_overwrites_a_newer_one(tmp_path, s3_env, events_table, bucket, items_of):
    newer = EventRig(tmp_path, events_table, bucket)
    older = EventRig(tmp_path, events_table, bucket, spool_name="another-spool.sqlite3")
    try:
        newer.send(track_event("e1", 5))
        newer.drain()
        older.send(track_event("e1", 3))  # e.g. a spool that forgot the event, receiving a late resend
        older.drain()
        assert items_of(events_table)["e1"]["sequence"] == {"N": "5"}
        assert older.counters["eventsAlreadyNewer"] == 1 and older.spool.depth() == (0, 0)  # done all the same
        older.send(track_event("e1", 6, kind="end"))
        older.drain()
        assert items_of(events_table)["e1"]["sequence"] == {"N": "6"}
    finally:
        newer.close()
        older.close()


class Watching:
    """Real clients; each PutItem first checks that every object the item names is in S3."""

    def __init__(self, s3_local):
        self.s3 = s3_local.client()
        self.calls: list[str] = []
        self.violations: list[str] = []

    def dynamodb(self, cfg):
        inner, watch = make_client(cfg), self

        class Client:
            def put_item(self, **kwargs):
                snap = kwargs["Item"].get("snapshot")
                if snap is not None:
                    for name in ("key", "crop_key"):
                        key = snap["M"][name]["S"]
                        try:
                            watch.s3.head_object(Bucket=snap["M"]["bucket"]["S"], Key=key)
                        except Exception as exc:
                            watch.violations.append(f"{key}: {exc}")
                watch.calls.append("PutItem")
                return inner.put_item(**kwargs)

            def __getattr__(self, name):
                return getattr(inner, name)

        return Client()

    def s3_client(self, cfg):
        inner, watch = make_s3_client(cfg), self

        class Client:
            def put_object(self, **kwargs):
                watch.calls.append("PutObject")
                return inner.put_object(**kwargs)

            def __getattr__(self, name):
                return getattr(inner, name)

        return Client()


def test_the_pictures_are_in_s3_before_the_item_that_names_them(tmp_path, s3_env, events_table, bucket, items_of):
    watching = Watching(s3_env)
    rig = EventRig(tmp_path, events_table, bucket, client_factory=watching.dynamodb,
                   s3_client_factory=watching.s3_client, eventUpdateIntervalS=0)  # the update written too
    try:
        rig.send(track_event("e1", 0, snapshot=snapshot(rig.source, "e1", "f1", seed=1)))
        rig.drain()
        rig.send(track_event("e1", 1, snapshot=snapshot(rig.source, "e1", "f2", seed=2)))  # a better one
        rig.drain()
    finally:
        rig.close()
    assert watching.violations == []
    assert watching.calls == ["PutObject", "PutObject", "PutItem"] * 2
    item = items_of(events_table)["e1"]
    assert item["snapshot"]["M"]["frame_id"] == {"S": "f2"}
    key = item["snapshot"]["M"]["key"]["S"]
    assert objects(s3_env, bucket)[key] == (rig.source / "e1" / "full.jpg").read_bytes()


def test_an_s3_outage_is_retried_and_nothing_is_written_before_the_pictures(tmp_path, s3_env, monkeypatch,
                                                                           events_table, bucket, items_of):
    rig = EventRig(tmp_path, events_table, bucket)
    try:
        rig.send(track_event("e1", 0, snapshot=snapshot(rig.source, "e1")))
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{free_port()}")  # S3 unreachable
        for _ in range(3):
            assert rig.sender.step() > 0  # backs off
        assert rig.sender.last_error.startswith("s3 ") and rig.counters["networkErrors"] == 3
        assert items_of(events_table) == {}
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_env.endpoint)  # back: a fresh client finds it
        rig.drain()
        assert "snapshot" in items_of(events_table)["e1"] and rig.sender.last_error is None
    finally:
        rig.close()


def test_a_vanished_copy_leaves_the_event_without_its_snapshot(rig, events_table, bucket, items_of):
    rig.send(track_event("e1", 0, snapshot=snapshot(rig.source, "e1")))
    rig.spool.held("e1").snapshot.full.unlink()
    rig.drain()
    item = items_of(events_table)["e1"]
    assert "snapshot" not in item and "vanished" in item["snapshot_missing"]["S"]
    assert rig.counters["snapshotsMissing"] == 1 and rig.copier.files() == set()


def test_an_event_dynamodb_refuses_is_set_aside_and_the_rest_go_on(tmp_path, s3_env, table, events_table, bucket,
                                                                   items_of):
    rig = EventRig(tmp_path, table, bucket)  # the detections table: an event item lacks its key "sk"
    try:
        rig.send(track_event("bad", 0))
        rig.drain()
        assert rig.counters["eventsRejected"] == 1 and rig.spool.held("bad").rejected.startswith("ValidationException")
        rig.settings = rig.settings.model_copy(update={"events_table_name": events_table})
        rig.send(track_event("good", 0))
        rig.drain()
        assert set(items_of(events_table)) == {"good"}
    finally:
        rig.close()


def test_the_table_and_the_bucket_are_created_when_configured(tmp_path, s3_env, ddb_local, items_of):
    # Names of their own: the stand-ins may outlive the test (a mutation session shares them), and a
    # bucket left by an earlier run would hide a writer that no longer creates it.
    table, bucket = f"events-new-{uuid.uuid4().hex[:12]}", f"new-{uuid.uuid4().hex[:12]}"
    rig = EventRig(tmp_path, table, bucket, createTableIfMissing=True, createBucketIfMissing=True)
    try:
        rig.send(track_event("e1", 0, snapshot=snapshot(rig.source, "e1")))
        rig.drain()
        assert "snapshot" in items_of(table)["e1"]
        assert len(objects(s3_env, bucket)) == 2
    finally:
        rig.close()
        ddb_local.client().delete_table(TableName=table)


# eventUpdateIntervalS ---------------------------------------------------------------------------
def held_in(items_of, table, event_id):
    item = items_of(table).get(event_id)
    return None if item is None else (int(item["sequence"]["N"]), item["state"]["S"])


def test_an_open_event_is_written_at_start_at_most_every_interval_and_at_its_end(tmp_path, s3_env, events_table,
                                                                                 bucket, items_of):
    clock = Clock()
    rig = EventRig(tmp_path, events_table, bucket, clock=clock)  # eventUpdateIntervalS: the default, 300
    try:
        rig.send(track_event("e1", 0))
        rig.drain()
        assert held_in(items_of, events_table, "e1") == (0, "open")  # the start at once
        for sequence in (1, 2):  # updates every 5 s, as EventTracker sends them for an object standing still
            clock.now += 5
            rig.send(track_event("e1", sequence))
            rig.drain()
        assert held_in(items_of, events_table, "e1") == (0, "open") and rig.spool.held("e1").pending
        clock.now += 290  # 300 s since the start was written
        rig.drain()
        assert held_in(items_of, events_table, "e1") == (2, "open")  # the latest message held then
        clock.now += 5
        rig.send(track_event("e1", 3))
        rig.send(track_event("e1", 4, kind="end"))
        rig.drain()
        assert held_in(items_of, events_table, "e1") == (4, "ended")  # the end at once, with its sequence
        assert rig.spool.depth() == (0, 0)
        assert (rig.counters["eventsWritten"], rig.counters["eventsCoalesced"]) == (3, 2)  # 1 and 3 never went
        assert [r.outcome for r in rig.receipts.events] == ["stored"] * 5  # every message receipted at once
    finally:
        rig.close()


def test_interval_zero_writes_every_message(tmp_path, s3_env, events_table, bucket, items_of):
    rig = EventRig(tmp_path, events_table, bucket, clock=Clock(), eventUpdateIntervalS=0)
    try:
        for sequence, kind in ((0, None), (1, None), (2, None), (3, "end")):
            rig.send(track_event("e1", sequence, kind=kind))
            rig.drain()
            assert held_in(items_of, events_table, "e1")[0] == sequence
        assert (rig.counters["eventsWritten"], rig.counters["eventsCoalesced"]) == (4, 0)
    finally:
        rig.close()


def test_the_interval_is_read_from_the_live_configuration(tmp_path, s3_env, events_table, bucket, items_of):
    rig = EventRig(tmp_path, events_table, bucket, clock=Clock())
    try:
        rig.send(track_event("e1", 0))
        rig.drain()
        rig.send(track_event("e1", 1))
        rig.drain()
        assert held_in(items_of, events_table, "e1") == (0, "open")
        rig.settings = rig.settings.model_copy(update={"event_update_interval_s": 0.0})
        rig.drain()
        assert held_in(items_of, events_table, "e1") == (1, "open")
    finally:
        rig.close()


def test_a_deferred_update_outlives_a_restart_and_is_written_later(tmp_path, s3_env, events_table, bucket, items_of):
    clock = Clock()
    before = EventRig(tmp_path, events_table, bucket, clock=clock)
    before.send(track_event("e1", 0))
    before.drain()
    before.send(track_event("e1", 1))  # receipted, deferred: only the spool has it
    before.drain()
    before.close()
    after = EventRig(tmp_path, events_table, bucket, clock=clock)
    try:
        after.drain()
        assert held_in(items_of, events_table, "e1") == (0, "open")  # the interval counts across the restart
        clock.now += 300
        after.drain()
        assert held_in(items_of, events_table, "e1") == (1, "open")
        assert after.spool.depth() == (0, 0)
    finally:
        after.close()


def test_the_sender_thread_writes_a_deferred_update_once_its_interval_passes(tmp_path, s3_env, events_table,
                                                                             bucket, items_of):
    rig = EventRig(tmp_path, events_table, bucket, eventUpdateIntervalS=0.5)  # the real clock
    rig.sender.start()
    try:
        rig.send(track_event("e1", 0))  # the receiver here does not wake the sender: only its own idle wake-ups
        wait_until(lambda: held_in(items_of, events_table, "e1") == (0, "open"), 60, "the start written")
        rig.send(track_event("e1", 1))
        wait_until(lambda: held_in(items_of, events_table, "e1") == (1, "open"), 60, "the deferred update written")
    finally:
        rig.sender.stop()
        rig.close()


def pictures(rig: EventRig, event_id: str) -> tuple[bytes, bytes]:
    """The pictures of the snapshot EventTracker left for ``event_id`` last."""
    return (rig.source / event_id / "full.jpg").read_bytes(), (rig.source / event_id / "crop.jpg").read_bytes()


def named_objects(item: dict[str, Any], in_s3: dict[str, bytes]) -> tuple[bytes, bytes]:
    location = item["snapshot"]["M"]
    return in_s3[location["key"]["S"]], in_s3[location["crop_key"]["S"]]


# one step ---------------------------------------------------------------------------------------
def test_one_step_stores_an_event_with_its_pictures_and_asks_for_the_next_at_once(rig, s3_env, events_table,
                                                                                bucket, items_of):
    rig.send(track_event("e1", 0, snapshot=snapshot(rig.source, "e1", "f1", seed=3)))
    assert rig.sender.step() == 0.0  # go on at once: the next pending event may be due
    item = items_of(events_table)["e1"]
    assert item["snapshot"]["M"]["frame_id"] == {"S": "f1"}
    assert named_objects(item, objects(s3_env, bucket)) == pictures(rig, "e1")
    assert rig.sender.step() is None  # nothing left


# races with the receiver --------------------------------------------------------------------------
class Hooked:
    """Real clients; ``before_put_object`` runs before each PutObject (to change the spool meanwhile)."""

    def __init__(self, before_put_object):
        self.before_put_object = before_put_object

    def s3_client(self, cfg):
        inner, hooked = make_s3_client(cfg), self

        class Client:
            def put_object(self, **kwargs):
                hooked.before_put_object(kwargs["Key"])
                return inner.put_object(**kwargs)

            def __getattr__(self, name):
                return getattr(inner, name)

        return Client()


def test_a_newer_snapshot_replacing_the_one_being_uploaded_is_uploaded_instead(tmp_path, s3_env, events_table,
                                                                             bucket, items_of):
    """The receiver deletes the copies of a snapshot a newer message replaced: an upload that finds them
    gone steps again with the newer snapshot, and the event is not counted as missing its pictures."""
    rig: EventRig | None = None
    newer: list[str] = []

    def newer_snapshot_arrives(_key: str) -> None:
        if not newer:
            newer.append("f2")
            assert rig is not None
            rig.send(track_event("e1", 1, snapshot=snapshot(rig.source, "e1", "f2", seed=5)))

    hooked = Hooked(newer_snapshot_arrives)
    rig = EventRig(tmp_path, events_table, bucket, s3_client_factory=hooked.s3_client, eventUpdateIntervalS=0)
    try:
        rig.send(track_event("e1", 0, snapshot=snapshot(rig.source, "e1", "f1", seed=4)))
        rig.drain()
        item = items_of(events_table)["e1"]
        assert item["sequence"] == {"N": "1"} and item["snapshot"]["M"]["frame_id"] == {"S": "f2"}
        assert "snapshot_missing" not in item
        assert named_objects(item, objects(s3_env, bucket)) == pictures(rig, "e1")
        assert rig.counters["snapshotsMissing"] == 0
        assert rig.copier.files() == set() and rig.spool.depth() == (0, 0)
    finally:
        rig.close()


def test_a_newer_snapshot_arriving_once_the_upload_is_recorded_is_uploaded_too(tmp_path, s3_env, events_table,
                                                                             bucket, items_of):
    """The end message names a better snapshot and arrives just after the sender recorded the upload of
    the earlier one: the item still names the end's snapshot, in S3, and its copies go."""
    watching = Watching(s3_env)
    rig = EventRig(tmp_path, events_table, bucket, client_factory=watching.dynamodb,
                   s3_client_factory=watching.s3_client)
    mark_uploaded = rig.spool.mark_uploaded

    def then_the_end_arrives(event_id: str, frame_id: str) -> bool:
        recorded = mark_uploaded(event_id, frame_id)
        if frame_id == "f1":
            rig.send(track_event("e1", 1, kind="end", snapshot=snapshot(rig.source, "e1", "f2", seed=7)))
        return recorded

    rig.spool.mark_uploaded = then_the_end_arrives  # type: ignore[method-assign]
    try:
        rig.send(track_event("e1", 0, snapshot=snapshot(rig.source, "e1", "f1", seed=6)))
        rig.drain()
        item = items_of(events_table)["e1"]
        assert (item["sequence"], item["state"]) == ({"N": "1"}, {"S": "ended"})
        assert item["snapshot"]["M"]["frame_id"] == {"S": "f2"} and "snapshot_missing" not in item
        assert named_objects(item, objects(s3_env, bucket)) == pictures(rig, "e1")
        assert watching.violations == []
        assert rig.copier.files() == set() and rig.spool.depth() == (0, 0)
    finally:
        rig.close()


# failures -----------------------------------------------------------------------------------------
def test_dynamodb_unreachable_is_retried_and_the_event_written_once_back(tmp_path, s3_env, ddb_local, monkeypatch,
                                                                        events_table, bucket, items_of):
    rig = EventRig(tmp_path, events_table, bucket)
    try:
        rig.send(track_event("e1", 0))
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{free_port()}")
        for _ in range(3):
            assert rig.sender.step() > 0  # backs off
        assert rig.sender.last_error.startswith("dynamodb ") and rig.counters["networkErrors"] == 3
        assert rig.sender.consecutive_failures == 3 and rig.spool.held("e1").pending
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", ddb_local.endpoint)  # back: a fresh client finds it
        rig.drain()
        assert items_of(events_table)["e1"]["sequence"] == {"N": "0"}
        assert (rig.sender.consecutive_failures, rig.sender.last_error) == (0, None)
        assert rig.counters["eventsWritten"] == 1
    finally:
        rig.close()


def test_a_missing_table_is_not_created_unless_configured(tmp_path, s3_env, ddb_local, bucket, items_of):
    table = f"events-later-{uuid.uuid4().hex[:12]}"
    rig = EventRig(tmp_path, table, bucket)  # createTableIfMissing: false
    try:
        rig.send(track_event("e1", 0))
        for _ in range(2):
            assert rig.sender.step() > 0
        assert rig.sender.last_error.startswith("dynamodb ResourceNotFoundException")
        assert rig.counters["serviceErrors"] == 2 and rig.spool.held("e1").pending
        assert table not in ddb_local.client().list_tables()["TableNames"]  # not made by the writer
        create_table_if_missing(ddb_local.client(), table, EVENTS_TABLE_DEFINITION)  # made by its owner
        rig.drain()
        assert set(items_of(table)) == {"e1"}
    finally:
        rig.close()
        ddb_local.client().delete_table(TableName=table)


def test_a_missing_bucket_is_not_created_unless_configured(tmp_path, s3_env, events_table, items_of):
    bucket = f"later-{uuid.uuid4().hex[:12]}"
    rig = EventRig(tmp_path, events_table, bucket)  # createBucketIfMissing: false
    try:
        rig.send(track_event("e1", 0, snapshot=snapshot(rig.source, "e1")))
        for _ in range(2):
            assert rig.sender.step() > 0
        assert rig.sender.last_error.startswith("s3 NoSuchBucket")
        assert rig.counters["serviceErrors"] == 2 and items_of(events_table) == {}  # never before its pictures
        assert bucket not in {b["Name"] for b in s3_env.client().list_buckets()["Buckets"]}
        s3_env.client().create_bucket(Bucket=bucket)
        rig.drain()
        item = items_of(events_table)["e1"]
        assert named_objects(item, objects(s3_env, bucket)) == pictures(rig, "e1")
    finally:
        rig.close()


class Faulty:
    """Real clients that first fail the calls ``faults`` names with these error codes, in order; counts
    the clients made (a fresh one re-reads the credentials chain)."""

    def __init__(self, faults: dict[str, list[str]]):
        self.faults = faults
        self.made: dict[str, list[float]] = {"dynamodb": [], "s3": []}  # each client's requestTimeoutS

    def _wrap(self, service: str, inner: Any) -> Any:
        faulty = self

        class Client:
            def __getattr__(self, name):
                call = getattr(inner, name)
                if name not in faulty.faults:
                    return call

                def failing(**kwargs):
                    if faulty.faults[name]:
                        code = faulty.faults[name].pop(0)
                        raise ClientError({"Error": {"Code": code, "Message": f"injected {code}"}}, name)
                    return call(**kwargs)

                return failing

        self.made[service].append(0.0)
        return Client()

    def dynamodb(self, cfg):
        client = self._wrap("dynamodb", make_client(cfg))
        self.made["dynamodb"][-1] = cfg.request_timeout_s
        return client

    def s3_client(self, cfg):
        client = self._wrap("s3", make_s3_client(cfg))
        self.made["s3"][-1] = cfg.request_timeout_s
        return client


def test_throttling_and_credential_errors_are_told_apart_and_only_credentials_renew_the_client(
        tmp_path, s3_env, events_table, bucket, items_of):
    faulty = Faulty({"put_object": ["SlowDown", "AccessDenied", "InternalError"],
                     "put_item": ["ProvisionedThroughputExceededException", "UnrecognizedClientException",
                                  "ExpiredTokenException", "InternalServerError"]})
    rig = EventRig(tmp_path, events_table, bucket, client_factory=faulty.dynamodb,
                   s3_client_factory=faulty.s3_client)
    try:
        rig.send(track_event("e1", 0, snapshot=snapshot(rig.source, "e1", seed=9)))
        rig.drain()
        assert (rig.counters["throttled"], rig.counters["credentialErrors"], rig.counters["serviceErrors"]) == (2, 3, 2)
        assert (len(faulty.made["s3"]), len(faulty.made["dynamodb"])) == (2, 3)  # one more per credential error
        item = items_of(events_table)["e1"]
        assert named_objects(item, objects(s3_env, bucket)) == pictures(rig, "e1")
        assert rig.counters["eventsWritten"] == 1
    finally:
        rig.close()


def test_clients_are_kept_across_events_and_renewed_when_their_settings_change(tmp_path, s3_env, events_table,
                                                                             bucket, items_of):
    faulty = Faulty({})
    rig = EventRig(tmp_path, events_table, bucket, client_factory=faulty.dynamodb,
                   s3_client_factory=faulty.s3_client)
    try:
        for n in range(3):
            rig.send(track_event(f"e{n}", 0, snapshot=snapshot(rig.source, f"e{n}", seed=n)))
            rig.drain()
        assert faulty.made == {"dynamodb": [2], "s3": [2]}
        rig.settings = rig.settings.model_copy(update={"request_timeout_s": 3.0})
        rig.send(track_event("e3", 0, snapshot=snapshot(rig.source, "e3", seed=3)))
        rig.drain()
        assert faulty.made == {"dynamodb": [2, 3.0], "s3": [2, 3.0]}
        assert set(items_of(events_table)) == {"e0", "e1", "e2", "e3"}
    finally:
        rig.close()


def test_a_failure_that_repeats_is_logged_once(tmp_path, s3_env, monkeypatch, caplog, events_table, bucket):
    rig = EventRig(tmp_path, events_table, bucket)
    try:
        rig.send(track_event("e1", 0, snapshot=snapshot(rig.source, "e1")))
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{free_port()}")
        with caplog.at_level(logging.WARNING, logger="dynamo_writer.event_sender"):
            for _ in range(3):
                assert rig.sender.step() > 0
        warned = [r for r in caplog.records if r.name == "dynamo_writer.event_sender"]
        assert len(warned) == 1 and "s3 " in warned[0].getMessage()
        assert rig.sender.consecutive_failures == 3
    finally:
        rig.close()


class FakeRegionClients(InMemoryDynamoDB):
    """Both services in memory; remembers each CreateBucket."""

    def __init__(self) -> None:
        super().__init__()
        self.buckets: list[dict[str, Any]] = []

    def create_bucket(self, **kwargs: Any) -> dict[str, Any]:
        self.buckets.append(kwargs)
        return {}


@pytest.mark.parametrize(("region", "aws_region", "constraint"), [
    ("eu-west-1", "us-east-1", "eu-west-1"),  # the configured region, not the nucleus's
    (None, "eu-central-1", "eu-central-1"),  # none configured: the nucleus's AWS_REGION
])
def test_a_bucket_is_created_in_the_writer_region(tmp_path, monkeypatch, region, aws_region, constraint):
    monkeypatch.setenv("AWS_REGION", aws_region)
    fake = FakeRegionClients()
    spool = EventSpool(tmp_path / "spool.sqlite3")
    copier = SnapshotCopier(tmp_path / "tracker", tmp_path / "copies")
    cfg = config(store="events", eventsTableName="events", snapshotBucket="pictures", region=region,
                 createBucketIfMissing=True)
    receiver = EventReceiver(spool, lambda: cfg, Counters(), DEVICE, lambda: None, copier=copier,
                             receipts=RecordingReceipts())
    sender = EventSender(spool=spool, copier=copier, settings=lambda: cfg, counters=Counters(),  # all by name
                         client_factory=lambda _c: fake, s3_client_factory=lambda _c: fake)
    try:
        (tmp_path / "tracker").mkdir()
        receiver.on_message("smartcam/events", track_event("e1", 0, snapshot=snapshot(tmp_path / "tracker", "e1"))
                            .to_message())
        assert sender.step() == 0.0
        assert fake.buckets == [{"Bucket": "pictures",
                                 "CreateBucketConfiguration": {"LocationConstraint": constraint}}]
        assert len(fake.objects) == 2 and fake.event_tables == {"e1": "events"}
    finally:
        spool.close()


# the thread ---------------------------------------------------------------------------------------
class RecordingEvent(threading.Event):
    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        return super().wait(timeout)


def test_stop_before_start_and_twice_is_harmless(rig):
    rig.sender.stop()
    rig.sender.start()
    rig.sender.stop()
    rig.sender.stop()


def test_the_thread_is_a_daemon_and_stop_waits_for_it(rig, monkeypatch):
    rig.sender.start()
    joined: list[float | None] = []
    try:
        (thread,) = [t for t in threading.enumerate() if t.name == "event-sender"]
        join = thread.join

        def recording_join(timeout: float | None = None) -> None:
            joined.append(timeout)
            join(timeout)

        monkeypatch.setattr(thread, "join", recording_join)
    finally:
        rig.sender.stop()
    assert thread.daemon  # never keeps the process alive
    assert joined == [30.0] and not thread.is_alive()  # up to 30 s for the event in flight


def test_an_idle_thread_looks_for_due_events_every_second_and_a_wake_is_at_once(tmp_path, s3_env, events_table,
                                                                              bucket, items_of):
    rig = EventRig(tmp_path, events_table, bucket)
    rig.sender._wake = wake = RecordingEvent()
    rig.sender.start()
    try:
        wait_until(lambda: len(wake.waits) >= 2, 60, "two idle waits")
        rig.send(track_event("e1", 0))
        rig.sender.wake()
        wait_until(lambda: "e1" in items_of(events_table), 60, "the event written")
    finally:
        rig.sender.stop()
        rig.close()
    assert set(wake.waits) == {1.0}


def test_the_thread_backs_off_between_failed_steps_and_survives_any_error(tmp_path, s3_env, events_table, bucket,
                                                                          items_of):
    calls: list[int] = []

    def flaky_factory(cfg):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("not an AWS error: a bug, a full disk...")
        return make_client(cfg)

    rig = EventRig(tmp_path, events_table, bucket, client_factory=flaky_factory)
    rig.sender._stop = stop = RecordingEvent()
    rig.send(track_event("e1", 0))
    rig.sender.start()
    try:
        wait_until(lambda: "e1" in items_of(events_table), 60, "the event written")
    finally:
        rig.sender.stop()
        rig.close()
    assert rig.counters["senderErrors"] == 1
    backoffs = [w for w in stop.waits if w is not None]
    assert backoffs and all(0 < w <= 0.05 for w in backoffs)  # backoffMaxS


def held(sequence: int) -> HeldEvent:
    return HeldEvent(event_id="cam1.1.1", camera_id="cam1", sequence=sequence, item={}, bytes=0, snapshot=None,
                     written_sequence=None, rejected=None, received_at=1.0)


def test_the_row_read_again_is_written_only_when_no_other_message_arrived_meanwhile():
    # sequences past the small integers Python caches, each built on its own: equal, never the same object
    sent = held(int("1000001"))
    same = held(int("1000001"))
    assert EventSender._unchanged(sent, same) is same
    assert EventSender._unchanged(sent, held(1000002)) is None  # a newer message: step again
    assert EventSender._unchanged(sent, held(1000000)) is None  # an older row is not the one uploaded either
    assert EventSender._unchanged(sent, None) is None  # the row is gone
