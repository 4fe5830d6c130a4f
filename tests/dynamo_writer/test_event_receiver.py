"""The receiving side of events: committed (with the snapshot's copies) before the receipt, the highest
sequence kept, a lower one receipted again, a missing snapshot never holding the event back."""

import pytest

from dynamo_writer.event_receiver import NOT_STORED_IN_DETECTIONS_MODE, EventReceiver
from dynamo_writer.event_spool import EventSpool
from dynamo_writer.snapshots import SnapshotCopier
from smartcam.contracts import EventReceipt
from smartcam.telemetry import Counters
from tests.dynamo_writer.helpers import DEVICE, config, snapshot, track_event

BUCKET = "smartcam-snapshots-test"


class CommittedFirst:
    """A receipt sink that checks, as each receipt arrives, that a second connection to the spool file
    sees the event at the receipted sequence: the commit came first."""

    def __init__(self, path):
        self.spool = EventSpool(path)
        self.events: list[EventReceipt] = []
        self.uncommitted: list[EventReceipt] = []

    def add_event(self, receipt):
        held = self.spool.held(receipt.event_id)
        if receipt.outcome == "stored" and (held is None or held.sequence != receipt.sequence):
            self.uncommitted.append(receipt)
        self.events.append(receipt)


class Rig:
    def __init__(self, tmp_path, **over):
        self.source = tmp_path / "tracker"
        self.source.mkdir(exist_ok=True)
        self.path = tmp_path / "writer" / "spool.sqlite3"
        self.spool = EventSpool(self.path)
        self.copier = SnapshotCopier(self.source, self.path.parent / "snapshots")
        self.counters = Counters()
        self.receipts = CommittedFirst(self.path)
        self.woken = 0
        self.settings = config(**{"store": "events", "snapshotBucket": BUCKET, **over})
        self.receiver = EventReceiver(self.spool, lambda: self.settings, self.counters, DEVICE, self._wake,
                                      copier=self.copier, receipts=self.receipts)

    def _wake(self):
        self.woken += 1

    def configure(self, **over):
        self.settings = config(**{"store": "events", "snapshotBucket": BUCKET, **over})

    def send(self, event):
        return self.receiver.on_message("smartcam/events", event.to_message())

    def outcomes(self):
        return [(r.event_id, r.sequence, r.outcome) for r in self.receipts.events]

    def close(self):
        self.receipts.spool.close()
        self.spool.close()


@pytest.fixture
def rig(tmp_path):
    r = Rig(tmp_path)
    yield r
    r.close()


def test_each_message_is_committed_before_its_receipt(rig):
    for sequence in range(3):
        admission = rig.send(track_event("e1", sequence))
        assert (admission.decision, admission.sequence) == ("stored", sequence)
    rig.send(track_event("e1", 3, kind="end"))
    assert rig.outcomes() == [("e1", s, "stored") for s in range(4)]
    assert rig.receipts.uncommitted == []
    held = rig.spool.held("e1")
    assert (held.sequence, held.item["state"], held.pending) == (3, {"S": "ended"}, True)
    assert rig.woken == 4
    assert (rig.counters["eventsSpooled"], rig.counters["eventsEnded"]) == (4, 1)


def test_a_lower_or_equal_sequence_changes_nothing_and_is_receipted_with_the_held_one(rig):
    rig.send(track_event("e1", 5))
    for sequence in (5, 2, 0):
        admission = rig.send(track_event("e1", sequence))
        assert (admission.decision, admission.sequence) == ("duplicate", 5)
    assert rig.outcomes() == [("e1", 5, "stored")] * 4
    assert rig.spool.held("e1").item["frames"] == {"N": "6"}  # still sequence 5's event
    assert rig.counters["eventsDuplicate"] == 3 and rig.woken == 1


def test_the_snapshot_is_copied_before_the_receipt_and_serves_later_messages(rig):
    ref = snapshot(rig.source, "e1", "cam1-000042")
    rig.send(track_event("e1", 0, snapshot=ref))
    snap = rig.spool.held("e1").snapshot
    assert snap.full.read_bytes() == (rig.source / "e1" / "full.jpg").read_bytes()
    assert snap.value["M"]["key"]["S"].endswith("/e1/full.jpg") and snap.value["M"]["bucket"]["S"] == BUCKET
    # Receipted: EventTracker deletes its pictures; the next messages name the same snapshot.
    for name in ("full.jpg", "crop.jpg"):
        (rig.source / "e1" / name).unlink()
    rig.send(track_event("e1", 1, snapshot=ref))
    rig.send(track_event("e1", 2, kind="end", snapshot=ref))
    held = rig.spool.held("e1")
    assert held.sequence == 2 and held.snapshot == snap and snap.full.exists()
    assert rig.counters["snapshotsCopied"] == 1 and rig.counters["snapshotsMissing"] == 0


def test_a_better_snapshot_replaces_the_copies_of_the_earlier_one(rig):
    first = snapshot(rig.source, "e1", "cam1-000001", seed=1)
    rig.send(track_event("e1", 0, snapshot=first))
    old = rig.spool.held("e1").snapshot
    better = snapshot(rig.source, "e1", "cam1-000009", seed=5)  # EventTracker rewrites its files
    rig.send(track_event("e1", 1, snapshot=better))
    new = rig.spool.held("e1").snapshot
    assert new.frame_id == "cam1-000009" and new.full.read_bytes() == (rig.source / "e1" / "full.jpg").read_bytes()
    assert not old.full.exists() and not old.crop.exists()
    assert rig.copier.files() == {new.full, new.crop}


