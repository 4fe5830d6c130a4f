"""Run as a process by tests/camera_ingest/test_restart.py, then killed with SIGKILL: CameraIngest on
the fake nucleus, in the middle of a capture of 10 frames that has captured exactly FRAMES of them,
two of which are receipted. Prints one JSON line (the frames published) once it is in that state.

Usage: python -m tests.camera_ingest.crashing_component <images folder> <frame root>
(the journal path comes from SMARTCAM_JOURNAL_PATH, as in the component)."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import numpy as np

from camera_ingest.settings import CameraSettings
from camera_ingest.sources import FrameSource, open_source
from smartcam import topics
from smartcam.handoff import new_instance
from tests.camera_ingest.helpers import INFERENCE, THING, WRITER, build_app, config_dict

FRAMES = 4
REQUEST = "cut"


class StallsAfter:
    """The camera of the test: delivers ``frames`` frames to the capture, then hangs in grab()."""

    def __init__(self, source: FrameSource, frames: int) -> None:
        self._source = source
        self._left = frames
        self.camera_id = source.camera_id
        self.live = source.live

    def open(self) -> None:
        self._source.open()

    def grab(self) -> None:
        if self._left <= 0:
            threading.Event().wait()  # until the process is killed
        self._source.grab()

    def retrieve(self) -> np.ndarray | None:
        self._left -= 1  # the session decodes only the frames it keeps
        return self._source.retrieve()

    def close(self) -> None:
        self._source.close()


def main(folder: Path, frame_root: Path) -> None:
    def source(camera: CameraSettings) -> FrameSource:
        return StallsAfter(open_source(camera), FRAMES)

    app, ipc = build_app(config_dict(folder, accountWithinS=3600), frame_root, source_factory=source)
    app.start()
    ipc.send_iot(topics.iot_capture_commands(THING), json.dumps(
        {"action": "capture", "camera_id": "cam0", "frames": 10, "fps": 30, "request_id": REQUEST}).encode())
    ipc.wait_until(lambda: len(ipc.frames()) == FRAMES)
    refs = ipc.frames()
    ipc.send_receipts(WRITER, new_instance(), [(refs[0], "stored")])
    ipc.send_receipts(INFERENCE, new_instance(), [(refs[1], "dropped")])
    ipc.wait_until(lambda: app.delivery.awaiting() == FRAMES - 2)
    print(json.dumps([ref.to_message() for ref in refs]), flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
