"""Annotated frames: labels stay inside the picture."""

from __future__ import annotations

import numpy as np

from smartcam.contracts import Box, Detection
from ssd_inference.annotate import _COLOR, draw, label_origin


def test_a_label_goes_above_its_box_when_there_is_room():
    assert label_origin((10, 100), text_height=9, baseline=3) == (10, 93)


def test_a_box_at_the_top_edge_gets_its_label_inside_the_box():
    x, y = label_origin((10, 0), text_height=9, baseline=3)
    assert (x, y) == (10, 13)
    assert y - 9 >= 0  # the text's top row is in the picture


def glyph_rows(image: np.ndarray, top: int, bottom: int) -> int:
    """How many rows between ``top`` and ``bottom`` hold label pixels (columns inside the box's sides)."""
    colored = (image[top:bottom, 100:600] == np.array(_COLOR, np.uint8)).all(axis=2)
    return int(colored.any(axis=1).sum())


def test_the_drawn_label_of_a_box_at_the_top_edge_is_not_cut_off():
    rgb = np.zeros((576, 768, 3), np.uint8)  # vtest.avi's size: thickness 2, a 0.8 scale font
    at_edge = Detection(label="person", class_id=1, score=0.9, box=Box(x1=0.1, y1=0.0, x2=0.9, y2=0.9))
    in_middle = Detection(label="person", class_id=1, score=0.9, box=Box(x1=0.1, y1=0.5, x2=0.9, y2=0.9))
    reference = glyph_rows(draw(rgb, [in_middle]), 200, 287)  # the whole label, above a box at row 288
    assert reference > 10
    assert glyph_rows(draw(rgb, [at_edge]), 3, 60) == reference  # rows 0-2: the box's top line
