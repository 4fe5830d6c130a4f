"""The motion gate of one camera: is a frame worth the model?

A small blurred grayscale copy of each frame is compared with a running-average background. Pixels
whose gray level moved more than the sensitivity allows count as changed, except inside the mask
polygons; changed pixels close to each other form a region (dilated, so one walking person is one
region, not a head and two legs). A frame passes when one region holds at least ``minArea`` of the
frame. When almost the whole frame changes at once (light switched on, sun behind a cloud, camera
bumped) the background restarts from that frame, which is gated. Without motion a keep-alive frame
still passes every ``keepAliveS`` seconds, so an object standing still (absorbed into the background
after about ``backgroundS``) stays seen downstream.

The background learns in time, not in frames (its weight per frame is 1 - exp(-dt / backgroundS)),
so a camera at 1 fps and one at 25 fps forget a change equally fast.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, NamedTuple

import cv2
import numpy as np
from pydantic import Field

from smartcam.config import ComponentConfig
from smartcam.contracts import MAX_MOTION_REGIONS, MotionRegion
from smartcam.geometry import NormalizedPolygon, Point

MAX_MASKS = 16
MAX_REGIONS = MAX_MOTION_REGIONS  # the largest regions ride with a frame reference; more would only grow it
_BLUR = (5, 5)  # suppresses sensor noise on the small copy before differencing
_MERGE = np.ones((3, 3), np.uint8)
_MERGE_ITERATIONS = 2
_ROW_SCALE = 1000  # a region row's 3 decimals


class MotionSettings(ComponentConfig):
    """Per camera: which frames go on to the model. Off, every frame does."""

    enabled: bool = Field(True, description="false: the gate is off and every frame goes on to the model.")
    sensitivity: Annotated[float, Field(gt=0, lt=1)] = Field(
        0.9, description="How faint a change counts, 0..1: a pixel changed when its gray level moved more than "
        "(1 - sensitivity) x 255 levels from the background (0.9: 25.5 levels). Higher sees fainter motion, "
        "and more noise."
    )
    min_area: Annotated[float, Field(gt=0, le=1)] = Field(
        0.001, description="Smallest changed region, as a fraction of the frame (0.001 = 0.1 %), that lets a frame "
        "pass; smaller changes (noise, rain, a fluttering leaf) are gated."
    )
    masks: Annotated[tuple[NormalizedPolygon, ...], Field(max_length=MAX_MASKS)] = Field(
        (), description="Polygons where motion is ignored (swaying trees, a clock, a road behind a fence), each a "
        "list of 3..64 [x, y] points normalized 0..1 from the top left; a polygon must not cross itself."
    )
    keep_alive_s: Annotated[float, Field(gt=0, le=86_400)] | None = Field(
        4.0, description="Without motion, a frame still passes every this many seconds, so an object standing "
        "still stays seen: keep it well below the time EventTracker lets an object go unseen before it ends "
        "its event; null: never."
    )
    background_s: Annotated[float, Field(gt=0, le=3600)] = Field(
        2.0, description="How fast the background learns, in s: a change that stays (a parked car, a person "
        "standing still) stops counting as motion after about this long."
    )
    lighting_area: Annotated[float, Field(gt=0, le=1)] = Field(
        0.8, description="When more than this fraction of the frame changes at once, it is taken for a change of "
        "light or a moved camera: the background restarts from that frame, which is gated."
    )
    analysis_width: Annotated[int, Field(ge=32, le=1280)] = Field(
        240, description="About how wide, in pixels, the grayscale copy that is compared is: the frame is shrunk by "
        "the whole factor closest to this (768 px wide: by 3, to 256). Smaller is cheaper and blind to smaller objects."
    )

    @property
    def level_threshold(self) -> float:
        return (1.0 - self.sensitivity) * 255.0


class Why(StrEnum):
    MOTION = "motion"
    KEEP_ALIVE = "keep_alive"
    START = "start"  # no background yet: first frame, new frame size, gate (re)configured
    OFF = "off"
    STILL = "still"
    LIGHTING = "lighting"


class Region(NamedTuple):
    """A changed region's box, normalized 0..1 (x1 <= x2, y1 <= y2), and its changed area (fraction of the frame)."""

    x1: float
    y1: float
    x2: float
    y2: float
    area: float


@dataclass(frozen=True, slots=True)
class MotionDecision:
    passed: bool
    why: Why
    regions: tuple[Region, ...] = ()  # largest first, at most MAX_REGIONS, only regions of at least minArea
    changed: float = 0.0  # fraction of the unmasked frame that changed (0 when nothing was compared)


