"""The demo's contact sheet: every snapshot crop in a captioned grid."""

from decimal import Decimal

import cv2
import numpy as np
import pytest

from local_device.contact_sheet import CAPTION_H, PICTURE_H, TILE_W, Tile, caption, contact_sheet


def jpeg(color: tuple[int, int, int], width: int = 40, height: int = 100) -> bytes:
    return cv2.imencode(".jpg", np.full((height, width, 3), color, np.uint8))[1].tobytes()


def test_each_tile_holds_its_picture_in_a_grid_of_columns(tmp_path):
    colors = [(0, 0, 255), (0, 255, 0), (255, 0, 0)]
    out = contact_sheet([Tile(jpeg(c), ("#1 person 0.90",)) for c in colors], tmp_path / "sheet.jpg", columns=2)
    sheet = cv2.imread(str(out))
    assert sheet.shape == (2 * (PICTURE_H + CAPTION_H), 2 * TILE_W, 3)
    centers = [(PICTURE_H // 2, TILE_W // 2), (PICTURE_H // 2, TILE_W + TILE_W // 2),
               (PICTURE_H + CAPTION_H + PICTURE_H // 2, TILE_W // 2)]
    for (y, x), color in zip(centers, colors, strict=True):
        assert np.abs(sheet[y, x].astype(int) - color).max() < 40
    caption_area = sheet[PICTURE_H:PICTURE_H + CAPTION_H, :TILE_W]
    assert caption_area.min() < 100  # the caption's text is drawn


def test_no_snapshot_or_an_unreadable_one_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no snapshot"):
        contact_sheet([], tmp_path / "sheet.jpg")
    with pytest.raises(ValueError, match="not a readable picture"):
        contact_sheet([Tile(b"not a jpeg", ("#2 person",))], tmp_path / "sheet.jpg")


def test_the_caption_names_track_label_score_duration_and_zones():
    item = {"track_id": Decimal(7), "label": "person", "best_score": Decimal("0.912"), "first_seen": Decimal("1000"),
            "duration_s": Decimal("8.25"), "zones": [{"zone": "lawn"}, {"zone": "door"}, {"zone": "lawn"}]}
    lines = caption(item)
    assert lines[0] == "#7 person 0.91"
    assert lines[1].endswith(" 8.2s")
    assert lines[2] == "in door,lawn"
    assert caption(item | {"zones": []})[2] == ""
