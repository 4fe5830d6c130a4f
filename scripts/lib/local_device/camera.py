"""`make demo CAMERA=...`: the camera the demo captures from, as a CameraIngest source."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_DEVICE = re.compile(r"^(?:/dev/video)?(\d{1,3})$")
_STREAM = ("rtsp://", "rtsps://", "http://", "https://")


class CameraChoiceError(ValueError):
    pass


def camera_source(choice: str) -> dict[str, Any]:
    """A V4L2 device (``/dev/video0`` or ``0``), a stream URL, a video file or a folder of images."""
    text = choice.strip()
    device = _DEVICE.match(text)
    if device:
        return {"type": "v4l2", "device": f"/dev/video{device.group(1)}"}
    if text.lower().startswith(_STREAM):
        return {"type": "stream", "url": text}
    path = Path(text).expanduser()
    if path.is_dir():
        return {"type": "folder", "path": str(path.resolve()), "fps": 10}
    if path.is_file():
        return {"type": "file", "path": str(path.resolve())}
    raise CameraChoiceError(
        f"camera {choice!r}: not a V4L2 device (/dev/videoN or N), an rtsp(s)/http(s) URL, "
        "an existing video file or an existing folder of images"
    )
