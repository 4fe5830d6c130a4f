"""Zones (polygons) and lines of one camera, and what each track does with them.

A track's position is the bottom center of its box, where a person stands: a person whose head
overlaps a doorway zone in the picture but who stands in front of it is not in it. A zone is entered
when that point has been inside for ``inertia`` detections in a row, and left likewise, so a point
jittering on the edge does not enter and leave every frame. A line counts a crossing when the point
goes from one side to the other *through* the line (not around its ends); the side only changes once
the point is more than ``SIDE_MARGIN`` away from the line, for the same reason. Crossing "in" means
from the left to the right of someone walking along the line from its first point to its second, as
seen in the picture: for a line drawn left to right, "in" is downwards on the screen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from smartcam.config import ComponentConfig
from smartcam.contracts import Identifier
from smartcam.geometry import (
    NormalizedLine,
    NormalizedPolygon,
    Point,
    point_in_polygon,
    segments_intersect,
    signed_distance,
)

MAX_ZONES = 32
MAX_LINES = 32
# The anchor must be this far (fraction of the frame) from a line to be on one side of it.
SIDE_MARGIN = 0.01

Label = Annotated[str, Field(min_length=1, max_length=64)]
Labels = Annotated[tuple[Label, ...], Field(max_length=64)]


class ZoneSettings(ComponentConfig):
    name: Identifier = Field(description="The zone's name in events; unique among the camera's zones and lines.")
    polygon: NormalizedPolygon = Field(
        description="3..64 [x, y] points normalized 0..1 from the top left; the outline must not cross itself."
    )
    labels: Labels = Field((), description="Labels this zone watches (e.g. [\"person\"]); empty: every label.")


class LineSettings(ComponentConfig):
    name: Identifier = Field(description="The line's name in events; unique among the camera's zones and lines.")
    points: NormalizedLine = Field(
        description="Two [x, y] points normalized 0..1, at least 0.01 apart; crossing \"in\" is from the left to the "
        "right of someone walking from the first point to the second, as seen in the picture."
    )
    labels: Labels = Field((), description="Labels this line counts; empty: every label.")


class CameraZones(ComponentConfig):
    zones: Annotated[tuple[ZoneSettings, ...], Field(max_length=MAX_ZONES)] = Field(
        (), description="Polygons whose entering and leaving the events report."
    )
    lines: Annotated[tuple[LineSettings, ...], Field(max_length=MAX_LINES)] = Field(
        (), description="Lines whose crossings in each direction the events count."
    )
    inertia: Annotated[int, Field(ge=1, le=30)] = Field(
        2, description="Detections in a row inside (or outside) a zone before entering (or leaving) it counts."
    )

    @model_validator(mode="after")
    def _unique_names(self) -> CameraZones:
        names = [zone.name for zone in self.zones] + [line.name for line in self.lines]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"zone and line names must be unique per camera; repeated: {', '.join(repeated)}")
        return self


class Change(StrEnum):
    ENTERED = "entered"
    LEFT = "left"
    CROSSED_IN = "in"
    CROSSED_OUT = "out"


@dataclass(frozen=True, slots=True)
class ZoneChange:
    change: Change
    name: str
    at: float


@dataclass
class ZoneSummary:
    """One track's dealings with the zones and lines, for its event."""

    entered: list[str] = field(default_factory=list)  # zones in the order first entered
    left: list[str] = field(default_factory=list)  # zones in the order first left
    inside: set[str] = field(default_factory=set)  # zones it is in now
    crossings: dict[str, dict[Change, int]] = field(default_factory=dict)  # line -> {in: n, out: n}


@dataclass
class _Membership:
    inside: bool = False
    streak: int = 0  # detections in a row that disagree with ``inside``


@dataclass
class _Side:
    side: int = 0  # -1 left, +1 right, 0 not decided yet
    point: Point = (0.0, 0.0)  # where the anchor last was on ``side``


@dataclass
class _TrackPlaces:
    zones: dict[str, _Membership] = field(default_factory=dict)
    lines: dict[str, _Side] = field(default_factory=dict)
    summary: ZoneSummary = field(default_factory=ZoneSummary)


class ZoneMonitor:
    """Zone and line changes of the tracks of one camera: :meth:`observe` each confirmed track's anchor
    when it is detected, :meth:`forget` it when it ends."""

    def __init__(self, zones: CameraZones) -> None:
        self._zones = zones
        self._tracks: dict[int, _TrackPlaces] = {}

    @property
    def zones(self) -> CameraZones:
        return self._zones

    def reconfigure(self, zones: CameraZones) -> None:
        """New zones and lines; what tracks did with zones and lines that are unchanged is kept."""
        kept_zones = {z.name for z in zones.zones if z in self._zones.zones}
        kept_lines = {line.name for line in zones.lines if line in self._zones.lines}
        for places in self._tracks.values():
            places.zones = {name: m for name, m in places.zones.items() if name in kept_zones}
            places.lines = {name: s for name, s in places.lines.items() if name in kept_lines}
            places.summary.inside &= kept_zones
        self._zones = zones

    def observe(self, track_id: int, label: str, anchor: Point, at: float) -> list[ZoneChange]:
        places = self._tracks.setdefault(track_id, _TrackPlaces())
        changes = []
        for zone in self._zones.zones:
            if zone.labels and label not in zone.labels:
                continue
            change = self._zone_step(places, zone, anchor)
            if change is not None:
                changes.append(ZoneChange(change, zone.name, at))
        for line in self._zones.lines:
            if line.labels and label not in line.labels:
                continue
            change = _line_step(places.lines.setdefault(line.name, _Side()), line.points, anchor)
            if change is not None:
                counts = places.summary.crossings.setdefault(line.name, {Change.CROSSED_IN: 0, Change.CROSSED_OUT: 0})
                counts[change] += 1
                changes.append(ZoneChange(change, line.name, at))
        return changes

    def summary(self, track_id: int) -> ZoneSummary:
        places = self._tracks.get(track_id)
        return places.summary if places is not None else ZoneSummary()

    def forget(self, track_id: int) -> ZoneSummary:
        """The track's summary, after which the monitor no longer knows it."""
        places = self._tracks.pop(track_id, None)
        return places.summary if places is not None else ZoneSummary()

    def _zone_step(self, places: _TrackPlaces, zone: ZoneSettings, anchor: Point) -> Change | None:
        membership = places.zones.setdefault(zone.name, _Membership())
        if point_in_polygon(anchor, zone.polygon) == membership.inside:
            membership.streak = 0
            return None
        membership.streak += 1
        if membership.streak < self._zones.inertia:
            return None
        membership.inside, membership.streak = not membership.inside, 0
        summary = places.summary
        if membership.inside:
            summary.inside.add(zone.name)
            if zone.name not in summary.entered:
                summary.entered.append(zone.name)
            return Change.ENTERED
        summary.inside.discard(zone.name)
        if zone.name not in summary.left:
            summary.left.append(zone.name)
        return Change.LEFT


def _line_step(state: _Side, line: Sequence[Point], anchor: Point) -> Change | None:
    distance = signed_distance(anchor, line)
    if abs(distance) <= SIDE_MARGIN:
        return None
    side = 1 if distance > 0 else -1
    previous_side, previous_point = state.side, state.point
    state.side, state.point = side, anchor
    if previous_side in (0, side) or not segments_intersect(previous_point, anchor, line[0], line[1]):
        return None
    return Change.CROSSED_IN if side > 0 else Change.CROSSED_OUT
