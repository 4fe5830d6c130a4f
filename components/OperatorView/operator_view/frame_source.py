"""The one place OperatorView reads the frame ring: a frame reference in, JPEG bytes out (or None).

The ring holds raw frames; the JPEG is made here, only for a frame a page asks for (the page's frame
pacing bounds how often), at the camera's own JPEG quality.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from smartcam.contracts import FrameRef
from smartcam.frames import FrameError, FrameReader, frame_as_jpeg

log = logging.getLogger(__name__)


class FrameSource:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._reader = FrameReader(self.root)  # keeps the cameras' ring files mapped between requests
        self._lock = threading.Lock()

    def jpeg(self, ref: FrameRef) -> bytes | None:
        """The frame's JPEG, or None when the ring no longer has it or refuses the reference."""
        try:
            with self._lock:
                return frame_as_jpeg(ref, self.root, reader=self._reader)
        except FrameError as exc:
            log.debug("frame %s not shown: %s", ref.frame_id, exc)
            return None
        except OSError as exc:
            log.warning("frame %s could not be read: %s", ref.frame_id, exc)
            return None
