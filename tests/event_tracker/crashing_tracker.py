"""Run as a process by tests/event_tracker/test_restart.py, then killed with SIGKILL: EventTracker on the
fake nucleus with two events, one ended (its end not receipted yet) and one still open inside a zone.
Prints one JSON line (the messages published) once it is in that state.

Usage: python -m tests.event_tracker.crashing_tracker <work folder> <frame root>
(the store and snapshot paths come from SMARTCAM_EVENTS_PATH and SMARTCAM_SNAPSHOTS_DIR, as in the
component)."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

from tests.event_tracker.component import configuration, open_event, start_tracker

DOOR = [[0.25, 0.5], [0.45, 0.5], [0.45, 0.9], [0.25, 0.9]]
ZONES = {"cam0": {"zones": [{"name": "door", "polygon": DOOR}]}}
STANDING = (0.3, 0.3, 0.4, 0.7)  # feet at (0.35, 0.7): in the door


def main(work: Path, frame_root: Path) -> None:
    tracker = start_tracker(work, frame_root, configuration(cameras=ZONES))
    open_event(tracker, box=(0.6, 0.1, 0.7, 0.4))  # ended by the timer, outside the door
    open_event(tracker, start=20.0, seconds=1.0, end=False, box=STANDING)  # started, entered the door
    print(json.dumps([event.to_message() for event in tracker.events()]), flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
