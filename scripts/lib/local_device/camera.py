"""`make demo CAMERA=...`: the camera the demo captures from, as a CameraIngest source."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_DEVICE = re.compile(r"^(?:/dev/video)?(\d{1,3})$")
_STREAM = ("rtsp://", "rtsps://", "http://", "https://")


class CameraChoiceError(ValueError):
    pass


def camera_source(choice: str, fps: float) -> dict[str, Any]:
    """A V4L2 device (``/dev/video0`` or ``0``), a stream URL, a video file or a folder of images.

    A file or folder is replayed at ``fps``, the rate the demo captures at, so every image (every
    video frame) is captured once, in order; a live camera runs at its own rate."""
    text = choice.strip()
    device = _DEVICE.match(text)
    if device:
        return {"type": "v4l2", "device": f"/dev/video{device.group(1)}"}
    if text.lower().startswith(_STREAM):
        return {"type": "stream", "url": text}
    path = Path(text).expanduser()
    if path.is_dir():
        return {"type": "folder", "path": str(path.resolve()), "fps": fps}
    if path.is_file():
        return {"type": "file", "path": str(path.resolve()), "fps": fps}
    raise CameraChoiceError(
        f"camera {choice!r}: not a V4L2 device (/dev/videoN or N), an rtsp(s)/http(s) URL, "
        "an existing video file or an existing folder of images"
    )
