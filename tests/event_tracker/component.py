"""The EventTracker component on the fake nucleus, for the app's tests: real frames in a real ring,
real ``Detections`` of scripted boxes, the writer's receipts, and a clock the test moves."""

from __future__ import annotations

import copy
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from event_tracker.app import EventTrackerApp
from event_tracker.settings import EventTrackerConfig
from event_tracker.tracker import Box
from smartcam import topics
from smartcam.config import LiveConfig
from smartcam.contracts import Box as ContractBox
from smartcam.contracts import (
    Detection,
    Detections,
    EventReceipt,
    FrameRef,
    ModelInfo,
    Receipts,
    StageLatency,
    TrackEvent,
    parse,
)
from smartcam.frames import FrameRing
from smartcam.handoff import new_instance
from tests.support.config_fuzz import recipe_defaults
from tests.support.fake_nucleus import FakeNucleus

THING = "tracker-thing"
COMPONENT = "smartcam.EventTracker"
WRITER = "smartcam.DynamoWriter"
T0 = 1_764_900_000.0  # capture times: a December 2025 morning
WIDTH, HEIGHT = 320, 240


def configuration(**over: Any) -> dict[str, Any]:
    """The recipe's defaults (what a device starts with), with ``over`` on top."""
    return {**copy.deepcopy(recipe_defaults("EventTracker")), **over}


def scene(seed: int = 0) -> np.ndarray:
    """A camera frame of a textured scene, BGR as the ring holds it."""
    rng = np.random.default_rng(seed)
    return cv2.resize(rng.integers(0, 255, (HEIGHT // 8, WIDTH // 8, 3), dtype=np.uint8), (WIDTH, HEIGHT),
                      interpolation=cv2.INTER_NEAREST)


def detection(box: Box, score: float = 0.9, label: str = "person") -> Detection:
    x1, y1, x2, y2 = box
    return Detection(label=label, class_id=1, score=score, box=ContractBox(x1=x1, y1=y1, x2=x2, y2=y2))


def detections_of(frame: FrameRef, found: Iterable[Detection], candidates: Iterable[Detection] = ()) -> Detections:
    return Detections(frame=frame, detections=list(found), candidates=list(candidates) or None,
                      model=ModelInfo(name="test-ssd", version="1", backend="onnxruntime"),
                      latency=StageLatency(read_ms=1, preprocess_ms=1, infer_ms=5, postprocess_ms=1),
                      inferred_at=frame.captured_at + 0.05)


class Clock:
    """The app's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Tracker:
    """One started EventTracker and what drives it."""

    app: EventTrackerApp
    nucleus: FakeNucleus
    live: LiveConfig[EventTrackerConfig]
    ring: FrameRing
    clock: Clock
    pixels: np.ndarray
    writer_instance: str = field(default_factory=new_instance)

    def frame(self, at: float, boxes: Iterable[Box | Detection] = (), request_id: str | None = "req-1",
              camera_id: str | None = None, lag: float = 0.0, candidates: Iterable[Detection] = ()) -> FrameRef:
        """A frame captured at ``T0 + at`` with these detections (and weak ``candidates``), delivered as
        SsdInference would ``lag`` seconds later; the app's clock moves along with capture time."""
        ring = self.ring if camera_id is None else FrameRing(self.ring.root, camera_id, capacity=64)
        ref = ring.write(self.pixels, captured_at=T0 + at, captured_monotonic_ns=1, request_id=request_id)
        self.clock.now = 1000.0 + at + lag
        found = [b if isinstance(b, Detection) else detection(b) for b in boxes]
        self.nucleus.send(topics.DETECTIONS, detections_of(ref, found, candidates))
        return ref

    def events(self) -> list[TrackEvent]:
        return self.nucleus.parsed(TrackEvent, topics.EVENTS)

    def iot_events(self) -> list[TrackEvent]:
        return [parse(TrackEvent, payload) for payload in self.nucleus.iot_payloads(topics.iot_events(THING))]

    def kinds(self) -> list[tuple[str, str, int]]:
        return [(e.event_id, e.kind, e.sequence) for e in self.events()]

    def receipt(self, events: Iterable[TrackEvent | tuple[str, int]], outcome: str = "stored",
                instance: str | None = None) -> None:
        """The writer's receipts for ``events`` (messages, or (event id, sequence))."""
        pairs = [(e.event_id, e.sequence) if isinstance(e, TrackEvent) else e for e in events]
        self.nucleus.send(topics.RECEIPTS, Receipts(
            stage=WRITER, instance=instance or self.writer_instance, at=T0, receipts=[],
            events=[EventReceipt(event_id=i, sequence=s, outcome=outcome) for i, s in pairs] or None))

    def writer_starts(self) -> str:
        """A new run of the writer announces itself."""
        self.writer_instance = new_instance()
        self.nucleus.send(topics.RECEIPTS, Receipts(stage=WRITER, instance=self.writer_instance, at=T0, receipts=[]))
        return self.writer_instance


def start_tracker(work: Path, frame_root: Path, configuration_: dict[str, Any], *, pixels: np.ndarray | None = None,
                  ring_capacity: int = 64, rng: random.Random | None = None) -> Tracker:
    """An EventTracker whose work folder is ``work`` (the recipe's Setenv point there); ``rng``: the
    data capture's random sample."""
    nucleus = FakeNucleus(configuration_, COMPONENT)
    live = LiveConfig(nucleus.ipc, EventTrackerConfig)
    clock = Clock()
    app = EventTrackerApp(nucleus.ipc, live, thing=THING, frame_root=frame_root, clock=clock, tick_s=3600, rng=rng)
    app.start()
    ring = FrameRing(frame_root, "cam0", capacity=ring_capacity)
    return Tracker(app, nucleus, live, ring, clock, scene() if pixels is None else pixels)


def walk(start: Box, velocity: tuple[float, float], at: float) -> Box:
    x1, y1, x2, y2 = start
    vx, vy = velocity
    return (x1 + vx * at, y1 + vy * at, x2 + vx * at, y2 + vy * at)


def open_event(tracker: Tracker, *, start: float = 0.0, seconds: float = 0.4, end: bool = True,
               box: Box = (0.3, 0.3, 0.4, 0.7)) -> None:
    """Someone standing at ``box`` from ``start`` for ``seconds`` (10 fps): an event starts at the third
    frame; with ``end``, the timer then ends it (endAfterS passes without a frame)."""
    for i in range(round(seconds * 10) + 1):
        tracker.frame(start + i / 10, [box])
    if end:
        tracker.clock.now += tracker.live.current.tracking.end_after_s + 0.5
        tracker.app.tick()
