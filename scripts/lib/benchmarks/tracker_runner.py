"""Runs a tracking library over a scene of ``benchmarks.tracking_scenes``, inside that library's own venv.

    <venv>/bin/python scripts/lib/benchmarks/tracker_runner.py --library supervision \\
        --scene scene.npz --settings '{...}' --passes 3 --out reported.npz
    <venv>/bin/python scripts/lib/benchmarks/tracker_runner.py --describe supervision   # what is installed

``benchmarks.tracking`` writes the scene (``SCENE_KEYS``: frame times and the detections of every
frame, normalized boxes) and reads back, per pass, the milliseconds of every frame's update call
(wall and process CPU time) and, of the first pass, the (track id, box) pairs the library reported in
each frame. Only NumPy and the standard library are used here: the script runs in venvs that have
neither pydantic nor this repository on their path.

Each library gets our tracker's settings (``TrackingSettings``) mapped to its own parameters as
closely as it has them, boxes in pixels of a 768 x 576 frame (what these libraries are tuned for),
and, like our tracker, reports only the tracks it matched to a detection in that frame, with the
detected box. Building the library's input objects and reading its output is not timed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import numpy as np

FRAME_SIZE = (768.0, 576.0)  # vtest.avi's: boxes are given to the libraries in pixels of this frame
SCENE_KEYS = ("at", "det_frame", "det_box", "det_score")
# Installed with every venv; not part of what a library adds.
VENV_OWN = {"pip", "setuptools", "wheel"}


class Adapter(Protocol):
    def prepare(self, boxes: np.ndarray, scores: np.ndarray) -> Any:
        """The library's input for one frame (pixel boxes, scores); not timed."""

    def update(self, at: float, prepared: Any) -> Any:
        """One frame through the library: the timed part."""

    def reported(self, prepared: Any, result: Any) -> list[tuple[int, np.ndarray]]:
        """(track id, pixel box) of the tracks matched to a detection in this frame; not timed."""


class SupervisionByteTrack:
    """``supervision.ByteTrack`` (0.30: deprecated, removed in 0.31.0 in favour of ``trackers``)."""

    def __init__(self, settings: dict[str, Any]) -> None:
        with warnings.catch_warnings():
            # that OpenCV is missing (its annotators' concern, not ByteTrack's), and ByteTrack's deprecation
            warnings.simplefilter("ignore")
            import supervision as sv

            self._sv = sv
            self._tracker = sv.ByteTrack(
                # high-score detections from here; a new track needs 0.1 more: our highScore and newTrackScore
                track_activation_threshold=settings["high_score"],
                lost_track_buffer=round(settings["end_after_s"] * 30),  # frames at 30 fps, scaled by frame_rate
                minimum_matching_threshold=1 - settings["match_iou"],  # a cost: 1 - IoU x score
                frame_rate=settings["fps"],
                minimum_consecutive_frames=settings["confirm_hits"],
            )

    def prepare(self, boxes: np.ndarray, scores: np.ndarray) -> Any:
        return self._sv.Detections(xyxy=boxes.astype(np.float32), confidence=scores.astype(np.float32),
                                   class_id=np.zeros(len(boxes), dtype=int))

    def update(self, at: float, prepared: Any) -> Any:
        return self._tracker.update_with_detections(prepared)

    def reported(self, prepared: Any, result: Any) -> list[tuple[int, np.ndarray]]:
        return [(int(track_id), box) for track_id, box in zip(result.tracker_id, result.xyxy, strict=True)]


