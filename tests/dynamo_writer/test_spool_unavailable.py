"""A spool that cannot write (disk full, I/O error) never loses detections silently: they are held in
memory and retried in order, health is degraded with the reason, and only what exceeds the memory
bound is lost, counted and reported as an error."""

import errno
import os
import shutil
import sqlite3
import subprocess

import pytest

from dynamo_writer.holdback import HeldBack
from dynamo_writer.receiver import Receiver
from dynamo_writer.reports import Reporter
from dynamo_writer.spool import Spool
from smartcam.telemetry import Telemetry
from tests.dynamo_writer.helpers import DEVICE, RecordingReceipts, config, detections, frames, wait_until

DISK_FULL = sqlite3.OperationalError("database or disk is full")


class FailingSpool(Spool):
    """A real spool whose writes raise ``failure`` (raised at the spool boundary) while it is set."""

    failure: BaseException | None = None

    def put(self, items, **limits):
        if self.failure is not None:
            raise self.failure
        return super().put(items, **limits)


class RecordingStatus:
    def __init__(self):
        self.reports = []

    def report(self, kind, detail, state="degraded"):
        self.reports.append((kind, detail, state))
        return True


class Writer:
    """The receiving side and the reporter over one spool, as the component wires them."""

    def __init__(self, spool, held=None):
        self.spool = spool
        self.telemetry = Telemetry(None, "smartcam.DynamoWriter", DEVICE)
        self.status = RecordingStatus()
        self.woken = []
        self.receipts = RecordingReceipts()
        cfg = config()
        self.receiver = Receiver(spool, lambda: cfg, self.telemetry.counters, DEVICE, lambda: self.woken.append(1),
                                 status=self.status, held=held, receipts=self.receipts)
        self.reporter = Reporter(None, DEVICE, spool, self.telemetry, settings=lambda: cfg,
                                 sender_state=lambda: (0, None),
                                 held_state=lambda: (self.receiver.held.items, self.receiver.spool_error))
        self.counters = self.telemetry.counters

    def send(self, messages):
        return [self.receiver.on_message("smartcam/detections", m.to_message()) for m in messages]

    def spooled_frames(self):
        return [row.item["frameId"]["S"] for row in self.spool.peek(10_000)]


@pytest.fixture
def writer(tmp_path):
    w = Writer(FailingSpool(tmp_path / "spool.sqlite3"))
    yield w
    w.receiver.stop()
    w.spool.close()


@pytest.mark.parametrize("failure", [DISK_FULL, sqlite3.OperationalError("disk I/O error"),
                                     OSError(errno.ENOSPC, "No space left on device"),
                                     OSError(errno.EIO, "Input/output error")])
def test_write_errors_hold_detections_and_degrade_health_with_the_reason(writer, failure):
    messages = frames(6)
    writer.send(messages[:2])
    writer.spool.failure = failure
    admissions = writer.send(messages[2:])
    assert [a.held for a in admissions] == [1, 1, 1, 1]
    assert writer.counters.get("itemsHeldBack") == 4 and writer.counters.get("itemsLostSpoolUnavailable") == 0
    report, health = writer.reporter.build()
    assert health.state == "degraded"
    assert str(failure) in health.detail and "4 items held in memory" in health.detail
    assert report.last_error is not None and str(failure) in report.last_error
    assert writer.spooled_frames() == [m.frame.frame_id for m in messages[:2]]

    assert writer.receiver.retry_held() == 0  # still failing: nothing moves, nothing is lost
    writer.spool.failure = None
    assert writer.receiver.retry_held() == 4
    assert writer.spooled_frames() == [m.frame.frame_id for m in messages]  # arrival order kept
    assert writer.receiver.spool_error is None and writer.woken
    report, health = writer.reporter.build()
    assert health.state == "ok" and report.last_error is None
    assert writer.status.reports == []


def test_a_new_message_waits_behind_held_ones_even_once_the_spool_recovers(writer):
    messages = frames(3)
    writer.spool.failure = DISK_FULL
    writer.send(messages[:1])
    writer.spool.failure = None
    assert writer.send(messages[1:2])[0].held == 1  # not spooled ahead of the older held frame
    writer.receiver.retry_held()
    writer.send(messages[2:])
    assert writer.spooled_frames() == [m.frame.frame_id for m in messages]


def test_beyond_the_memory_bound_detections_are_counted_lost_with_an_error_status(tmp_path):
    writer = Writer(FailingSpool(tmp_path / "spool.sqlite3"), held=HeldBack(max_items=3, max_bytes=10**9))
    writer.spool.failure = DISK_FULL
    admissions = writer.send(frames(5))
    assert [a.held for a in admissions] == [1, 1, 1, 0, 0]
    assert [a.lost for a in admissions] == [0, 0, 0, 1, 1]
    assert writer.counters.get("itemsLostSpoolUnavailable") == 2
    assert [(kind, state) for kind, _, state in writer.status.reports] == [("spoolItemsLost", "errored")] * 2
    assert "database or disk is full" in writer.status.reports[0][1]
    writer.spool.failure = None
    assert writer.receiver.retry_held() == 3
    writer.spool.close()


def test_a_failure_retrying_cannot_fix_loses_only_that_message(writer):
    writer.spool.failure = sqlite3.DatabaseError("database disk image is malformed")
    (admission,) = writer.send(frames(1))
    assert admission.lost == 1 and writer.counters.get("itemsLostSpoolError") == 1
    assert writer.status.reports[0][2] == "errored"
    assert not len(writer.receiver.held)


