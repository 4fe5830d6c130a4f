"""The detections outbox on its own, on a fake nucleus and a fake clock (no resend thread)."""

import time

import pytest

from smartcam.contracts import Detections, FrameReceipt, ModelInfo, Receipts, StageLatency
from smartcam.telemetry import Counters
from ssd_inference.detections_outbox import FIRST_RESEND_S, MAX_RESEND_S, WRITER_STAGE, DetectionsOutbox
from tests.ssd_inference.helpers import frame_ref
from tests.support.fake_nucleus import FakeNucleus

W1, W2 = "a" * 32, "b" * 32


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def detections(seq):
    return Detections(frame=frame_ref(seq), detections=[],
                      model=ModelInfo(name="m", version="1", backend="onnxruntime"),
                      latency=StageLatency(read_ms=1.0, preprocess_ms=1.0, infer_ms=1.0, postprocess_ms=1.0),
                      inferred_at=time.time())


def receipts(instance, *seqs, stage=WRITER_STAGE):
    return Receipts(stage=stage, instance=instance, at=time.time(), receipts=[
        FrameReceipt(frame_id=f"cam1-{s}", camera_id="cam1", outcome="no_detections") for s in seqs])


@pytest.fixture
def outbox():
    gg, clock, lost, counters = FakeNucleus({}), Clock(), [], Counters()
    box = DetectionsOutbox(gg.ipc, counters, lambda f, why: lost.append((f.frame_id, why)), capacity=3, clock=clock)
    box.gg, box.clock, box.lost, box.counters = gg, clock, lost, counters
    return box


def sent(box):
    return [m["frame"]["frame_id"] for m in box.gg.on("smartcam/detections")]


def test_due_entries_are_sent_again_with_doubling_intervals_up_to_the_cap(outbox):
    outbox.publish(detections(1))
    assert sent(outbox) == ["cam1-1"]
    resent_at = []
    start = outbox.clock.now
    for step in range(int(5 * MAX_RESEND_S * 10)):  # 0.1 s steps over 300 s
        outbox.clock.now = start + step / 10
        if outbox.resend_due():
            resent_at.append(round(outbox.clock.now - start, 1))
    gaps = [b - a for a, b in zip([0.0, *resent_at], resent_at, strict=False)]
    assert gaps[:4] == [FIRST_RESEND_S, 2 * FIRST_RESEND_S, 4 * FIRST_RESEND_S, 8 * FIRST_RESEND_S]
    assert max(gaps) == MAX_RESEND_S and gaps[-1] == MAX_RESEND_S
    assert len(sent(outbox)) == 1 + len(resent_at) and outbox.counters["detectionsResent"] == len(resent_at)


def test_the_writers_receipt_settles_and_other_stages_are_ignored(outbox):
    outbox.publish(detections(1))
    outbox.publish(detections(2))
    outbox.on_receipts(receipts(W1, 1, stage="smartcam.SsdInference"))  # its own receipts come back too
    assert "cam1-1" in outbox and len(outbox) == 2
    outbox.on_receipts(receipts(W1, 1))
    assert "cam1-1" not in outbox and "cam1-2" in outbox
    outbox.clock.now += MAX_RESEND_S
    assert outbox.resend_due() == 1 and sent(outbox) == ["cam1-1", "cam1-2", "cam1-2"]


def test_a_new_writer_run_gets_everything_unreceipted_at_once(outbox):
    outbox.on_receipts(receipts(W1))  # the writer's hello
    for seq in (1, 2, 3):
        outbox.publish(detections(seq))
    outbox.on_receipts(receipts(W1, 1))  # same run: no resend
    assert outbox.resend_due() == 0
    outbox.on_receipts(receipts(W2, 3))  # a new run, which already receipted 3
    assert outbox.resend_due() == 1 and sent(outbox)[3:] == ["cam1-2"]
    assert outbox.resend_due() == 0  # and then it waits again


def test_when_the_outbox_is_full_the_oldest_frame_is_given_up_as_lost(outbox):
    for seq in (1, 2, 3, 4):
        outbox.publish(detections(seq))
    assert [f for f, _ in outbox.lost] == ["cam1-1"] and "outbox of 3 frames was full" in outbox.lost[0][1]
    assert "cam1-1" not in outbox and len(outbox) == 3 and len(sent(outbox)) == 4


def test_a_failed_publish_is_counted_and_the_message_goes_out_again(outbox):
    outbox.gg.client.publish_to_topic_async.side_effect = ConnectionError("nucleus gone")
    outbox.publish(detections(1))
    assert outbox.counters["publishErrors"] == 1 and outbox.counters["detectionsPublished"] == 0
    assert "cam1-1" in outbox
    outbox.gg.client.publish_to_topic_async.side_effect = outbox.gg._publish_async
    outbox.clock.now += FIRST_RESEND_S
    assert outbox.resend_due() == 1 and sent(outbox) == ["cam1-1"]
