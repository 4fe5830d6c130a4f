"""Which grabbed frames a capture keeps, so the requested fps holds whatever the camera's rate."""

from __future__ import annotations


class FrameSchedule:
    """Keeps, for each due time on the monotonic clock, the grabbed frame nearest to it.

    Due times advance by exactly one period from the previous due time (not from the frame), so a
    30 fps camera sampled at 7 fps averages 7 fps. A frame up to half a camera interval before its
    due time is kept (the next frame would be further away), which is what lets a camera running at
    the requested rate deliver every frame instead of aliasing into skipped slots. The camera's
    interval is learned from the grab times. If the source falls behind by more than a period the
    schedule restarts from now instead of keeping a burst of late frames.
    """

    def __init__(self, period_s: float | None) -> None:
        self.period_ns = int(period_s * 1e9) if period_s else 0
        self._due_ns: int | None = None
        self._last_grab_ns: int | None = None
        self._source_interval_ns: int | None = None

    def take(self, now_ns: int) -> bool:
        self._learn_source_rate(now_ns)
        if self._due_ns is None:
            self._due_ns = now_ns + self.period_ns
            return True
        early_ns = min(self.period_ns, self._source_interval_ns or 0) // 2
        if now_ns < self._due_ns - early_ns:
            return False
        self._due_ns += self.period_ns
        if self._due_ns <= now_ns:
            self._due_ns = now_ns + self.period_ns
        return True

    def _learn_source_rate(self, now_ns: int) -> None:
        if self._last_grab_ns is not None and now_ns > self._last_grab_ns:
            gap = now_ns - self._last_grab_ns
            previous = self._source_interval_ns
            self._source_interval_ns = gap if previous is None else (7 * previous + gap) // 8
        self._last_grab_ns = now_ns