class TrackersByteTrack:
    """``trackers.ByteTrackTracker``, Roboflow's maintained successor of ``supervision.ByteTrack``."""

    def __init__(self, settings: dict[str, Any]) -> None:
        import supervision as sv
        from trackers import ByteTrackTracker

        self._sv = sv
        self._tracker = ByteTrackTracker(
            lost_track_buffer=round(settings["end_after_s"] * 30),  # frames at 30 fps
            frame_rate=settings["fps"],
            track_activation_threshold=settings["new_track_score"],
            minimum_consecutive_frames=settings["confirm_hits"],
            minimum_iou_threshold=settings["match_iou"],  # one IoU for both rounds
            high_conf_det_threshold=settings["high_score"],
        )

    def prepare(self, boxes: np.ndarray, scores: np.ndarray) -> Any:
        keep = scores >= 0.1  # like our lowScore: the faintest boxes are not offered at all
        return self._sv.Detections(xyxy=boxes[keep].astype(np.float32), confidence=scores[keep].astype(np.float32),
                                   class_id=np.zeros(int(keep.sum()), dtype=int))

    def update(self, at: float, prepared: Any) -> Any:
        return self._tracker.update(prepared, timestamp=at)

    def reported(self, prepared: Any, result: Any) -> list[tuple[int, np.ndarray]]:
        return [(int(track_id), box) for track_id, box in zip(result.tracker_id, result.xyxy, strict=True)
                if track_id != -1]


class Norfair:
    """``norfair.Tracker`` with its IoU distance. It has one association round and no score split: it is
    given the high-score detections only (those our tracker matches first)."""

    def __init__(self, settings: dict[str, Any]) -> None:
        import norfair

        self._norfair = norfair
        self._high_score = settings["high_score"]
        frames_unseen = round(settings["end_after_s"] * settings["fps"])
        self._tracker = norfair.Tracker(
            distance_function="iou",  # 1 - IoU
            distance_threshold=1 - settings["match_iou"],
            hit_counter_max=frames_unseen,  # a track seen long enough survives this many frames unseen
            initialization_delay=settings["confirm_hits"] - 1,  # reported from the confirmHits-th detection
        )

    def prepare(self, boxes: np.ndarray, scores: np.ndarray) -> Any:
        keep = scores >= self._high_score
        return [self._norfair.Detection(points=box.reshape(2, 2), scores=np.array([score, score]))
                for box, score in zip(boxes[keep], scores[keep], strict=True)]

    def update(self, at: float, prepared: Any) -> Any:
        return self._tracker.update(detections=prepared)

    def reported(self, prepared: Any, result: Any) -> list[tuple[int, np.ndarray]]:
        this_frame = {id(detection) for detection in prepared}
        return [(int(obj.id), obj.last_detection.points.reshape(4)) for obj in result
                if id(obj.last_detection) in this_frame]


ADAPTERS: dict[str, Callable[[dict[str, Any]], Adapter]] = {
    "supervision": SupervisionByteTrack, "trackers": TrackersByteTrack, "norfair": Norfair,
}
TRACKER_NAMES = {"supervision": "ByteTrack", "trackers": "ByteTrackTracker", "norfair": "Tracker (IoU)"}


