"""What `make demo` says and decides from what it observed and read back: the status lines, the
summary of the stored events, when every event has ended, and what keeps it from passing."""

from __future__ import annotations

import argparse
from decimal import Decimal

import pytest

from local_device import demo
from smartcam.contracts import CaptureStatus, FrameAccounting, TrackEvent


def status(state: str, **fields) -> CaptureStatus:
    return CaptureStatus.model_validate({"request_id": "demo-1", "camera_id": "cam0", "state": state, "at": 1000.0,
                                         **fields})


def event(event_id: str, kind: str, sequence: int, request_id: str = "demo-1") -> TrackEvent:
    return TrackEvent.model_validate({
        "event_id": event_id, "kind": kind, "sequence": sequence, "camera_id": "cam0", "track_id": 1,
        "label": "person", "request_id": request_id, "first_seen": 1000.0, "last_seen": 1001.0, "duration_s": 1.0,
        "best_score": 0.9, "frames": 10, "path": [], "zones": [], "lines": [],
        **({"end_reason": "unseen"} if kind == "end" else {}), "sent_at": 1002.0})


def item(event_id: str, sequence: int, label: str = "person", **extra) -> dict:
    return {"event_id": event_id, "sequence": Decimal(sequence), "label": label, **extra}


def test_progress_is_said_at_most_every_interval_and_the_final_status_with_its_accounting(monkeypatch, capsys):
    clock = [100.0]
    monkeypatch.setattr(demo.time, "monotonic", lambda: clock[0])
    show = demo.status_printer(progress_every_s=10.0)
    show(status("progress", frames_captured=10, frames_requested=795))
    clock[0] += 5
    show(status("progress", frames_captured=60, frames_requested=795))  # within 10 s: not said
    clock[0] += 6
    show(status("progress", frames_captured=120, frames_requested=795, frames_gated=4))
    show(status("finished", frames_captured=795, frames_requested=795, reason="captured 795 frames",
                accounting=FrameAccounting(summarized=790, no_detections=5)))
    lines = [line.split("] ", 1)[1] for line in capsys.readouterr().out.splitlines()]
    assert lines == ["capture status: progress 10/795 frames",
                     "capture status: progress 120/795 frames, 4 gated (no motion)",
                     "capture status: finished 795/795 frames (captured 795 frames)",
                     "every frame accounted for: 790 summarized, 5 no detections"]


def test_the_summary_counts_labels_zone_entries_and_crossings():
    items = [item("a", 2, zones=[{"zone": "lawn"}, {"zone": "lawn"}],
                  lines=[{"line": "walkway", "crossed_in": Decimal(1), "crossed_out": Decimal(0)}]),
             item("b", 1, lines=[{"line": "walkway", "crossed_in": Decimal(0), "crossed_out": Decimal(2)}]),
             item("c", 3, label="dog", zones=[{"zone": "lawn"}])]
    assert demo.summarize(items) == ("1 dog, 2 person; zone lawn entered in 2 events; "
                                     "line walkway crossed 1 times in, 2 out")
    assert demo.summarize([]) == "no events"


class Observed:
    def __init__(self, events: list[TrackEvent]) -> None:
        self._events = events

    def events(self) -> list[TrackEvent]:
        return list(self._events)


def test_the_events_of_the_request_are_returned_once_each_has_ended():
    observed = Observed([event("a", "start", 0), event("a", "end", 3), event("b", "start", 0),
                         event("b", "update", 1), event("b", "end", 2), event("x", "start", 0, request_id="other")])
    ends = demo.ended_events(observed, "demo-1", timeout=1.0)  # type: ignore[arg-type]
    assert {event_id: end.sequence for event_id, end in ends.items()} == {"a": 3, "b": 2}


def test_an_event_still_open_after_the_timeout_is_a_clear_error():
    observed = Observed([event("a", "start", 0), event("b", "start", 0), event("b", "end", 1)])
    with pytest.raises(TimeoutError, match="1 events still open after 0 s"):
        demo.ended_events(observed, "demo-1", timeout=0.0)  # type: ignore[arg-type]


def test_the_demo_passes_only_with_every_frame_accounted_every_event_stored_as_ended_and_its_pictures():
    final = status("finished", accounting=FrameAccounting(summarized=10))
    ends = {"a": event("a", "end", 3)}
    assert demo.shortfalls(final, ends, [item("a", 3)], [], vtest=True) == []
    assert demo.shortfalls(status("finished", accounting=FrameAccounting(summarized=9, lost=1)), ends,
                           [item("a", 3)], [], vtest=True)[0].startswith("frames lost or pending")
    assert demo.shortfalls(final, ends, [item("a", 2)], [], vtest=True) == [
        "DynamoDB holds 1 events, not the 1 the tracker ended as they ended"]
    assert demo.shortfalls(final, ends, [item("a", 3)], ["k1", "k2"], vtest=True) == [
        "2 snapshot objects an event names are not in S3: k1, k2"]
    assert demo.shortfalls(final, {}, [], [], vtest=True) == ["no person event from vtest.avi"]
    assert demo.shortfalls(final, {}, [], [], vtest=False) == []  # another camera may see nobody


def test_vtest_is_the_camera_unless_another_is_chosen(monkeypatch, tmp_path):
    args = argparse.Namespace(source=None, fps=10.0)
    camera = demo.camera_settings(args)
    assert camera["source"] == {"type": "file", "path": str(demo.VTEST), "fps": 10.0} and "width" not in camera
    other = argparse.Namespace(source={"type": "folder", "path": str(tmp_path), "fps": 5.0}, fps=5.0)
    assert demo.camera_settings(other)["source"]["type"] == "folder"
    monkeypatch.setattr(demo, "VTEST", tmp_path / "missing.avi")
    with pytest.raises(FileNotFoundError, match="scripts/setup-system installs it"):
        demo.camera_settings(args)