class MotionGate:
    """One camera's gate; ``check`` each captured frame (BGR or gray) in capture order, from one thread."""

    def __init__(self, settings: MotionSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._settings = settings
        self._lock = threading.Lock()
        self._pending: MotionSettings | None = None  # applied by the next check, on the checking thread
        self._background: np.ndarray | None = None
        self._watched: np.ndarray | None = None  # True where motion counts, False under the masks
        self._watched_pixels = 0
        self._last_seen_at = 0.0
        self._last_passed_at = 0.0
        self._scale = (1.0, 1.0)  # from a pixel of the small copy to normalized frame coordinates

    @property
    def settings(self) -> MotionSettings:
        """The settings in force from the next frame on."""
        with self._lock:
            return self._pending if self._pending is not None else self._settings

    def reconfigure(self, settings: MotionSettings) -> None:
        """New settings apply from the next frame, which starts a new background. Safe from another thread:
        a check under way finishes with the settings it began with, and the next check takes the new ones
        (the background and the masked area are only ever changed by the checking thread)."""
        with self._lock:
            self._pending = settings

    def check(self, frame: np.ndarray) -> MotionDecision:
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            self._settings = pending
            self._background = None
        settings = self._settings
        now = self._clock()
        if not settings.enabled:
            return MotionDecision(True, Why.OFF)
        gray = self._small_gray(frame)
        background = self._background
        if background is None or background.shape != gray.shape:
            self._start(gray, now)
            return MotionDecision(True, Why.START)
        changed = cv2.absdiff(gray, background) > settings.level_threshold
        changed &= self._watched
        changed_pixels = int(np.count_nonzero(changed))
        fraction = changed_pixels / self._watched_pixels if self._watched_pixels else 0.0
        if fraction > settings.lighting_area:
            self._background = gray
            self._last_seen_at = now
            return self._without_motion(now, Why.LIGHTING, fraction)
        weight = 1.0 - math.exp(-max(now - self._last_seen_at, 0.0) / settings.background_s)
        cv2.accumulateWeighted(gray, background, weight)
        self._last_seen_at = now
        regions = _regions(changed, settings.min_area, self._scale) if changed_pixels else ()
        if regions:
            self._last_passed_at = now
            return MotionDecision(True, Why.MOTION, regions, fraction)
        return self._without_motion(now, Why.STILL, fraction)

    def _without_motion(self, now: float, why: Why, fraction: float) -> MotionDecision:
        keep_alive = self._settings.keep_alive_s
        if keep_alive is not None and now - self._last_passed_at >= keep_alive:
            self._last_passed_at = now
            return MotionDecision(True, Why.KEEP_ALIVE, changed=fraction)
        return MotionDecision(False, why, changed=fraction)

    def _start(self, gray: np.ndarray, now: float) -> None:
        self._background = gray
        self._watched = _watched_area(self._settings.masks, gray.shape, self._scale)
        self._watched_pixels = int(np.count_nonzero(self._watched))
        self._last_seen_at = self._last_passed_at = now

    def _small_gray(self, frame: np.ndarray) -> np.ndarray:
        """The frame grayscale, shrunk by a whole factor (OpenCV's fast path for area averaging, which also
        averages the sensor noise away) and blurred; the few rows and columns past a multiple of the
        factor are left out. Gray first: averaging one channel instead of three is the cheaper order
        (at 768x576, 0.8 instead of 1.3 ms); both are linear, so the result is the same up to rounding."""
        height, width = frame.shape[:2]
        factor = max(1, round(width / self._settings.analysis_width))
        small_width, small_height = max(1, width // factor), max(1, height // factor)
        cropped = frame[: small_height * factor, : small_width * factor]
        if cropped.ndim == 3:
            cropped = cv2.cvtColor(cropped, cv2.COLOR_BGR2GRAY)
        small = cv2.resize(cropped, (small_width, small_height), interpolation=cv2.INTER_AREA)
        self._scale = (factor / width, factor / height)
        return cv2.GaussianBlur(small, _BLUR, 0).astype(np.float32)


def region_rows(regions: tuple[Region, ...]) -> list[MotionRegion]:
    """The regions as a frame reference carries them: [x1, y1, x2, y2] to 3 decimals (under a pixel of the
    compared copy, and a short message), rounded outwards so each row still covers its region."""
    return [(math.floor(r.x1 * _ROW_SCALE) / _ROW_SCALE, math.floor(r.y1 * _ROW_SCALE) / _ROW_SCALE,
             min(1.0, math.ceil(r.x2 * _ROW_SCALE) / _ROW_SCALE), min(1.0, math.ceil(r.y2 * _ROW_SCALE) / _ROW_SCALE))
            for r in regions]


def _watched_area(
    masks: tuple[tuple[Point, ...], ...], shape: tuple[int, ...], scale: tuple[float, float]
) -> np.ndarray:
    watched = np.full(shape[:2], 255, np.uint8)
    for polygon in masks:
        corners = np.array([[round(x / scale[0]), round(y / scale[1])] for x, y in polygon], np.int32)
        cv2.fillPoly(watched, [corners], 0)
    return watched.astype(bool)


def _regions(changed: np.ndarray, min_area: float, scale: tuple[float, float]) -> tuple[Region, ...]:
    """Boxes of the changed regions holding at least ``min_area`` of the frame, largest first."""
    height, width = changed.shape
    merged = cv2.dilate(changed.astype(np.uint8), _MERGE, iterations=_MERGE_ITERATIONS)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(merged, connectivity=8)
    # Count the changed pixels of each region, not the dilated ones: dilation must not make noise large.
    per_label = np.bincount(labels[changed], minlength=count)
    found = []
    for label in range(1, count):
        area = int(per_label[label]) / changed.size
        if area < min_area:
            continue
        left, top, box_width, box_height = (int(v) for v in stats[label, :4])
        right, bottom = left + box_width, top + box_height
        # The dilation grew each region by _MERGE_ITERATIONS pixels on every side the frame's edge allowed.
        left, top = _inward(left, 0), _inward(top, 0)
        right, bottom = _inward(right, width), _inward(bottom, height)
        found.append(Region(left * scale[0], top * scale[1], min(right * scale[0], 1.0), min(bottom * scale[1], 1.0),
                            area))
    found.sort(key=lambda region: region.area, reverse=True)
    return tuple(found[:MAX_REGIONS])


def _inward(edge: int, frame_edge: int) -> int:
    if edge == frame_edge:
        return edge
    return edge + _MERGE_ITERATIONS if frame_edge == 0 else edge - _MERGE_ITERATIONS
