"""Plane geometry in normalized image coordinates: x and y run 0..1 from the top left corner, y downwards.

Motion masks (CameraIngest) and zones and lines (EventTracker) are configured as such polygons and
lines; the annotated types below validate them where the configuration is read, so a polygon that
crosses itself or a line whose ends coincide is refused with the reason instead of matching nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated

from pydantic import AfterValidator, Field

Point = tuple[float, float]

MAX_POLYGON_POINTS = 64
# A line shorter than 1 % of the frame cannot be crossed reliably by a box's jittering anchor.
MIN_LINE_LENGTH = 0.01
# Orientation tests below this are collinear: normalized coordinates make 1e-12 far below a pixel.
_EPSILON = 1e-12

Coordinate = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
# JSON has no tuple: a point arrives as a list, so only the container is read laxly, never its items.
NormalizedPoint = Annotated[tuple[Coordinate, Coordinate], Field(strict=False)]


def cross(origin: Point, a: Point, b: Point) -> float:
    """The z of (a - origin) x (b - origin): > 0 when b lies to the right of origin->a on screen (y down)."""
    return (a[0] - origin[0]) * (b[1] - origin[1]) - (a[1] - origin[1]) * (b[0] - origin[0])


def _on_segment(p: Point, a: Point, b: Point) -> bool:
    """``p``, known to be collinear with a-b, lies within the segment's bounding box."""
    return min(a[0], b[0]) - _EPSILON <= p[0] <= max(a[0], b[0]) + _EPSILON and (
        min(a[1], b[1]) - _EPSILON <= p[1] <= max(a[1], b[1]) + _EPSILON
    )


def segments_intersect(p1: Point, p2: Point, q1: Point, q2: Point) -> bool:
    """Segments p1-p2 and q1-q2 share at least one point (touching counts)."""
    d1, d2 = cross(q1, q2, p1), cross(q1, q2, p2)
    d3, d4 = cross(p1, p2, q1), cross(p1, p2, q2)
    if ((d1 > _EPSILON and d2 < -_EPSILON) or (d1 < -_EPSILON and d2 > _EPSILON)) and (
        (d3 > _EPSILON and d4 < -_EPSILON) or (d3 < -_EPSILON and d4 > _EPSILON)
    ):
        return True
    return (
        (abs(d1) <= _EPSILON and _on_segment(p1, q1, q2))
        or (abs(d2) <= _EPSILON and _on_segment(p2, q1, q2))
        or (abs(d3) <= _EPSILON and _on_segment(q1, p1, p2))
        or (abs(d4) <= _EPSILON and _on_segment(q2, p1, p2))
    )


def polygon_area(points: Sequence[Point]) -> float:
    """Unsigned area (shoelace), as a fraction of the frame."""
    total = 0.0
    for i, (x1, y1) in enumerate(points):
        x2, y2 = points[(i + 1) % len(points)]
        total += x1 * y2 - x2 * y1
    return abs(total) / 2


def polygon_problem(points: Sequence[Point]) -> str | None:
    """Why ``points`` is not a simple polygon (edges meet only at shared corners), or None."""
    count = len(points)
    if count < 3:
        return f"a polygon needs at least 3 points, got {count}"
    for i in range(count):
        if math.dist(points[i], points[(i + 1) % count]) <= _EPSILON:
            return f"points {i} and {(i + 1) % count} are the same point {_show(points[i])}"
    if all(abs(cross(points[0], points[1], point)) <= _EPSILON for point in points):
        return "the points lie on one line: the polygon has no area"
    edges = [(points[i], points[(i + 1) % count]) for i in range(count)]
    # Edges that share a corner are not compared: if one ran back over the other, the spike's tip would
    # lie on an edge that shares no corner with the edge starting there, which the loop finds.
    for i in range(count):
        for j in range(i + 2, count):
            if i == 0 and j == count - 1:
                continue
            if segments_intersect(*edges[i], *edges[j]):
                return f"edges {_edge(i, count)} and {_edge(j, count)} cross: the polygon intersects itself"
    return None


def _edge(index: int, count: int) -> str:
    return f"{index}-{(index + 1) % count}"


def _show(point: Point) -> str:
    return f"({point[0]:g}, {point[1]:g})"


def _checked_polygon(points: tuple[Point, ...]) -> tuple[Point, ...]:
    problem = polygon_problem(points)
    if problem:
        raise ValueError(problem)
    return points


def line_problem(line: Sequence[Point]) -> str | None:
    """Why ``line`` (two points) cannot be crossed, or None."""
    if len(line) != 2:
        return f"a line has 2 points, got {len(line)}"
    length = math.dist(line[0], line[1])
    if length < MIN_LINE_LENGTH:
        return f"degenerate line: its ends are {length:.4g} apart, at least {MIN_LINE_LENGTH:g} of the frame needed"
    return None


def _checked_line(line: tuple[Point, Point]) -> tuple[Point, Point]:
    problem = line_problem(line)
    if problem:
        raise ValueError(problem)
    return line


# A simple polygon: 3..64 points, edges that meet only at shared corners (closed from the last point to the first).
NormalizedPolygon = Annotated[
    tuple[NormalizedPoint, ...],
    Field(min_length=3, max_length=MAX_POLYGON_POINTS, strict=False),
    AfterValidator(_checked_polygon),
]
NormalizedLine = Annotated[tuple[NormalizedPoint, NormalizedPoint], Field(strict=False), AfterValidator(_checked_line)]


def point_in_polygon(point: Point, polygon: Sequence[Point]) -> bool:
    """Even-odd ray casting; a point exactly on an edge may fall either way."""
    x, y = point
    inside = False
    previous = polygon[-1]
    for current in polygon:
        (x1, y1), (x2, y2) = previous, current
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
        previous = current
    return inside


def signed_distance(point: Point, line: Sequence[Point]) -> float:
    """Distance of ``point`` from the infinite line through ``line``: positive on the right of someone
    walking from its first point to its second, as seen in the image (y down), negative on the left."""
    a, b = line[0], line[1]
    return cross(a, b, point) / math.dist(a, b)
