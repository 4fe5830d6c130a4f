"""The event contracts (smartcam.contracts.events) and event receipts in Receipts."""

import json

import pytest

from smartcam.contracts import ContractError, Receipts, TrackEvent, parse


def event(**over):
    base = dict(event_id="cam1.1764900000123.7", kind="update", sequence=3, camera_id="cam1", track_id=7,
                label="person", first_seen=1764900000.123, last_seen=1764900004.623, duration_s=4.5,
                best_score=0.91, frames=40, path=[[1764900000.123, 0.1, 0.2, 0.3, 0.6]],
                zones=[{"zone": "door", "entered": 1764900001.0}],
                lines=[{"line": "gate", "crossed_in": 1}],
                snapshot={"frame_id": "cam1-00042", "captured_at": 1764900002.0, "score": 0.91,
                          "box": {"x1": 0.1, "y1": 0.2, "x2": 0.3, "y2": 0.6},
                          "path": "/g/work/smartcam.EventTracker/snapshots/e/full.jpg",
                          "crop_path": "/g/work/smartcam.EventTracker/snapshots/e/crop.jpg", "bytes": 51234},
                sent_at=1764900004.7)
    base.update(over)
    return base


def test_an_event_round_trips_through_json():
    original = parse(TrackEvent, event())
    message = original.to_message()
    assert message["schema"] == "smartcam.event/1"
    assert parse(TrackEvent, json.dumps(message).encode()) == original


def test_a_long_event_stays_far_below_nucleus_lites_message_limit():
    path = [[1764900000.0 + i, 0.123456, 0.234567, 0.345678, 0.456789] for i in range(64)]
    zones = [{"zone": f"zone-{i}", "entered": 1764900001.5, "left": 1764900002.5} for i in range(32)]
    lines = [{"line": f"line-{i}", "crossed_in": 12, "crossed_out": 3} for i in range(32)]
    big = parse(TrackEvent, event(path=path, zones=zones, lines=lines))
    assert len(big.to_bytes()) < 10_000


@pytest.mark.parametrize(("over", "why"), [
    (dict(last_seen=1764900000.0), "last_seen"),
    (dict(duration_s=9.0), "duration_s"),
    (dict(kind="end"), "end_reason"),
    (dict(kind="update", end_reason="unseen"), "end_reason"),
    (dict(kind="start", sequence=2), "sequence 0"),
    (dict(sequence="3"), "whole number"),
    (dict(best_score=True), "number"),
    (dict(path=[[1764900000.0, 0.1, 0.2, 0.3]]), "path"),
    (dict(path=[[1764900000.0, 0.1, 0.2, 0.3, 1.5]]), "path"),
    (dict(snapshot={**event()["snapshot"], "path": "relative.jpg"}), "snapshot.path"),
    (dict(event_id="../x"), "event_id"),
    (dict(colour="red"), "unknown key"),
])
def test_an_inconsistent_or_loose_event_is_refused_with_the_reason(over, why):
    with pytest.raises(ContractError, match=why):
        parse(TrackEvent, event(**over))


def test_an_end_message_names_its_reason():
    ended = parse(TrackEvent, event(kind="end", end_reason="unseen"))
    assert ended.end_reason == "unseen"


def test_receipts_carry_event_receipts_only_when_there_are_some():
    frames_only = Receipts(stage="smartcam.DynamoWriter", instance="a" * 32, at=1764900000.0, receipts=[])
    assert "events" not in frames_only.to_message()
    with_events = parse(Receipts, {**frames_only.to_message(),
                                   "events": [{"event_id": "cam1.1.7", "sequence": 3, "outcome": "stored"}]})
    assert with_events.events is not None and with_events.events[0].sequence == 3
    with pytest.raises(ContractError, match="outcome"):
        parse(Receipts, {**frames_only.to_message(),
                         "events": [{"event_id": "cam1.1.7", "sequence": 3, "outcome": "dropped"}]})
