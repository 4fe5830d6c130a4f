"""The arithmetic of the events benchmark (benchmarks.events), apart from the runtime it measures:
which phase of the static clip a moment belongs to, counters and CPU times between two moments of a
sampled series, rates per minute of video, DynamoDB item sizes, and whether an event follows an object
that stands in the still frame or came from the noise.

The static clip is a still frame with sensor noise for ``noise_s``, then the scene. A capture of it
starts with the clip's first frame (the motion gate always passes a camera's first frame), so the
phase boundary is that frame's capture time + ``noise_s``; a frame, an event or a sample is in the
noise phase when its time is before the boundary, else in the scene.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from dynamo_writer.items import item_size
from model_packaging.accuracy import iou

Phase = Literal["noise", "scene"]
PHASES: tuple[Phase, Phase] = ("noise", "scene")
Box = tuple[float, float, float, float]  # x1, y1, x2, y2, normalized


@dataclass(frozen=True)
class Timeline:
    """The static clip's phases in wall-clock time."""

    first_frame_at: float  # capture time of the clip's first frame
    noise_s: float
    fps: float

    @property
    def boundary(self) -> float:
        # Half a frame early: the first scene frame is due at noise_s and may be taken a little before.
        return self.first_frame_at + self.noise_s - 0.5 / self.fps

    def phase(self, at: float) -> Phase:
        return "noise" if at < self.boundary else "scene"


def count_by_phase(times: Iterable[float], timeline: Timeline) -> dict[Phase, int]:
    counts: dict[Phase, int] = {"noise": 0, "scene": 0}
    for at in times:
        counts[timeline.phase(at)] += 1
    return counts


@dataclass(frozen=True)
class PhaseFrames:
    taken: int
    passed: int
    gated: int

    @property
    def gated_share(self) -> float:
        return self.gated / self.taken if self.taken else float("nan")


def frames_by_phase(*, noise_frames: int, taken: int, gated: int, passed: Mapping[Phase, int]
                    ) -> dict[Phase, PhaseFrames]:
    """Taken, passed and gated frames per phase, from the capture's totals (``taken`` = frames
    captured + gated) and the frames that passed the gate per phase (their capture times).

    Every frame of the clip is taken in order, so the noise phase is its first ``noise_frames``
    frames (fewer if the capture took fewer in all); the gated ones are those taken that did not pass."""
    noise_taken = min(noise_frames, taken)
    noise_gated = max(0, noise_taken - passed["noise"])
    return {
        "noise": PhaseFrames(noise_taken, passed["noise"], noise_gated),
        "scene": PhaseFrames(taken - noise_taken, passed["scene"], max(0, gated - noise_gated)),
    }


Sample = tuple[float, Mapping[str, float]]  # (wall time, cumulative value per name)


def value_at(samples: Sequence[Sample], at: float) -> dict[str, float]:
    """Each name's cumulative value at ``at``, interpolated linearly between the samples around it
    (the first or last sample outside their span). ``samples`` are in time order."""
    if not samples:
        return {}
    times = [t for t, _ in samples]
    index = bisect_right(times, at)
    if index == 0:
        return dict(samples[0][1])
    if index == len(samples):
        return dict(samples[-1][1])
    (t0, v0), (t1, v1) = samples[index - 1], samples[index]
    share = (at - t0) / (t1 - t0) if t1 > t0 else 1.0
    return {name: v0[name] + (v1[name] - v0[name]) * share for name in v0 if name in v1}


def delta(samples: Sequence[Sample], start: float, end: float) -> dict[str, float]:
    """How much each name grew from ``start`` to ``end``."""
    before, after = value_at(samples, start), value_at(samples, end)
    return {name: after[name] - before[name] for name in after if name in before}


def per_minute(amount: float, seconds: float) -> float:
    return amount * 60.0 / seconds if seconds > 0 else float("nan")


def per_hour(amount: float, seconds: float) -> float:
    return amount * 3600.0 / seconds if seconds > 0 else float("nan")


def items_bytes(items: Iterable[Mapping[str, Any]]) -> int:
    """Total size of DynamoDB items in the low-level wire format ({"S": ...}, {"N": ...}, ...) by
    DynamoDB's item size rules: attribute name + value bytes (strings UTF-8, numbers 1 byte per two
    significant digits + 1, lists and maps 3 bytes + 1 per element). The writer's own estimate
    (dynamo_writer.items.item_size). Storage adds 100 bytes per item and each index its copy; not counted."""
    return sum(item_size(dict(item)) for item in items)


def follows_still_object(first_box: Box, still_boxes: Iterable[Box], min_iou: float = 0.5) -> bool:
    """Whether an event whose first box is ``first_box`` follows one of the objects the model found in
    the still frame (``still_boxes``), rather than something the noise made up."""
    return any(iou(first_box, box) >= min_iou for box in still_boxes)


def snapshot_event_id(key: str) -> str | None:
    """The event id in a snapshot's S3 key ``<prefix>/<thing>/<camera>/<yyyy>/<mm>/<dd>/<event id>/<file>``."""
    parts = key.split("/")
    return parts[-2] if len(parts) >= 8 else None