def test_the_retry_thread_spools_held_detections_once_the_disk_has_room(writer):
    writer.receiver.start()
    writer.spool.failure = DISK_FULL
    messages = frames(5)
    writer.send(messages)
    writer.spool.failure = None
    wait_until(lambda: writer.spool.depth()[0] == 5, timeout=10, what="held detections spooled")
    assert writer.spooled_frames() == [m.frame.frame_id for m in messages]


@pytest.fixture
def small_filesystem(tmp_path):
    """An 8 MiB tmpfs under this test's own folder (needs root; unmounted at teardown)."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mount, umount = shutil.which("mount"), shutil.which("umount")
    if os.geteuid() != 0 or not mount or not umount:
        pytest.skip("mounting a small tmpfs needs root and mount(8)")
    result = subprocess.run([mount, "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(mount_point)],
                            check=False, capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run([umount, "-l", str(mount_point)], check=True, timeout=30)


def fill(folder, name="filler"):
    """Take every free byte of the filesystem under ``folder``."""
    with open(folder / name, "wb", buffering=0) as out:  # unbuffered: nothing left to flush at close
        try:
            while True:
                out.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


def test_a_really_full_filesystem_holds_then_spools_everything(small_filesystem):
    writer = Writer(Spool(small_filesystem / "spool.sqlite3"))
    writer.receiver.start()
    try:
        messages = frames(60)
        writer.send(messages[:5])
        fill(small_filesystem)
        admissions = writer.send(messages[5:])
        assert sum(a.held for a in admissions) > 0
        assert writer.counters.get("itemsLostSpoolUnavailable") == 0
        _, health = writer.reporter.build()
        assert health.state == "degraded" and "full" in health.detail
        (small_filesystem / "filler").unlink()
        wait_until(lambda: writer.spool.depth()[0] == 60, timeout=20, what="held detections spooled")
        assert writer.spooled_frames() == [m.frame.frame_id for m in messages]
        # The retry loop clears the spool error once the last held message is in (the depth is seen earlier).
        wait_until(lambda: writer.reporter.build()[1].state == "ok", timeout=20, what="health ok again")
    finally:
        writer.receiver.stop()
        writer.spool.close()


# --- receipts: none while held, one once spooled, "lost" with the reason ---------------------------

def test_a_held_frame_is_receipted_only_once_spooled_and_a_resend_meanwhile_is_ignored(writer):
    messages = frames(3)
    empty = detections("empty", labels=())
    writer.send(messages[:1])
    writer.spool.failure = DISK_FULL
    writer.send([*messages[1:], empty])
    assert writer.receipts.outcomes() == [(messages[0].frame.frame_id, "stored")]  # nothing for held frames
    (resend,) = writer.send(messages[1:2])
    assert resend.ignored and writer.counters.get("messagesResentWhileHeld") == 1
    assert len(writer.receiver.held) == 3  # the resend is not held a second time

    writer.receiver.retry_held()  # still failing: still no receipt
    assert len(writer.receipts.receipts) == 1
    writer.spool.failure = None
    writer.receiver.retry_held()
    assert writer.receipts.outcomes() == [(m.frame.frame_id, "stored") for m in messages] + [("empty", "no_detections")]
    assert writer.spooled_frames() == [m.frame.frame_id for m in messages]  # each once
    writer.send(messages[1:2])  # and a resend now is answered from the spool
    assert writer.receipts.receipts[-1] == writer.receipts.for_frame(messages[1].frame.frame_id)[0]
    assert writer.spooled_frames() == [m.frame.frame_id for m in messages]


def test_a_frame_beyond_the_memory_bound_is_receipted_lost_with_the_reason(tmp_path):
    writer = Writer(FailingSpool(tmp_path / "spool.sqlite3"), held=HeldBack(max_items=1, max_bytes=10**9))
    writer.spool.failure = DISK_FULL
    held, lost = frames(2)
    writer.send([held, lost])
    (receipt,) = writer.receipts.receipts
    assert (receipt.frame_id, receipt.outcome, receipt.items) == (lost.frame.frame_id, "lost", 0)
    assert "database or disk is full" in receipt.detail and "wait in memory" in receipt.detail
    assert writer.counters.get("framesLost") == 1
    writer.spool.failure = None
    writer.send([lost])  # sent again once the spool could take it: the same answer, nothing spooled
    assert writer.receipts.receipts[-1] == receipt
    writer.receiver.retry_held()
    assert writer.spooled_frames() == [held.frame.frame_id]
    assert writer.receipts.outcomes()[-1] == (held.frame.frame_id, "stored")
    writer.spool.close()


def test_a_spool_failure_retrying_cannot_fix_is_receipted_lost(writer):
    writer.spool.failure = sqlite3.DatabaseError("database disk image is malformed")
    (message,) = frames(1)
    writer.send([message])
    (receipt,) = writer.receipts.receipts
    assert receipt.outcome == "lost" and "malformed" in receipt.detail


def test_a_held_frame_the_spool_then_fails_for_good_is_receipted_lost(writer):
    writer.spool.failure = DISK_FULL
    (message,) = frames(1)
    writer.send([message])
    writer.spool.failure = sqlite3.DatabaseError("database disk image is malformed")
    writer.receiver.retry_held()
    assert writer.receipts.outcomes() == [(message.frame.frame_id, "lost")]
    assert "malformed" in writer.receipts.receipts[0].detail and not len(writer.receiver.held)
