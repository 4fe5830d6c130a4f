"""The one place OperatorView reads the frame ring: a frame reference in, JPEG bytes out (or None).

Everything else in the component asks this module, so a change of how the ring stores frames (files
today) touches only here.
"""

from __future__ import annotations

import logging
from pathlib import Path

from smartcam.contracts import FrameRef
from smartcam.frames import FrameError, read_frame

log = logging.getLogger(__name__)

# A frame larger than this is not shown: far above any camera's JPEG, small enough to hold a few.
MAX_SHOWN_FRAME_BYTES = 8 * 1024 * 1024


class FrameSource:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def jpeg(self, ref: FrameRef) -> bytes | None:
        """The frame's JPEG, or None when the ring no longer has it or refuses the reference."""
        try:
            return read_frame(ref, self.root, max_bytes=MAX_SHOWN_FRAME_BYTES)
        except FrameError as exc:
            log.debug("frame %s not shown: %s", ref.frame_id, exc)
            return None
        except OSError as exc:
            log.warning("frame %s could not be read: %s", ref.frame_id, exc)
            return None
