"""Snapshots: each event's best frame, copied out of the frame ring before the ring reuses it.

``<root>/<event id>/<frame id>.full.jpg`` is the ring's JPEG as the camera encoded it;
``<frame id>.crop.jpg`` is the object's box and a margin around it, encoded here (OpenCV, already
every device's JPEG codec). Folders are 0750 and files 0640, each written whole or not at all. A
better snapshot of the same event is written beside the one it replaces, which is then deleted: a
file's content never changes, so a message naming it names exactly that picture (a message already
sent for the old one finds it gone, and the next message names the new one).
Bounded by count and bytes: the oldest go first, those of events the writer has receipted before
those it has not (which are counted apart: their events name files that are gone).
"""

from __future__ import annotations

import logging
import math
import os
import stat
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from event_tracker.ring import frame_jpeg
from event_tracker.settings import SnapshotSettings
from event_tracker.tracker import Box, Snapshot
from smartcam.contracts import Box as ContractBox
from smartcam.contracts import FrameRef, SnapshotRef
from smartcam.frames import ensure_private_dir, write_private_file

log = logging.getLogger(__name__)

FULL = "full.jpg"
CROP = "crop.jpg"
_TEMPORARY = ".tmp-"
MEGABYTE = 1024 * 1024


class SnapshotError(Exception):
    """The frame could not be made into a snapshot (not a decodable JPEG); ``str()`` says why."""


@dataclass(frozen=True)
class Pruned:
    receipted: int = 0  # snapshots of events the writer had receipted
    unsent: int = 0  # ... of events still waiting for the writer: it will not find them


class Snapshots:
    """The snapshots in ``root``, oldest first. Not thread-safe: one caller (the app, under its lock)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        ensure_private_dir(self.root)
        self._kept: OrderedDict[str, int] = OrderedDict()  # event id -> bytes, oldest first
        self._bytes = 0
        self._adopt_existing()

    def __len__(self) -> int:
        return len(self._kept)

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._kept

    @property
    def total_bytes(self) -> int:
        return self._bytes

    def copy(self, event_id: str, frame: FrameRef, frame_root: Path, snapshot: Snapshot,
             settings: SnapshotSettings) -> SnapshotRef:
        """Copy ``snapshot`` of ``frame`` out of the ring. Raises what :func:`event_tracker.ring.frame_jpeg`
        raises (FrameExpired: the ring recycled it), SnapshotError, or OSError."""
        jpeg = frame_jpeg(frame, frame_root)
        crop_jpeg = crop(jpeg, snapshot.box, settings.crop_margin, settings.jpeg_quality)
        folder = self.root / event_id
        ensure_private_dir(folder)  # refuses a symlink or someone else's folder there
        full_path, crop_path = folder / f"{frame.frame_id}.{FULL}", folder / f"{frame.frame_id}.{CROP}"
        write_private_file(full_path, jpeg)
        write_private_file(crop_path, crop_jpeg)
        for replaced in folder.iterdir():
            if replaced.name not in (full_path.name, crop_path.name):
                replaced.unlink(missing_ok=True)
        size = len(jpeg) + len(crop_jpeg)
        self._bytes += size - self._kept.pop(event_id, 0)
        self._kept[event_id] = size
        x1, y1, x2, y2 = snapshot.box
        return SnapshotRef(frame_id=frame.frame_id, captured_at=snapshot.at, score=snapshot.score,
                           box=ContractBox(x1=x1, y1=y1, x2=x2, y2=y2), path=str(full_path),
                           crop_path=str(crop_path), bytes=size)

    def prune(self, settings: SnapshotSettings, waiting: Callable[[str], bool]) -> Pruned:
        """Delete the oldest snapshots until within ``settings``' bounds: first those whose events are
        not ``waiting`` for the writer's receipt, then the others; never the newest one."""
        max_bytes = settings.max_mb * MEGABYTE
        receipted = unsent = 0
        for take_waiting in (False, True):
            for event_id in list(self._kept)[:-1]:
                if len(self._kept) <= settings.max_count and self._bytes <= max_bytes:
                    return Pruned(receipted, unsent)
                if waiting(event_id) != take_waiting:
                    continue
                self.remove(event_id)
                if take_waiting:
                    unsent += 1
                else:
                    receipted += 1
        return Pruned(receipted, unsent)

    def remove(self, event_id: str) -> None:
        self._bytes -= self._kept.pop(event_id, 0)
        _remove_folder(self.root / event_id)

    def _adopt_existing(self) -> None:
        """What an earlier run left, oldest first; half-written or foreign entries are removed."""
        found: list[tuple[float, str, int]] = []
        for child in self.root.iterdir():
            info = os.lstat(child)
            if not stat.S_ISDIR(info.st_mode):
                log.warning("snapshots: %s is not a snapshot folder; removed", child)
                child.unlink(missing_ok=True)
                continue
            sizes = _snapshot_files(child)
            if sizes is None:
                _remove_folder(child)
                continue
            found.append((max(mtime for mtime, _ in sizes), child.name, sum(size for _, size in sizes)))
        for _, event_id, size in sorted(found):
            self._kept[event_id] = size
            self._bytes += size


def crop(jpeg: bytes, box: Box, margin: float, quality: int) -> bytes:
    """The JPEG of ``box`` (normalized corners) and ``margin`` (fraction of the box's size, each side)."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise SnapshotError("the frame is not a JPEG image that can be decoded")
    height, width = image.shape[:2]
    x1, y1, x2, y2 = box
    grow_x, grow_y = margin * (x2 - x1), margin * (y2 - y1)
    left = min(max(math.floor((x1 - grow_x) * width), 0), width - 1)
    top = min(max(math.floor((y1 - grow_y) * height), 0), height - 1)
    right = max(min(math.ceil((x2 + grow_x) * width), width), left + 1)
    bottom = max(min(math.ceil((y2 + grow_y) * height), height), top + 1)
    encoded, data = cv2.imencode(".jpg", image[top:bottom, left:right], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not encoded:
        raise SnapshotError("the crop could not be encoded as JPEG")
    return data.tobytes()


def _snapshot_files(folder: Path) -> list[tuple[float, int]] | None:
    """(mtime, size) of the folder's newest whole snapshot (both files), None when there is none.
    Anything else in the folder (a write a crash interrupted, a snapshot being replaced) is deleted."""
    whole: list[tuple[float, str, list[tuple[float, int]]]] = []
    for full in folder.glob(f"*.{FULL}"):
        frame_id = full.name.removesuffix(f".{FULL}")
        try:
            infos = [os.lstat(full), os.lstat(folder / f"{frame_id}.{CROP}")]
        except FileNotFoundError:
            continue
        if all(stat.S_ISREG(info.st_mode) for info in infos):
            whole.append((max(info.st_mtime for info in infos), frame_id,
                           [(info.st_mtime, info.st_size) for info in infos]))
    kept = max(whole)[1] if whole else None
    for child in folder.iterdir():
        if kept is None or child.name not in (f"{kept}.{FULL}", f"{kept}.{CROP}"):
            child.unlink(missing_ok=True)
    return max(whole)[2] if whole else None


def _remove_folder(folder: Path) -> None:
    """Remove a snapshot folder and what is in it (never following a symlink)."""
    try:
        for child in folder.iterdir():
            child.unlink(missing_ok=True)
        folder.rmdir()
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("snapshots: could not remove %s: %s", folder, exc)
