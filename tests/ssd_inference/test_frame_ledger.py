"""The frame ledger on its own: which frames are in flight, and the receipts of the decided ones."""

from ssd_inference.frame_ledger import FrameLedger
from tests.ssd_inference.helpers import frame_ref


class Sink:
    def __init__(self):
        self.sent = []

    def add(self, receipt):
        self.sent.append(receipt)


def test_a_frame_is_in_flight_until_decided_and_then_answered_from_memory():
    sink, outbox = Sink(), set()
    ledger = FrameLedger(sink, handed_over=outbox)
    assert ledger.admit(frame_ref(1)) == "new"
    assert ledger.admit(frame_ref(1)) == "in_flight" and not sink.sent
    receipt = ledger.decide(frame_ref(1), "expired", "frameExpired: recycled")
    assert (receipt.frame_id, receipt.camera_id, receipt.request_id, receipt.outcome, receipt.detail) == (
        "cam1-1", "cam1", "req-1", "expired", "frameExpired: recycled")
    assert sink.sent == [receipt] and len(ledger) == 0
    assert ledger.admit(frame_ref(1)) == "decided"
    assert sink.sent == [receipt, receipt]  # the same receipt again, not a new decision
    assert len(ledger) == 0


def test_a_frame_handed_over_to_the_outbox_stays_in_flight_until_settled_there():
    sink, outbox = Sink(), set()
    ledger = FrameLedger(sink, handed_over=outbox)
    assert ledger.admit(frame_ref(2)) == "new"
    outbox.add("cam1-2")
    ledger.handed_over("cam1-2")
    assert len(ledger) == 0 and ledger.admit(frame_ref(2)) == "in_flight"
    outbox.discard("cam1-2")  # the writer receipted it: a resend is served anew (the writer de-duplicates)
    assert ledger.admit(frame_ref(2)) == "new" and not sink.sent


def test_a_long_reason_is_cut_to_what_a_receipt_carries():
    ledger = FrameLedger(Sink(), handed_over=set())
    ledger.admit(frame_ref(3, request_id=None))
    receipt = ledger.decide(frame_ref(3, request_id=None), "refused", "badFrame: " + "x" * 5000)
    assert len(receipt.detail) == 1024 and receipt.detail.endswith("...") and receipt.request_id is None
