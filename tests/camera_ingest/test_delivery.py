"""Frames to SsdInference at least once: the outbox settles on terminal receipts and tallies them on
their capture, sends everything again when SsdInference restarts, and on a timeout only to an
SsdInference that speaks receipts. First the delivery alone on a fake clock, then the component."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from camera_ingest import delivery as delivery_module
from camera_ingest.accounting import CaptureLedger
from camera_ingest.delivery import FrameDelivery
from camera_ingest.journal import Journal
from camera_ingest.replies import CaptureReplies
from smartcam import topics
from smartcam.contracts import FrameAccounting, FrameReceipt, FrameRef, Health, Receipts, parse
from smartcam.handoff import new_instance
from smartcam.telemetry import Counters
from tests.camera_ingest.helpers import INFERENCE, TERMINAL, THING, WRITER, IngestNucleus, config_dict

COMMANDS = topics.iot_capture_commands(THING)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def frame(n: int, request_id: str | None = "r1") -> FrameRef:
    return FrameRef(frame_id=f"cam0-ab-{n}", camera_id="cam0", slot=n % 8,
                    sequence=n, captured_at=1.0 + n, captured_monotonic_ns=n, width=4, height=3, format="bgr8",
                    request_id=request_id)


def receipts(stage: str, instance: str, *decided: tuple[FrameRef, str]) -> dict:
    return Receipts(stage=stage, instance=instance, at=1.0, receipts=[
        FrameReceipt(frame_id=ref.frame_id, camera_id=ref.camera_id, request_id=ref.request_id, outcome=outcome)
        for ref, outcome in decided]).to_message()


class Rig:
    """The delivery over a real journal, without its thread: the test calls tick()."""

    def __init__(self, path: Path) -> None:
        self.clock = Clock()
        self.nucleus = IngestNucleus({})
        self.counters = Counters()
        self.journal = Journal(path)
        status = CaptureReplies(self.nucleus.ipc, THING, self.counters)
        self.ledger = CaptureLedger(self.journal, status, lambda: 3600.0, clock=self.clock)
        self.delivery = FrameDelivery(self.nucleus.ipc, self.journal, self.ledger, self.counters, clock=self.clock)

    def hear(self, message: dict | bytes) -> None:
        self.delivery.on_receipts(topics.RECEIPTS, message)

    def resent(self) -> list[str]:
        return [ref.frame_id for ref in self.nucleus.resends()]


@pytest.fixture
def rig(journal: Path):
    made = Rig(journal)
    yield made
    made.journal.close()


def test_no_timed_resend_before_inference_has_sent_receipts(rig: Rig):
    for n in range(2):
        rig.delivery.send(frame(n), None)
    rig.clock.now += 10_000
    rig.delivery.tick()
    assert rig.resent() == []  # an inference that never sent receipts may not de-duplicate
    rig.hear(receipts(INFERENCE, new_instance()))  # it announces its run: everything is due now
    rig.delivery.tick()
    assert rig.resent() == ["cam0-ab-0", "cam0-ab-1"]
    assert all(ref.resent for ref in rig.nucleus.resends())
    assert rig.counters["framesResent"] == 2
    rig.delivery.tick()
    assert len(rig.resent()) == 2
    rig.clock.now += 19.9  # the next resend backs off: 2 x FIRST_RESEND_S
    rig.delivery.tick()
    assert len(rig.resent()) == 2
    rig.clock.now += 0.1
    rig.delivery.tick()
    assert len(rig.resent()) == 4


def test_timed_resends_once_inference_speaks_receipts(rig: Rig):
    run = new_instance()
    rig.hear(receipts(INFERENCE, run))
    rig.delivery.send(frame(0), None)
    rig.delivery.send(frame(1), None)
    rig.hear(receipts(INFERENCE, run, (frame(0), "dropped")))  # the same run: nothing due at once
    rig.delivery.tick()
    assert rig.resent() == []
    rig.clock.now += delivery_module.FIRST_RESEND_S
    rig.delivery.tick()
    assert rig.resent() == ["cam0-ab-1"]


def test_a_new_inference_run_gets_everything_without_receipt_at_once(rig: Rig):
    first = new_instance()
    rig.hear(receipts(INFERENCE, first))
    for n in range(4):
        rig.delivery.send(frame(n), None)
    rig.hear(receipts(WRITER, new_instance(), (frame(0), "stored")))
    rig.hear(receipts(INFERENCE, first, (frame(1), "expired")))
    rig.delivery.tick()
    assert rig.resent() == []
    rig.hear(receipts(INFERENCE, new_instance()))  # SsdInference restarted
    rig.delivery.tick()
    assert rig.resent() == ["cam0-ab-2", "cam0-ab-3"]
    assert rig.delivery.awaiting() == 2


def test_the_first_receipts_of_a_run_already_going_resend_nothing_at_once(rig: Rig):
    """This component started after SsdInference: the run's first receipts are news to it, but the
    run lost nothing it was sent; a frame it missed is due on the timeout."""
    for n in range(3):
        rig.delivery.send(frame(n), None)
    run = new_instance()
    rig.hear(receipts(INFERENCE, run, (frame(0), "dropped")))
    rig.delivery.tick()
    assert rig.resent() == []
    rig.clock.now += delivery_module.FIRST_RESEND_S
    rig.delivery.tick()
    assert rig.resent() == ["cam0-ab-1", "cam0-ab-2"]
    rig.hear(receipts(INFERENCE, new_instance(), (frame(1), "expired")))  # then a restart: all at once
    rig.delivery.tick()
    assert rig.resent() == ["cam0-ab-1", "cam0-ab-2", "cam0-ab-2"]


def test_terminal_receipts_settle_tally_and_count(rig: Rig):
    capture = rig.ledger.begin(_request("r1", frames=7))
    refs = [frame(n) for n in range(7)]
    for ref in refs:
        rig.delivery.send(ref, capture)
    rig.ledger.end(capture, "finished", "captured 7 frames of 7", 7)
    rig.hear(receipts(INFERENCE, new_instance(), (refs[0], "dropped"), (refs[1], "expired"), (refs[2], "refused")))
    rig.hear(receipts(WRITER, new_instance(), (refs[3], "stored"), (refs[4], "no_detections"),
                      (refs[6], "summarized")))
    assert rig.delivery.awaiting() == 1
    assert [s.state for s in rig.nucleus.statuses()] == ["progress"]
    rig.hear(receipts(WRITER, new_instance(), (refs[5], "lost")))
    final = rig.nucleus.statuses()[-1]
    assert final.state == "finished"
    assert final.accounting == FrameAccounting(stored=1, summarized=1, no_detections=1, dropped=1, expired=1,
                                               refused=1, lost=1)
    assert final.accounting.total() == final.frames_captured == 7
    counted = {name: rig.counters[name] for name in delivery_module.COUNTER.values()}
    assert counted == dict.fromkeys(delivery_module.COUNTER.values(), 1)
    assert rig.delivery.awaiting() == 0 and rig.journal.load() == []


def test_what_a_peer_sends_wrong_is_counted_and_settles_nothing(rig: Rig):
    capture = rig.ledger.begin(_request("r1", frames=2))
    refs = [frame(0), frame(1)]
    for ref in refs:
        rig.delivery.send(ref, capture)
    wrong = receipts(INFERENCE, new_instance(), (refs[0], "stored"))  # only the writer stores
    also_wrong = receipts(WRITER, new_instance(), (refs[1], "dropped"))  # only inference drops
    for payload in (b"\x00garbage", b"[]", json.dumps({**wrong, "schema": "smartcam.receipts/9"}).encode(),
                    json.dumps({**wrong, "instance": "not-hex"}).encode(), wrong, also_wrong):
        rig.hear(payload)
    assert rig.counters["receiptsInvalid"] == 6
    rig.hear(receipts("someone.Else", new_instance(), (refs[0], "stored")))  # not a stage of this hand-off
    rig.hear(receipts(WRITER, new_instance(), (frame(99), "stored")))  # a frame this run never sent
    assert rig.delivery.awaiting() == 2 and rig.counters["framesStored"] == 0
    # A receipt given twice (a resend answered again) counts once.
    rig.hear(receipts(WRITER, new_instance(), (refs[0], "stored"), (refs[0], "stored")))
    rig.hear(receipts(WRITER, new_instance(), (refs[0], "stored")))
    assert rig.counters["framesStored"] == 1 and rig.delivery.awaiting() == 1


def test_a_frame_without_request_is_followed_and_counted(rig: Rig):
    rig.delivery.send(frame(0, request_id=None), None)
    assert rig.delivery.awaiting() == 1
    rig.hear(receipts(WRITER, new_instance(), (frame(0, request_id=None), "no_detections")))
    assert rig.delivery.awaiting() == 0 and rig.counters["framesNoDetections"] == 1


def test_a_full_outbox_lets_the_oldest_go_pending(journal: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(delivery_module, "OUTBOX_CAPACITY", 2)
    rig = Rig(journal)
    capture = rig.ledger.begin(_request("r1", frames=3))
    refs = [frame(n) for n in range(3)]
    for ref in refs:
        rig.delivery.send(ref, capture)
    assert rig.counters["framesUnfollowed"] == 1
    assert [key for key, _ in rig.journal.load()] == ["cam0-ab-1", "cam0-ab-2"]
    rig.ledger.end(capture, "finished", "captured 3 frames of 3", 3)
    rig.hear(receipts(WRITER, new_instance(), *((ref, "stored") for ref in refs)))
    rig.clock.now += 3600
    rig.delivery.tick()
    final = rig.nucleus.statuses()[-1]
    assert final.accounting == FrameAccounting(stored=2, pending=1)
    rig.journal.close()


def test_a_frame_whose_publish_failed_stays_in_the_outbox(rig: Rig):
    rig.nucleus.client.publish_to_topic.side_effect = RuntimeError("IPC closed")
    with pytest.raises(RuntimeError):
        rig.delivery.send(frame(0), None)
    rig.nucleus.client.publish_to_topic.side_effect = rig.nucleus._publish
    assert rig.delivery.awaiting() == 1
    rig.hear(receipts(INFERENCE, new_instance()))
    rig.delivery.tick()
    assert rig.resent() == ["cam0-ab-0"]


def _request(request_id: str, frames: int):
    from camera_ingest.commands import validate
    from camera_ingest.settings import CameraIngestConfig

    settings = {k: v for k, v in config_dict(Path("/nonexistent")).items() if k != "accessControl"}
    command = {"action": "capture", "camera_id": "cam0", "frames": frames, "request_id": request_id}
    return validate(command, CameraIngestConfig.model_validate(settings))


# the component -----------------------------------------------------------------------------------
def command(**fields) -> bytes:
    return json.dumps(fields).encode()


def test_the_final_status_waits_for_the_receipts_and_carries_the_accounting(started, folder):
    app, ipc = started(config_dict(folder, accountWithinS=3600))
    ipc.send_iot(COMMANDS, command(action="capture", camera_id="cam0", frames=4, fps=60, request_id="acc"))
    ipc.wait_for_status("acc", "progress", containing="4 of 4 frames await receipts")
    assert not [s for s in ipc.statuses_of("acc") if s.state in TERMINAL]
    assert "4 frames await receipts" in app.health().detail
    refs = ipc.first_sends()
    ipc.send_receipts(INFERENCE, new_instance(), [(refs[0], "dropped")])
    ipc.send_receipts(WRITER, new_instance(), [(refs[1], "stored"), (refs[2], "stored"), (refs[3], "no_detections")])
    final = ipc.wait_for_terminal("acc")
    assert final.state == "finished" and final.frames_captured == 4
    assert final.accounting == FrameAccounting(stored=2, no_detections=1, dropped=1)
    assert final.accounting.total() == final.frames_captured
    # The IoT Core status topic got the same final status.
    assert [s.accounting for s in ipc.iot_statuses() if s.state == "finished"] == [final.accounting]
    health = parse(Health, app.health().to_message())
    assert health.counters["framesStored"] == 2 and health.counters["framesDropped"] == 1
    assert health.counters["framesNoDetections"] == 1 and health.counters["statusFinished"] == 1
    assert "0 frames await receipts" in health.detail


def test_receipts_before_the_capture_ends_count_too(started, folder):
    _, ipc = started(config_dict(folder, accountWithinS=3600))
    ipc.send_iot(COMMANDS, command(action="start", camera_id="cam0", fps=30, request_id="early"))
    ipc.wait_until(lambda: len(ipc.first_sends()) >= 3)  # so at least one is left without receipt
    early = ipc.first_sends()[:2]
    ipc.send_receipts(WRITER, new_instance(), [(ref, "stored") for ref in early])
    ipc.send_iot(COMMANDS, command(action="stop", camera_id="cam0", request_id="halt"))
    ipc.wait_for_status("early", "progress", containing="frames await receipts")
    rest = [ref for ref in ipc.first_sends() if ref.request_id == "early"][2:]
    ipc.send_receipts(INFERENCE, new_instance(), [(ref, "dropped") for ref in rest])
    final = ipc.wait_for_terminal("early")
    assert final.state == "finished" and "stopped by request halt" in final.reason
    assert final.accounting == FrameAccounting(stored=2, dropped=len(rest))
    assert final.accounting.total() == final.frames_captured == len(rest) + 2


def test_when_account_within_s_passes_the_rest_is_pending(started, folder):
    app, ipc = started(config_dict(folder, accountWithinS=3600))
    ipc.send_iot(COMMANDS, command(action="capture", camera_id="cam0", frames=3, fps=60, request_id="slow"))
    ipc.wait_for_status("slow", "progress", containing="3 of 3 frames await receipts")
    ipc.send_receipts(WRITER, new_instance(), [(ipc.first_sends()[0], "stored")])
    ipc.update(accountWithinS="0")  # strict: refused, the last good value stays
    assert app.health().state == "degraded" and "accountWithinS" in app.health().detail
    assert not [s for s in ipc.statuses_of("slow") if s.state in TERMINAL]
    ipc.update(accountWithinS=0)  # live: applies to the capture already waiting
    final = ipc.wait_for_terminal("slow")
    assert final.accounting == FrameAccounting(stored=1, pending=2)


def test_a_snapshot_is_accounted_the_same_way(started, folder):
    _, ipc = started(config_dict(folder, accountWithinS=3600))
    ipc.send_iot(COMMANDS, command(action="snapshot", camera_id="cam0", request_id="snap"))
    ipc.wait_for_status("snap", "progress", containing="1 of 1 frames await receipts")
    ipc.send_receipts(INFERENCE, new_instance(), [(ipc.first_sends()[0], "refused")])
    final = ipc.wait_for_terminal("snap")
    assert (final.state, final.frames_captured, final.accounting) == ("finished", 1, FrameAccounting(refused=1))


def test_a_new_inference_run_gets_the_frames_without_receipt_again(started, folder):
    app, ipc = started(config_dict(folder, accountWithinS=3600))
    ipc.send_receipts(INFERENCE, new_instance(), [])
    ipc.send_iot(COMMANDS, command(action="capture", camera_id="cam0", frames=3, fps=60, request_id="re"))
    ipc.wait_for_status("re", "progress", containing="3 of 3 frames await receipts")
    first = ipc.first_sends()
    ipc.send_receipts(WRITER, new_instance(), [(first[0], "stored")])
    restarted = new_instance()
    ipc.send_receipts(INFERENCE, restarted, [])  # SsdInference's new run announces itself
    ipc.wait_until(lambda: len(ipc.resends()) == 2)
    assert [r.frame_id for r in ipc.resends()] == [r.frame_id for r in first[1:]]
    assert [r.model_copy(update={"resent": None}) for r in ipc.resends()] == first[1:]
    ipc.send_receipts(INFERENCE, restarted, [(ref, "expired") for ref in first[1:]])
    final = ipc.wait_for_terminal("re")
    assert final.accounting == FrameAccounting(stored=1, expired=2)
    assert app.telemetry.counters["framesResent"] == 2