def test_a_missing_snapshot_is_recorded_and_counted_and_the_event_stored(rig):
    ref = snapshot(rig.source, "e1")
    (rig.source / "e1" / "full.jpg").unlink()
    assert rig.send(track_event("e1", 0, snapshot=ref)).decision == "stored"
    snap = rig.spool.held("e1").snapshot
    assert snap.value is None and "full.jpg is missing" in snap.missing
    assert rig.counters["snapshotsMissing"] == 1 and rig.outcomes() == [("e1", 0, "stored")]
    assert rig.copier.files() == set()


def test_without_a_bucket_the_event_is_stored_without_its_snapshot(rig):
    rig.configure(snapshotBucket=None)
    rig.send(track_event("e1", 0, snapshot=snapshot(rig.source, "e1")))
    assert rig.spool.held("e1").snapshot.missing == "no snapshotBucket configured"
    assert rig.copier.files() == set()


def test_snapshots_beyond_the_folders_bound_are_left_out(rig):
    first = snapshot(rig.source, "e1")
    rig.configure(maxSnapshotMB=first.bytes * 1.5 / 2**20)
    rig.send(track_event("e1", 0, snapshot=first))
    rig.send(track_event("e2", 0, snapshot=snapshot(rig.source, "e2")))
    assert rig.spool.held("e1").snapshot.value is not None
    assert "maxSnapshotMB" in rig.spool.held("e2").snapshot.missing
    assert rig.outcomes() == [("e1", 0, "stored"), ("e2", 0, "stored")]


def test_in_detections_mode_new_events_are_receipted_lost_and_held_ones_completed(rig):
    rig.send(track_event("held", 0))
    rig.configure(store="detections")
    rig.send(track_event("new", 0, snapshot=snapshot(rig.source, "new")))
    rig.send(track_event("held", 1, kind="end"))
    assert rig.outcomes() == [("held", 0, "stored"), ("new", 0, "lost"), ("held", 1, "stored")]
    assert rig.receipts.events[1].detail == NOT_STORED_IN_DETECTIONS_MODE
    assert rig.spool.held("new") is None and rig.copier.files() == set()
    assert rig.spool.held("held").item["state"] == {"S": "ended"}
    assert rig.counters["eventsNotStored"] == 1
    rig.configure(store="both")  # live: the next message of the refused event is stored whole
    rig.send(track_event("new", 1))
    assert rig.outcomes()[-1] == ("new", 1, "stored") and rig.spool.held("new").sequence == 1


def test_a_new_event_beyond_max_spool_events_is_receipted_lost(rig):
    rig.configure(maxSpoolEvents=1)
    rig.send(track_event("a", 0))
    rig.send(track_event("b", 0, snapshot=snapshot(rig.source, "b")))
    rig.send(track_event("a", 1))
    assert rig.outcomes() == [("a", 0, "stored"), ("b", 0, "lost"), ("a", 1, "stored")]
    assert "maxSpoolEvents" in rig.receipts.events[1].detail and rig.counters["eventsLost"] == 1
    assert rig.copier.files() == set()  # the copy made for the refused event is gone


def test_when_the_spool_cannot_write_nothing_is_receipted_and_a_resend_is_stored_later(tmp_path):
    rig = Rig(tmp_path)
    try:
        rig.send(track_event("first", 0))
        rig.spool.close()
        rig.spool = EventSpool(rig.path, max_page_count=1)  # stands in for a full disk
        rig.receiver._spool = rig.spool
        ref = snapshot(rig.source, "e1")
        admissions = [rig.send(track_event(f"e{n}", 0, snapshot=ref if n == 1 else None)) for n in range(1, 40)]
        unavailable = [a for a in admissions if a.decision == "unavailable"]
        assert unavailable and "full" in unavailable[-1].detail
        assert rig.receiver.spool_error is not None and rig.counters["eventsSpoolUnavailable"] == len(unavailable)
        stored = {r.event_id for r in rig.receipts.events}
        assert all(rig.spool.held(event_id) is not None for event_id in stored)  # receipted = spooled
        assert {f"e{n}" for n in range(1, 40)} - stored  # some were not receipted: EventTracker resends them
        rig.spool.close()
        rig.spool = EventSpool(rig.path)  # room again
        rig.receiver._spool = rig.spool
        assert rig.send(track_event("e39", 0)).decision == "stored"
        assert rig.receiver.spool_error is None
    finally:
        rig.close()


def test_an_invalid_message_is_counted_and_gets_no_receipt(rig):
    assert rig.receiver.on_message("smartcam/events", {"schema": "smartcam.event/1", "event_id": "e1"}) is None
    bad = track_event("e1", 0).to_message() | {"duration_s": 99.0}
    assert rig.receiver.on_message("smartcam/events", bad) is None
    assert rig.receiver.on_message("smartcam/events", b"\xff not json") is None
    assert rig.counters["eventsInvalid"] == 3 and rig.outcomes() == []


def test_at_start_copies_no_event_names_are_deleted(rig):
    rig.send(track_event("e1", 0, snapshot=snapshot(rig.source, "e1")))
    kept = rig.copier.files()
    orphan = rig.copier.folder / "crashed" / "f.full.jpg"  # copied, then the process died before the commit
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"\xff\xd8\xff")
    rig.receiver.start()
    assert rig.copier.files() == kept and not orphan.parent.exists()
