#!/usr/bin/env python3
"""vtest.avi with every frame served, outside the runtime: what the events benchmark's item ratio would
be if inference dropped nothing. Run by benchmarks.events in a child process before its runtime starts
(a TVM thread pool must not shape the benchmark's own process), or alone:

    .venv/bin/python -m benchmarks.events_offline FRAMES_FOLDER     # prints an OfflineTracking as JSON

Every frame (a folder of JPEGs, in name order, 10 fps) goes as CameraIngest would write it (raw, into
a frame ring's slot) through SsdInference's frame path with the packaged model, its
default backend, threads and selection, then through EventTracker's CameraTracks with its default
settings: the same code as the components, without IPC.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

import cv2

from benchmarks.results import OfflineTracking
from event_tracker.camera_tracks import CameraTracks
from event_tracker.settings import EventTrackerConfig
from repo_layout import REPO_ROOT
from smartcam.contracts import Detections, TrackEvent
from smartcam.frames import FrameRing, frame_base
from ssd_inference.engine import Engine, PreparedModel
from ssd_inference.frame_path import FramePath, selection_for
from ssd_inference.settings import SsdInferenceConfig

MODEL_DIR = REPO_ROOT / "components" / "SsdModelStore" / "model"
FPS = 10.0
EPOCH = 1_800_000_000.0  # capture time of the first frame (any wall-clock time will do)


def infer_all(frames: list[Path]) -> list[Detections]:
    settings = SsdInferenceConfig()
    engine = Engine.start(PreparedModel.load(MODEL_DIR), "dlr", settings.threads, fall_back=False)
    messages = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-events-offline-", dir=frame_base()) as root:
            path = FramePath(engine, Path(root), selection_for(
                engine, score_threshold=settings.score_threshold, nms_iou_threshold=settings.nms_iou_threshold,
                max_detections=settings.max_detections))
            ring = FrameRing(Path(root), "offline", capacity=16)
            for index, jpeg in enumerate(frames):
                image = cv2.imread(str(jpeg), cv2.IMREAD_COLOR)
                ref = ring.write(image, captured_at=EPOCH + index / FPS, captured_monotonic_ns=index)
                messages.append(path.process(ref))
    finally:
        engine.close()
    return messages


def track(messages: list[Detections], step: int = 1) -> dict[str, TrackEvent]:
    """The events CameraTracks makes of every ``step``-th frame's detections, each as of its last message."""
    config = EventTrackerConfig()
    tracks = CameraTracks("offline", config, lambda *_: None, lambda *_: None)
    events: dict[str, TrackEvent] = {}
    for index, message in enumerate(messages[::step]):
        for event in tracks.on_frame(message, config, received=index * step / FPS, sent_at=EPOCH).messages:
            events[event.event_id] = event
    for event in tracks.end_all("shutdown", now=len(messages) / FPS, sent_at=EPOCH):
        events[event.event_id] = event
    return events


def measure(folder: Path) -> OfflineTracking:
    frames = sorted(folder.glob("*.jpg"))
    messages = infer_all(frames)
    events = track(messages)
    # Detections mode stores one item per frame and label.
    items = sum(len({d.label for d in message.detections}) for message in messages)
    durations = [event.duration_s for event in events.values()]
    return OfflineTracking(
        frames=len(frames), detection_items=items, events=len(events),
        events_under_2s=sum(1 for d in durations if d < 2.0),
        event_duration_s_p50=round(statistics.median(durations), 1) if durations else 0.0,
        items_ratio=round(len(events) / items, 4) if items else float("nan"),
        events_at_5fps=len(track(messages, step=2)),
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not Path(args[0]).is_dir():
        print(__doc__, file=sys.stderr)
        return 2
    print(measure(Path(args[0])).model_dump_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
