"""Which grabbed frames a capture keeps, so the requested fps holds whatever the camera's rate."""

from __future__ import annotations


class FrameSchedule:
    """Keeps a frame when it arrives at or after its due time on the monotonic clock.

    Due times advance by exactly one period from the previous due time (not from the frame), so a
    30 fps camera sampled at 7 fps averages 7 fps. If the source falls behind by more than a period
    the schedule restarts from now instead of keeping a burst of late frames. A frame up to
    ``EARLY_FRACTION`` of a period early still counts, so camera jitter does not skip a slot.
    """

    EARLY_FRACTION = 0.05

    def __init__(self, period_s: float | None) -> None:
        self.period_ns = int(period_s * 1e9) if period_s else 0
        self._early_ns = int(self.period_ns * self.EARLY_FRACTION)
        self._due_ns: int | None = None

    def take(self, now_ns: int) -> bool:
        if self._due_ns is None:
            self._due_ns = now_ns + self.period_ns
            return True
        if now_ns < self._due_ns - self._early_ns:
            return False
        self._due_ns += self.period_ns
        if self._due_ns <= now_ns:
            self._due_ns = now_ns + self.period_ns
        return True
