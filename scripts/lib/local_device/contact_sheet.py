"""The demo's contact sheet: each event's snapshot crop, as read back from S3, captioned with its track
id, label, best score, duration and zones, in a grid in one JPEG."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

TILE_W, PICTURE_H, CAPTION_H = 160, 220, 54
COLUMNS = 8
FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass(frozen=True)
class Tile:
    picture: bytes  # a JPEG (the snapshot's crop)
    lines: tuple[str, ...]  # the caption, at most three short lines


def caption(item: dict[str, Any]) -> tuple[str, ...]:
    """Three lines for an event item: track id and label, score and duration, zones entered."""
    started = time.strftime("%H:%M:%S", time.localtime(float(item["first_seen"])))
    zones = sorted({str(zone["zone"]) for zone in item.get("zones", [])})
    return (f"#{item['track_id']} {item['label']} {float(item['best_score']):.2f}",
            f"{started} {float(item['duration_s']):.1f}s",
            ("in " + ",".join(zones)) if zones else "")


def _fit(picture: np.ndarray) -> np.ndarray:
    """The picture scaled to fit a tile (never up-scaled beyond 2x), centered on grey."""
    tile = np.full((PICTURE_H, TILE_W, 3), 48, np.uint8)
    height, width = picture.shape[:2]
    scale = min(TILE_W / width, PICTURE_H / height, 2.0)
    resized = cv2.resize(picture, (max(1, round(width * scale)), max(1, round(height * scale))),
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    top, left = (PICTURE_H - resized.shape[0]) // 2, (TILE_W - resized.shape[1]) // 2
    tile[top:top + resized.shape[0], left:left + resized.shape[1]] = resized
    return tile


def contact_sheet(tiles: Sequence[Tile], out: Path, columns: int = COLUMNS) -> Path:
    """Write the grid of ``tiles`` to ``out`` (JPEG); raises ValueError for no tile or an unreadable picture."""
    if not tiles:
        raise ValueError("no snapshot to put on a contact sheet")
    columns = min(columns, len(tiles))
    rows = math.ceil(len(tiles) / columns)
    sheet = np.full((rows * (PICTURE_H + CAPTION_H), columns * TILE_W, 3), 255, np.uint8)
    for index, tile in enumerate(tiles):
        picture = cv2.imdecode(np.frombuffer(tile.picture, np.uint8), cv2.IMREAD_COLOR)
        if picture is None:
            raise ValueError(f"tile {index} ({tile.lines[0] if tile.lines else ''}) is not a readable picture")
        top, left = (index // columns) * (PICTURE_H + CAPTION_H), (index % columns) * TILE_W
        sheet[top:top + PICTURE_H, left:left + TILE_W] = _fit(picture)
        for line_no, text in enumerate(tile.lines[:3]):
            cv2.putText(sheet, text, (left + 4, top + PICTURE_H + 15 + 16 * line_no), FONT, 0.42, (0, 0, 0), 1,
                        cv2.LINE_AA)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), sheet, [cv2.IMWRITE_JPEG_QUALITY, 90]):
        raise OSError(f"cannot write {out}")
    return out
