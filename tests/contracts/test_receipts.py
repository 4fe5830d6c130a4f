"""smartcam.contracts.receipts: Receipts, FrameReceipt and a capture's FrameAccounting."""

from __future__ import annotations

import pytest

from smartcam.contracts import MAX_RECEIPTS, OUTCOMES, FrameAccounting, FrameReceipt, Receipts, parse
from tests.contracts.messages import receipts, refusal, round_trip

RECEIPT = {"frame_id": "cam0-00001", "camera_id": "cam0", "outcome": "dropped"}
EVENT = {"event_id": "cam0.1.7", "sequence": 0, "outcome": "stored"}


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_each_outcome_round_trips(outcome):
    assert round_trip(Receipts, receipts(receipts=[{**RECEIPT, "outcome": outcome}])).receipts[0].outcome == outcome


def test_the_outcomes_are_seven():
    assert OUTCOMES == ("stored", "summarized", "no_detections", "dropped", "expired", "refused", "lost")
    assert "outcome: must be" in refusal(Receipts, receipts(receipts=[{**RECEIPT, "outcome": "deleted"}]))


def test_a_receipt_counts_no_items_unless_told():
    assert parse(FrameReceipt, RECEIPT).items == 0
    assert parse(FrameReceipt, RECEIPT).to_message() == {**RECEIPT, "items": 0}


def test_an_empty_list_announces_a_started_stage():
    parsed = round_trip(Receipts, receipts(receipts=[]))
    assert parsed.receipts == [] and "events" not in parsed.to_message()
    assert parsed.to_message()["schema"] == "smartcam.receipts/1"


def test_up_to_500_receipts_of_each_kind():
    assert MAX_RECEIPTS == 500
    parsed = parse(Receipts, receipts(receipts=[RECEIPT] * 500, events=[EVENT] * 500))
    assert len(parsed.receipts) == 500 and len(parsed.events or []) == 500
    assert "receipts: List should have at most 500 items" in refusal(Receipts, receipts(receipts=[RECEIPT] * 501))
    assert "events: List should have at most 500 items" in refusal(Receipts, receipts(events=[EVENT] * 501))


@pytest.mark.parametrize("instance", ["0" * 31, "0" * 33, "A" * 32, "g" * 32, ""])
def test_an_instance_is_32_lowercase_hex_digits(instance):
    assert "instance: String should match pattern" in refusal(Receipts, receipts(instance=instance))


def test_the_accounting_counts_nothing_unless_told():
    assert parse(FrameAccounting, {}).total() == 0
    assert parse(FrameAccounting, {}).to_message() == dict.fromkeys(
        ("stored", "summarized", "no_detections", "dropped", "expired", "refused", "lost", "pending"), 0)


def test_the_accounting_total_adds_every_count():
    counts = {"stored": 1, "summarized": 2, "no_detections": 4, "dropped": 8, "expired": 16, "refused": 32,
              "lost": 64, "pending": 128}
    assert parse(FrameAccounting, counts).total() == 255
    for key in counts:
        assert parse(FrameAccounting, {key: 1}).total() == 1
