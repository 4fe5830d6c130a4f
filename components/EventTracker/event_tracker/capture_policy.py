"""The data-capture policy: which frames are picked for labeling, within a per-camera budget. No I/O.

A frame is picked for every reason that holds (:data:`smartcam.contracts.CAPTURE_REASONS`):
- ``uncertain``: its best score, over SsdInference's results and weak candidates, lies in
  ``[uncertainMin, uncertainMax)``: the frames the model is least sure of teach it the most;
- ``new_track``: a new track was confirmed on it (its event starts): each object's first good sighting;
- ``random``: a draw of probability ``sampleRate`` (a sample of what the camera sees, empty frames too,
  so the labeled set is not only what the model already finds). The generator is injected: seeded, the
  draws repeat.

The budget bounds what is picked per camera: ``maxPerHour`` in a clock hour and ``maxPerDay`` in a day,
both UTC and by the frame's capture time (the S3 folder's date is that day too). Frames of one camera
reach the policy in capture order (the tracker refuses older ones), so a window only moves forward;
a frame of an older window than the one held (the device's clock went back) counts against the held one.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass

from event_tracker.settings import DataCaptureSettings
from smartcam.contracts import CaptureReason, Detections

HOUR_S = 3600


def hour_of(at: float) -> int:
    """The UTC clock hour of ``at``, as hours since the epoch."""
    return math.floor(at / HOUR_S)


def day_of(at: float) -> str:
    """The UTC day of ``at``, ``YYYY-MM-DD`` (these order as the days do)."""
    return time.strftime("%Y-%m-%d", time.gmtime(at))


def best_score(detections: Detections) -> float | None:
    scores = [d.score for d in (*detections.detections, *(detections.candidates or ()))]
    return max(scores) if scores else None


def capture_reasons(settings: DataCaptureSettings, detections: Detections, *, new_track: bool,
                    rng: random.Random) -> list[CaptureReason]:
    """Why ``detections``' frame is to be captured (empty: it is not), before the budget. One draw of
    ``rng`` per frame whenever ``sampleRate`` is above 0, picked or not, so a seeded run repeats."""
    reasons: list[CaptureReason] = []
    best = best_score(detections)
    if best is not None and settings.uncertain_min <= best < settings.uncertain_max:
        reasons.append("uncertain")
    if new_track and settings.new_tracks:
        reasons.append("new_track")
    if settings.sample_rate > 0 and rng.random() < settings.sample_rate:
        reasons.append("random")
    return reasons


@dataclass(frozen=True)
class Spent:
    """One camera's captures in its current hour and day."""

    hour: int
    hour_count: int
    day: str
    day_count: int


class CaptureBudget:
    """Captures per camera in the current UTC hour and day. Not thread-safe: the app's lock."""

    def __init__(self, spent: Iterable[tuple[str, Spent]] = ()) -> None:
        self._spent: dict[str, Spent] = dict(spent)

    def current(self, camera_id: str, at: float) -> Spent:
        """The camera's counts in the windows ``at`` falls in (or the held ones, if those are later)."""
        hour, day = hour_of(at), day_of(at)
        held = self._spent.get(camera_id)
        if held is None:
            return Spent(hour, 0, day, 0)
        hour_count = held.hour_count if held.hour >= hour else 0
        day_count = held.day_count if held.day >= day else 0
        return Spent(max(hour, held.hour), hour_count, max(day, held.day), day_count)

    def allows(self, camera_id: str, at: float, settings: DataCaptureSettings) -> bool:
        now = self.current(camera_id, at)
        return now.hour_count < settings.max_per_hour and now.day_count < settings.max_per_day

    def spend(self, camera_id: str, at: float) -> Spent:
        """Count one capture of the camera at ``at``; returns the camera's counts now (to keep durably)."""
        now = self.current(camera_id, at)
        spent = Spent(now.hour, now.hour_count + 1, now.day, now.day_count + 1)
        self._spent[camera_id] = spent
        return spent

    def get(self, camera_id: str) -> Spent | None:
        return self._spent.get(camera_id)
