"""A camera's writer in a process of its own, for test_frames_concurrent.py: writes frames whose every
pixel is derived from their sequence into a small ring, as fast as it can, until its stdin closes.

Usage: python ring_writer.py ROOT CAMERA SLOTS WIDTH HEIGHT
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np

from smartcam.frames import FrameRing

MAX_FRAMES = 2_000_000  # a bound should the test that started it never close stdin


def frame_of(sequence: int, width: int, height: int) -> np.ndarray:
    pixels = np.empty((height, width, 3), np.uint8)
    pixels[..., 0], pixels[..., 1], pixels[..., 2] = sequence % 256, (sequence + 1) % 256, (sequence + 2) % 256
    return pixels


def main(argv: list[str]) -> None:
    root, camera, slots, width, height = Path(argv[0]), argv[1], int(argv[2]), int(argv[3]), int(argv[4])
    ring = FrameRing(root, camera, capacity=slots)
    frames = [frame_of(value, width, height) for value in range(256)]
    closed = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), closed.set()), daemon=True).start()
    for sequence in range(MAX_FRAMES):
        ring.write(frames[sequence % 256], captured_at=1.0, captured_monotonic_ns=sequence)
        if sequence == 0:
            print("ready", flush=True)
        if closed.is_set():
            break


if __name__ == "__main__":
    main(sys.argv[1:])
