"""Frames waiting for inference: only the newest few per camera, so memory never grows."""

from __future__ import annotations

import threading
from collections import OrderedDict, deque

from smartcam.contracts import FrameRef


class PendingFrames:
    """Thread-safe. ``put`` never blocks; when a camera already has ``depth`` frames waiting, its
    oldest is dropped (and counted). Cameras are served round-robin so a fast one cannot starve a
    slow one; at most ``max_cameras`` cameras have frames waiting (the longest-waiting is dropped)."""

    def __init__(self, depth: int = 1, max_cameras: int = 64) -> None:
        self._lock = threading.Condition()
        self._queues: OrderedDict[str, deque[FrameRef]] = OrderedDict()
        self._depth = depth
        self._max_cameras = max_cameras
        self._woken = False
        self.dropped = 0

    def configure(self, depth: int, max_cameras: int) -> None:
        with self._lock:
            self._depth, self._max_cameras = depth, max_cameras
            for queue in self._queues.values():
                while len(queue) > depth:
                    queue.popleft()
                    self.dropped += 1
            self._evict_cameras()

    def put(self, frame: FrameRef) -> None:
        with self._lock:
            queue = self._queues.get(frame.camera_id)
            if queue is None:
                queue = self._queues[frame.camera_id] = deque()
                self._evict_cameras()
            queue.append(frame)
            while len(queue) > self._depth:
                queue.popleft()
                self.dropped += 1
            self._lock.notify()

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

    def _evict_cameras(self) -> None:
        while len(self._queues) > self._max_cameras:
            _, queue = self._queues.popitem(last=False)
            self.dropped += len(queue)
