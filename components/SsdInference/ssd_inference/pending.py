"""Frames waiting for inference: only the newest few per camera, so memory never grows; frames sent
again by CameraIngest wait in a bounded backlog of their own."""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass

from smartcam.contracts import FrameRef

# Frames CameraIngest sent again (``FrameRef.resent``) waiting at once: after a restart of this
# component it resends everything unreceipted, and those frames are worth serving, not dropping as
# stale. ~1.5 KB each: at most ~6 MB; beyond it the oldest resent frame is dropped (with a receipt).
BACKLOG_CAPACITY = 4096


@dataclass(frozen=True)
class Dropped:
    """A frame the drop policy let go, and why (the ``detail`` of its ``dropped`` receipt)."""

    frame: FrameRef
    reason: str


class PendingFrames:
    """Thread-safe. ``put`` never blocks; when a camera already has ``depth`` frames waiting, its
    oldest is dropped. Cameras are served round-robin so a fast one cannot starve a slow one; at most
    ``max_cameras`` cameras have frames waiting (the longest-waiting is dropped). ``put`` and
    ``configure`` return the frames they dropped, so each can be accounted for; ``dropped`` counts
    them all.

    A frame sent again (``resent``) is not subject to the newest-frame policy: it waits, oldest first,
    in a backlog of at most ``backlog`` frames, served behind live frames: when no live frame waits,
    or every other turn while both do, so neither starves the other."""

    def __init__(self, depth: int = 1, max_cameras: int = 64, backlog: int = BACKLOG_CAPACITY) -> None:
        self._lock = threading.Condition()
        self._queues: OrderedDict[str, deque[FrameRef]] = OrderedDict()
        self._backlog: deque[FrameRef] = deque()
        self._backlog_capacity = backlog
        self._backlog_turn = False
        self._depth = depth
        self._max_cameras = max_cameras
        self._woken = False
        self.dropped = 0

    def configure(self, depth: int, max_cameras: int) -> list[Dropped]:
        with self._lock:
            self._depth, self._max_cameras = depth, max_cameras
            dropped: list[Dropped] = []
            for queue in self._queues.values():
                dropped += self._trim(queue)
            dropped += self._evict_cameras()
            self.dropped += len(dropped)
            return dropped

    def put(self, frame: FrameRef) -> list[Dropped]:
        with self._lock:
            dropped: list[Dropped] = []
            if frame.resent:
                self._backlog.append(frame)
                while len(self._backlog) > self._backlog_capacity:
                    old = self._backlog.popleft()
                    dropped.append(Dropped(old, f"inference busy: {self._backlog_capacity} frames sent again were "
                                                "already waiting and this was the oldest"))
                self.dropped += len(dropped)
                self._lock.notify()
                return dropped
            queue = self._queues.get(frame.camera_id)
            if queue is None:
                queue = self._queues[frame.camera_id] = deque()
                dropped += self._evict_cameras()
            queue.append(frame)
            dropped += self._trim(queue)
            self.dropped += len(dropped)
            self._lock.notify()
            return dropped

    def get(self, timeout: float) -> FrameRef | None:
        """The oldest waiting frame of the next camera in turn (or of the backlog, when it is its
        turn), or None after ``timeout`` seconds."""
        with self._lock:
            self._lock.wait_for(lambda: bool(self._queues) or bool(self._backlog) or self._woken, timeout)
            self._woken = False
            if self._backlog and (self._backlog_turn or not self._queues):
                self._backlog_turn = False
                return self._backlog.popleft()
            if not self._queues:
                return None
            self._backlog_turn = bool(self._backlog)
            camera, queue = next(iter(self._queues.items()))
            frame = queue.popleft()
            del self._queues[camera]
            if queue:  # back of the line
                self._queues[camera] = queue
            return frame

    def wake(self) -> None:
        """Make a waiting ``get`` return now (with None if nothing is pending)."""
        with self._lock:
            self._woken = True
            self._lock.notify_all()

    def __len__(self) -> int:
        with self._lock:
            return sum(len(q) for q in self._queues.values()) + len(self._backlog)

    def _trim(self, queue: deque[FrameRef]) -> list[Dropped]:
        dropped = []
        while len(queue) > self._depth:
            frame = queue.popleft()
            dropped.append(Dropped(frame, f"inference busy: a newer frame of camera {frame.camera_id} took its "
                                          f"place (dropPolicy.pendingPerCamera = {self._depth})"))
        return dropped

    def _evict_cameras(self) -> list[Dropped]:
        dropped = []
        while len(self._queues) > self._max_cameras:
            camera, queue = self._queues.popitem(last=False)
            dropped += [Dropped(frame, f"inference busy: more than dropPolicy.maxCameras = {self._max_cameras} "
                                       f"cameras had frames waiting; camera {camera} waited longest")
                        for frame in queue]
        return dropped
