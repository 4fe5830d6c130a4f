"""smartcam.geometry: the polygons and lines of masks and zones (normalized, y down)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from smartcam.geometry import (
    NormalizedLine,
    NormalizedPolygon,
    line_problem,
    point_in_polygon,
    polygon_area,
    polygon_problem,
    segments_intersect,
    signed_distance,
)

SQUARE = ((0.2, 0.2), (0.8, 0.2), (0.8, 0.8), (0.2, 0.8))
L_SHAPE = ((0.1, 0.1), (0.5, 0.1), (0.5, 0.5), (0.9, 0.5), (0.9, 0.9), (0.1, 0.9))  # concave


class Shapes(BaseModel):
    polygon: NormalizedPolygon | None = None
    line: NormalizedLine | None = None


def test_segments_cross_touch_and_miss():
    assert segments_intersect((0, 0), (1, 1), (0, 1), (1, 0))
    assert segments_intersect((0, 0), (1, 0), (0.5, 0), (0.5, 1))  # a T: touching counts
    assert segments_intersect((0, 0), (1, 0), (0.5, 0), (2, 0))  # collinear overlap
    assert not segments_intersect((0, 0), (1, 0), (1.5, 0), (2, 0))  # collinear, apart
    assert not segments_intersect((0, 0), (1, 1), (0, 0.5), (0.4, 0.9))  # parallel
    assert not segments_intersect((0, 0), (1, 0), (0.5, 0.1), (0.5, 1))  # would meet beyond the segment


@pytest.mark.parametrize("polygon", [SQUARE, L_SHAPE, ((0, 0), (1, 0), (0, 1)), tuple(reversed(L_SHAPE))])
def test_simple_polygons_are_accepted(polygon: tuple):
    assert polygon_problem(polygon) is None
    assert Shapes(polygon=polygon).polygon == polygon


@pytest.mark.parametrize(("polygon", "problem"), [
    (((0, 0), (1, 1), (1, 0), (0, 1)), "edges 0-1 and 2-3 cross: the polygon intersects itself"),
    (((0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.5, 0.05), (0.1, 0.9)), "edges 0-1 and 2-3 cross"),
    (((0.1, 0.1), (0.5, 0.1), (0.5, 0.1), (0.5, 0.5)), "points 1 and 2 are the same point (0.5, 0.1)"),
    (((0.1, 0.1), (0.5, 0.5), (0.9, 0.9)), "the points lie on one line: the polygon has no area"),
    (((0.1, 0.1), (0.9, 0.1), (0.5, 0.1), (0.5, 0.6)), "edges 0-1 and 2-3 cross"),  # a spike back along 0-1
    (((0.5, 0.1), (0.1, 0.5), (0.9, 0.5), (0.5, 0.1), (0.5, 0.9)), "cross"),
    (((0.1, 0.1), (0.9, 0.1)), "at least 3 points"),
])
def test_polygons_that_are_not_simple_are_refused_with_the_reason(polygon: tuple, problem: str):
    reason = polygon_problem(polygon)
    assert reason is not None and problem in reason
    with pytest.raises(ValidationError, match="polygon"):
        Shapes(polygon=polygon)


def test_a_spike_at_the_closing_corner_is_refused():
    # the last edge (0.4,0.1)->(0.1,0.1) runs back over the first (0.1,0.1)->(0.9,0.1)
    assert "the polygon intersects itself" in polygon_problem(((0.1, 0.1), (0.9, 0.1), (0.9, 0.8), (0.4, 0.1)))


def test_out_of_range_points_and_degenerate_lines_are_refused():
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        Shapes(polygon=((0, 0), (1.01, 0), (1, 1)))
    with pytest.raises(ValidationError, match=r"degenerate line: its ends are 0\.005 apart"):
        Shapes(line=((0.5, 0.5), (0.505, 0.5)))
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        Shapes(line=((-0.1, 0.5), (0.5, 0.5)))
    assert line_problem(((0.1, 0.1),)) == "a line has 2 points, got 1"
    assert Shapes(line=[[0.1, 0.5], [0.9, 0.5]]).line == ((0.1, 0.5), (0.9, 0.5))


def test_point_in_polygon_of_a_concave_shape():
    assert point_in_polygon((0.3, 0.3), L_SHAPE)
    assert point_in_polygon((0.7, 0.7), L_SHAPE)
    assert not point_in_polygon((0.7, 0.3), L_SHAPE)  # the notch
    assert not point_in_polygon((0.95, 0.95), L_SHAPE)
    assert polygon_area(L_SHAPE) == pytest.approx(0.8 * 0.8 - 0.4 * 0.4)


def test_signed_distance_is_positive_on_the_walkers_right():
    left_to_right = ((0.0, 0.5), (1.0, 0.5))  # walking right on screen: your right is down (y grows down)
    assert signed_distance((0.3, 0.7), left_to_right) == pytest.approx(0.2)
    assert signed_distance((0.3, 0.4), left_to_right) == pytest.approx(-0.1)
    top_to_bottom = ((0.5, 0.0), (0.5, 1.0))  # walking down on screen: your right is to the left
    assert signed_distance((0.2, 0.5), top_to_bottom) > 0


@st.composite
def star_polygons(draw: st.DrawFn) -> tuple[tuple[float, float], ...]:
    """Simple polygons: points at increasing angles around a center, less than half a turn apart
    (star-shaped, often concave)."""
    count = draw(st.integers(3, 12))
    angles = sorted(draw(st.lists(st.floats(0, 2 * math.pi, exclude_max=True), min_size=count, max_size=count,
                                  unique=True)))
    gaps = [b - a for a, b in zip(angles, [*angles[1:], angles[0] + 2 * math.pi], strict=True)]
    if not all(0.05 < gap < math.pi - 0.05 for gap in gaps):  # a gap over half a turn could fold the outline
        angles = [i * 2 * math.pi / count for i in range(count)]
    radii = draw(st.lists(st.floats(0.05, 0.45), min_size=count, max_size=count))
    return tuple((0.5 + r * math.cos(a), 0.5 + r * math.sin(a)) for a, r in zip(angles, radii, strict=True))


@settings(max_examples=200, deadline=None)
@given(polygon=star_polygons(), x=st.floats(0, 1), y=st.floats(0, 1))
def test_star_polygons_are_simple_and_containment_agrees_with_opencv(polygon: tuple, x: float, y: float):
    assert polygon_problem(polygon) is None
    distance = cv2.pointPolygonTest(np.array(polygon, np.float32), (x, y), measureDist=True)
    if abs(distance) > 1e-4:  # on the outline either answer is right
        assert point_in_polygon((x, y), polygon) == (distance > 0)


@pytest.mark.parametrize("shift", range(4))
def test_swapping_two_corners_of_a_square_makes_it_cross_wherever_it_starts(shift: int):
    square = ((0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.1, 0.9))
    rotated = square[shift:] + square[:shift]
    bowtie = (rotated[0], rotated[2], rotated[1], rotated[3])
    assert "the polygon intersects itself" in polygon_problem(bowtie)