def read_scene(path: Path) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Frame times and, per frame, (normalized boxes (N, 4), scores (N,))."""
    with np.load(path, allow_pickle=False) as data:
        at, frame_of, boxes, scores = (data[key] for key in SCENE_KEYS)
    frames = [(boxes[frame_of == index], scores[frame_of == index]) for index in range(len(at))]
    return at, frames


def write_scene(path: Path, at: list[float], frames: list[list[tuple[float, Sequence[float]]]]) -> None:
    """``frames``: per frame, the (score, normalized box) of each detection."""
    frame_of = [index for index, found in enumerate(frames) for _ in found]
    boxes = [box for found in frames for _, box in found]
    scores = [score for found in frames for score, _ in found]
    np.savez(path, at=np.asarray(at, dtype=float), det_frame=np.asarray(frame_of, dtype=int),
             det_box=np.asarray(boxes, dtype=float).reshape(-1, 4), det_score=np.asarray(scores, dtype=float))


def run(make: Callable[[], Adapter], at: np.ndarray, frames: list[tuple[np.ndarray, np.ndarray]], passes: int
        ) -> tuple[np.ndarray, np.ndarray, list[list[tuple[int, np.ndarray]]]]:
    """Every frame through a new tracker ``passes`` times: wall and CPU milliseconds per pass and frame,
    and what the first pass reported (pixel boxes)."""
    scale = np.array(FRAME_SIZE * 2)
    wall = np.zeros((passes, len(at)))
    cpu = np.zeros((passes, len(at)))
    reported: list[list[tuple[int, np.ndarray]]] = []
    for run_index in range(passes):
        adapter = make()
        prepared = [adapter.prepare(boxes * scale, scores) for boxes, scores in frames]
        for index, (when, given) in enumerate(zip(at.tolist(), prepared, strict=True)):
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            result = adapter.update(when, given)
            wall[run_index, index] = (time.perf_counter() - wall_start) * 1000
            cpu[run_index, index] = (time.process_time() - cpu_start) * 1000
            if run_index == 0:
                reported.append(adapter.reported(given, result))
    return wall, cpu, reported


def write_reported(path: Path, wall: np.ndarray, cpu: np.ndarray, reported: list[list[tuple[int, np.ndarray]]]
                   ) -> None:
    scale = np.array(FRAME_SIZE * 2)
    frame_of = [index for index, pairs in enumerate(reported) for _ in pairs]
    ids = [track_id for pairs in reported for track_id, _ in pairs]
    boxes = [np.asarray(box, dtype=float) / scale for pairs in reported for _, box in pairs]
    np.savez(path, wall_ms=wall, cpu_ms=cpu, frames=np.asarray(len(reported)),
             out_frame=np.asarray(frame_of, dtype=int), out_id=np.asarray(ids, dtype=int),
             out_box=np.asarray(boxes, dtype=float).reshape(-1, 4))


def read_reported(path: Path) -> tuple[np.ndarray, np.ndarray, list[list[tuple[int, tuple[float, ...]]]]]:
    """What :func:`write_reported` wrote: wall and CPU ms (passes, frames), and per frame (track id, normalized box)."""
    with np.load(path, allow_pickle=False) as data:
        wall, cpu, frames = data["wall_ms"], data["cpu_ms"], int(data["frames"])
        frame_of, ids, boxes = data["out_frame"], data["out_id"], data["out_box"]
    reported: list[list[tuple[int, tuple[float, ...]]]] = [[] for _ in range(frames)]
    for index, track_id, box in zip(frame_of.tolist(), ids.tolist(), boxes.tolist(), strict=True):
        reported[index].append((track_id, tuple(box)))
    return wall, cpu, reported


def describe(library: str) -> dict[str, Any]:
    """The library's version and every distribution of this venv (but pip's own): its version, installed
    bytes and requirements (as written, markers included)."""
    distributions = {}
    for distribution in metadata.distributions():
        name = distribution.metadata["Name"]
        if name.lower() in VENV_OWN:
            continue
        size = 0
        for file in distribution.files or []:
            located = Path(str(file.locate()))
            if located.is_file():
                size += located.stat().st_size
        distributions[name] = {"version": distribution.version, "bytes": size, "requires": distribution.requires or []}
    return {"library": library, "version": metadata.version(library), "python": sys.version.split()[0],
            "distributions": distributions}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--library", choices=sorted(ADAPTERS))
    parser.add_argument("--describe", metavar="DISTRIBUTION", help="print what this venv holds around it, as JSON")
    parser.add_argument("--scene", type=Path)
    parser.add_argument("--settings", help="our TrackingSettings (snake_case) plus fps, as JSON")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.describe:
        print(json.dumps(describe(args.describe)))
        return 0
    if not (args.library and args.scene and args.settings and args.out):
        parser.error("--library, --scene, --settings and --out are needed (or --describe)")
    settings = json.loads(args.settings)
    at, frames = read_scene(args.scene)
    wall, cpu, reported = run(lambda: ADAPTERS[args.library](settings), at, frames, args.passes)
    write_reported(args.out, wall, cpu, reported)
    return 0


if __name__ == "__main__":
    sys.exit(main())
