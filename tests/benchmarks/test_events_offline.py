"""The offline half of the events benchmark: EventTracker's CameraTracks over scripted detections."""

from __future__ import annotations

import pytest

from benchmarks.events_offline import EPOCH, FPS, track
from smartcam.contracts import Box, Detection, Detections, FrameRef, ModelInfo, StageLatency

PERSON = (0.10, 0.40, 0.16, 0.70)


def frame(index: int, boxes: list[tuple[float, float, float, float]]) -> Detections:
    ref = FrameRef(frame_id=f"offline-{index}", camera_id="offline", slot=0,
                   sequence=index, captured_at=EPOCH + index / FPS, captured_monotonic_ns=index, width=768, height=576,
                   format="bgr8")
    return Detections(frame=ref, detections=[Detection(label="person", class_id=1, score=0.9,
                                                       box=Box(x1=x1, y1=y1, x2=x2, y2=y2))
                                             for x1, y1, x2, y2 in boxes],
                      model=ModelInfo(name="test-ssd", version="1", backend="dlr"),
                      latency=StageLatency(read_ms=1, preprocess_ms=1, infer_ms=5, postprocess_ms=1),
                      inferred_at=ref.captured_at + 0.05)


def walking(first: int, count: int) -> list[Detections]:
    x1, y1, x2, y2 = PERSON
    return [frame(first + i, [(x1 + 0.004 * i, y1, x2 + 0.004 * i, y2)]) for i in range(count)]


def test_one_person_walking_through_is_one_event_ended_at_the_end():
    events = track(walking(0, 60))
    assert len(events) == 1
    (event,) = events.values()
    assert event.kind == "end" and event.end_reason == "shutdown"
    assert event.duration_s == pytest.approx(5.9)  # capture times of the first and last frame it was seen in


def test_a_person_gone_longer_than_end_after_s_comes_back_as_a_second_event():
    gone = [frame(index, []) for index in range(20, 170)]  # 15 s without anyone: the first event ends (10 s)
    events = track([*walking(0, 20), *gone, *walking(170, 20)])
    assert sorted(event.end_reason for event in events.values()) == ["shutdown", "unseen"]


def test_every_second_frame_is_tracked_at_half_the_rate():
    events = track(walking(0, 60), step=2)
    (event,) = events.values()
    assert event.frames == 30
