"""The one place EventTracker reads a frame out of the frame ring (snapshots and data captures)."""

from __future__ import annotations

from pathlib import Path

from smartcam.contracts import FrameRef
from smartcam.frames import read_frame


def frame_jpeg(frame: FrameRef, frame_root: Path) -> bytes:
    """The frame's JPEG as the camera encoded it. Raises what :func:`smartcam.frames.read_frame` raises
    (FrameExpired: the ring recycled it; FrameError for a reference that is not a ring file)."""
    return read_frame(frame, frame_root)
