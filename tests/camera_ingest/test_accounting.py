"""The ledger: a capture's final status waits for its frames' receipts (or accountWithinS), carries an
accounting that adds up to frames_captured, and captures a restart interrupted are ended from the
journal. On a fake clock, with the real journal and the status replies on the fake nucleus."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from camera_ingest.accounting import CaptureLedger
from camera_ingest.commands import CaptureRequest, validate
from camera_ingest.journal import Journal
from camera_ingest.replies import CaptureReplies
from camera_ingest.settings import CameraIngestConfig
from smartcam.contracts import OUTCOMES, CaptureStatus, FrameAccounting
from smartcam.telemetry import Counters
from tests.camera_ingest.helpers import THING, IngestNucleus, config_dict


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Rig:
    """A ledger over a journal file, its statuses on a fake nucleus, accountWithinS settable."""

    def __init__(self, path: Path, within: float = 60.0) -> None:
        self.path = path
        self.clock = Clock()
        self.within = within
        self.nucleus = IngestNucleus({})
        self.config = CameraIngestConfig.model_validate(
            {k: v for k, v in config_dict(path.parent).items() if k != "accessControl"})
        self.open()

    def open(self) -> None:
        """A (re)started component: a new ledger over the same journal."""
        self.journal = Journal(self.path)
        status = CaptureReplies(self.nucleus.ipc, THING, Counters())
        self.ledger = CaptureLedger(self.journal, status, lambda: self.within, clock=self.clock)

    def restart(self) -> None:
        self.journal.close()
        self.open()
        self.ledger.restore()

    def request(self, request_id: str, frames: int | None = 3) -> CaptureRequest:
        command = {"action": "capture", "camera_id": "cam0", "frames": frames, "request_id": request_id}
        if frames is None:
            command = {"action": "start", "camera_id": "cam0", "request_id": request_id}
        return validate(command, self.config)

    def capture(self, request_id: str, frames: int, requested: int | None = 3) -> tuple[int, list[str]]:
        capture = self.ledger.begin(self.request(request_id, requested))
        ids = [f"cam0-{capture}-{n}" for n in range(frames)]
        for frame_id in ids:
            self.ledger.frame_captured(capture, frame_id)
        return capture, ids

    def statuses(self, request_id: str) -> list[CaptureStatus]:
        return [s for s in self.nucleus.statuses() if s.request_id == request_id]

    def finals(self, request_id: str) -> list[CaptureStatus]:
        return [s for s in self.statuses(request_id) if s.state in ("finished", "error")]


def test_the_final_status_waits_for_every_receipt(tmp_path: Path):
    rig = Rig(tmp_path / "journal.sqlite3")
    capture, ids = rig.capture("r1", 3)
    rig.ledger.tally([(ids[0], "stored")])
    rig.ledger.end(capture, "finished", "captured 3 frames of 3", 3)
    progress = rig.statuses("r1")[-1]
    assert progress.state == "progress" and progress.reason is not None
    assert "2 of 3 frames await receipts" in progress.reason and "captured 3 frames of 3" in progress.reason
    rig.ledger.tally([(ids[1], "dropped")])
    assert rig.finals("r1") == []
    rig.ledger.tally([(ids[2], "no_detections")])
    [final] = rig.finals("r1")
    assert (final.state, final.reason, final.frames_captured, final.frames_requested) == (
        "finished", "captured 3 frames of 3", 3, 3)
    assert final.accounting == FrameAccounting(stored=1, dropped=1, no_detections=1)
    assert final.accounting.total() == final.frames_captured
    assert rig.journal.captures() == []  # reported: nothing left to follow


def test_after_account_within_s_the_rest_is_pending(tmp_path: Path):
    rig = Rig(tmp_path / "journal.sqlite3", within=30)
    capture, ids = rig.capture("r1", 3)
    rig.ledger.end(capture, "error", "disk full", 3)
    rig.ledger.tally([(ids[0], "lost")])
    rig.clock.now += 29.9
    rig.ledger.report_due()
    assert rig.finals("r1") == []
    rig.clock.now += 0.1
    rig.ledger.report_due()
    [final] = rig.finals("r1")
    assert final.state == "error" and final.reason == "disk full"
    assert final.accounting == FrameAccounting(lost=1, pending=2)
    rig.ledger.tally([(ids[1], "stored")])  # a late receipt changes nothing more
    rig.ledger.report_due()
    assert len(rig.finals("r1")) == 1


def test_account_within_s_zero_sends_at_once_and_a_change_applies_to_waiting_captures(tmp_path: Path):
    rig = Rig(tmp_path / "journal.sqlite3", within=0)
    capture, _ = rig.capture("now", 2)
    rig.ledger.end(capture, "finished", "captured 2 frames", 2)
    assert [s.state for s in rig.statuses("now")] == ["finished"]
    assert rig.finals("now")[0].accounting == FrameAccounting(pending=2)

    rig.within = 3600
    capture, _ = rig.capture("later", 1)
    rig.ledger.end(capture, "finished", "captured 1 frame", 1)
    rig.ledger.report_due()
    assert rig.finals("later") == []
    rig.within = 0  # a configuration update while it waits
    rig.ledger.report_due()
    assert rig.finals("later")[0].accounting == FrameAccounting(pending=1)


def test_a_capture_without_frames_ends_at_once_with_an_empty_accounting(tmp_path: Path):
    rig = Rig(tmp_path / "journal.sqlite3", within=3600)
    capture, _ = rig.capture("none", 0)
    rig.ledger.end(capture, "error", "camera /dev/video9 does not exist", 0)
    [final] = rig.finals("none")
    assert final.accounting == FrameAccounting() and final.frames_captured == 0


def test_a_request_id_used_twice_keeps_two_accounts(tmp_path: Path):
    rig = Rig(tmp_path / "journal.sqlite3", within=3600)
    first, first_ids = rig.capture("same", 2)
    rig.ledger.end(first, "finished", "first", 2)
    second, second_ids = rig.capture("same", 1)
    rig.ledger.end(second, "finished", "second", 1)
    rig.ledger.tally([(second_ids[0], "stored")])
    [final] = rig.finals("same")
    assert (final.reason, final.accounting) == ("second", FrameAccounting(stored=1))
    rig.ledger.tally([(first_ids[0], "dropped"), (first_ids[1], "expired")])
    assert [(f.reason, f.accounting) for f in rig.finals("same")] == [
        ("second", FrameAccounting(stored=1)), ("first", FrameAccounting(dropped=1, expired=1))]


def test_receipts_of_unknown_or_already_tallied_frames_change_nothing(tmp_path: Path):
    rig = Rig(tmp_path / "journal.sqlite3", within=3600)
    capture, ids = rig.capture("r1", 2)
    rig.ledger.tally([(ids[0], "stored"), (ids[0], "lost"), ("cam9-zz-1", "stored")])
    rig.ledger.forget_frame(ids[1])  # the outbox gave up on it: it can only end pending
    rig.ledger.tally([(ids[1], "stored")])
    rig.ledger.end(capture, "finished", "done", 2)
    rig.clock.now += 3600
    rig.ledger.report_due()
    assert rig.finals("r1")[0].accounting == FrameAccounting(stored=1, pending=1)


def test_a_capture_running_at_a_restart_ends_as_interrupted_with_its_accounting(tmp_path: Path):
    rig = Rig(tmp_path / "journal.sqlite3", within=3600)
    capture, ids = rig.capture("cut", 4, requested=10)
    rig.journal.put(ids[2], b"{}")  # in the outbox: owned by the capture after the restart
    rig.journal.put(ids[3], b"{}")
    rig.ledger.tally([(ids[0], "stored"), (ids[1], "refused")])
    rig.restart()
    progress = rig.statuses("cut")[-1]
    assert progress.state == "progress" and progress.reason is not None
    assert "interrupted: CameraIngest restarted after 4 of 10 frames" in progress.reason
    assert "2 of 4 frames await receipts" in progress.reason
    rig.ledger.tally([(ids[2], "stored")])
    rig.clock.now += 3600
    rig.ledger.report_due()
    [final] = rig.finals("cut")
    assert final.state == "error" and final.reason == "interrupted: CameraIngest restarted after 4 of 10 frames"
    assert (final.frames_captured, final.frames_requested) == (4, 10)
    assert final.accounting == FrameAccounting(stored=2, refused=1, pending=1)
    # A new capture after the restart gets a number of its own.
    assert rig.ledger.begin(rig.request("next")) > capture


def test_a_capture_that_ended_before_the_restart_keeps_its_own_end(tmp_path: Path):
    rig = Rig(tmp_path / "journal.sqlite3", within=3600)
    capture, ids = rig.capture("done", 2, requested=2)
    rig.journal.put(ids[1], b"{}")
    rig.ledger.tally([(ids[0], "stored")])
    rig.ledger.end(capture, "finished", "captured 2 frames of 2", 2)
    rig.restart()
    rig.ledger.tally([(ids[1], "no_detections")])
    [final] = rig.finals("done")
    assert (final.state, final.reason) == ("finished", "captured 2 frames of 2")
    assert final.accounting == FrameAccounting(stored=1, no_detections=1)


def test_a_final_status_the_nucleus_did_not_take_is_sent_by_the_next_run(tmp_path: Path, monkeypatch):
    """The component stops mid-capture and the nucleus is already gone: the final status cannot be
    published, so the journal keeps the capture and the next run sends it (seen in e2e: a daemon kill)."""
    rig = Rig(tmp_path / "journal.sqlite3", within=3600)
    capture, ids = rig.capture("stopping", 1, requested=60)
    rig.ledger.tally([(ids[0], "stored")])

    def gone(*_: object, **__: object) -> None:
        raise ConnectionError("the nucleus closed the connection")

    monkeypatch.setattr(rig.nucleus.ipc, "publish_iot", gone)
    rig.ledger.end(capture, "finished", "component stopping after 1 frames of 60", 1)
    assert [row.request_id for row in rig.journal.captures()] == ["stopping"]  # kept: not delivered
    monkeypatch.undo()
    rig.restart()
    finals = [s for s in rig.finals("stopping") if s.accounting == FrameAccounting(stored=1)]
    assert [(s.state, s.reason) for s in finals][-1] == ("finished", "component stopping after 1 frames of 60")
    assert rig.journal.captures() == []  # delivered this time: nothing left to follow


def test_a_restart_with_everything_receipted_reports_at_once(tmp_path: Path):
    rig = Rig(tmp_path / "journal.sqlite3", within=3600)
    _, ids = rig.capture("all", 1, requested=None)
    rig.ledger.tally([(ids[0], "stored")])
    rig.restart()
    [final] = rig.finals("all")
    assert final.reason == "interrupted: CameraIngest restarted after 1 frame"
    assert final.accounting == FrameAccounting(stored=1)


operations = st.lists(st.one_of(
    st.tuples(st.just("begin"), st.integers(0, 3)),  # a capture with 0..3 frames, left running
    st.tuples(st.just("end"), st.integers(0, 5)),  # end the n-th capture still running
    st.tuples(st.just("receipt"), st.integers(0, 30), st.sampled_from(OUTCOMES)),  # of the n-th frame
    st.tuples(st.just("forget"), st.integers(0, 30)),
    st.tuples(st.just("time"), st.sampled_from([1.0, 30.0, 61.0])),
    st.tuples(st.just("restart")),
), max_size=25)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_every_capture_gets_one_final_status_whose_accounting_adds_up(tmp_path_factory, ops):
    """Whatever order frames, receipts, ends, clock and restarts come in."""
    rig = Rig(tmp_path_factory.mktemp("ledger") / "journal.sqlite3", within=60)
    running: list[int] = []
    frames: list[str] = []
    receipted: set[str] = set()
    begun: list[str] = []
    for number, op in enumerate(ops):
        if op[0] == "begin":
            begun.append(f"r{number}")
            capture, ids = rig.capture(f"r{number}", op[1], requested=None)
            for frame_id in ids:  # in the outbox, as the delivery puts every frame it publishes
                rig.journal.put(frame_id, b"{}")
            running.append(capture)
            frames += ids
        elif op[0] == "end" and running:
            capture = running.pop(op[1] % len(running))
            count = sum(1 for f in frames if f.startswith(f"cam0-{capture}-"))
            rig.ledger.end(capture, "finished", "ended", count)
        elif op[0] == "receipt" and frames:
            frame_id = frames[op[1] % len(frames)]
            if frame_id not in receipted:  # the outbox settles a frame once
                receipted.add(frame_id)
                rig.journal.delete([frame_id])
                rig.ledger.tally([(frame_id, op[2])])
        elif op[0] == "forget" and frames:
            rig.ledger.forget_frame(frames[op[1] % len(frames)])
        elif op[0] == "time":
            rig.clock.now += op[1]
            rig.ledger.report_due()
        elif op[0] == "restart":
            rig.restart()
            running.clear()  # the restart ended them as interrupted
    for capture in running:
        rig.ledger.end(capture, "finished", "ended", sum(1 for f in frames if f.startswith(f"cam0-{capture}-")))
    rig.clock.now += 61
    rig.ledger.report_due()
    finals = [s for s in rig.nucleus.statuses() if s.state in ("finished", "error")]
    assert sorted(s.request_id for s in finals) == sorted(begun)  # exactly one each
    for final in finals:
        assert final.accounting is not None
        assert final.accounting.total() == final.frames_captured
    rig.journal.close()
