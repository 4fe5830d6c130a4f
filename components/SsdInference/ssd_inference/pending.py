"""Frames waiting for inference: only the newest few per camera, so memory never grows."""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass

from smartcam.contracts import FrameRef


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
    them all."""

    def __init__(self, depth: int = 1, max_cameras: int = 64) -> None:
        self._lock = threading.Condition()
        self._queues: OrderedDict[str, deque[FrameRef]] = OrderedDict()
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
        """The oldest waiting frame of the next camera in turn, or None after ``timeout`` seconds."""
        with self._lock:
            self._lock.wait_for(lambda: bool(self._queues) or self._woken, timeout)
            self._woken = False
            if not self._queues:
                return None
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
            return sum(len(q) for q in self._queues.values())

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
