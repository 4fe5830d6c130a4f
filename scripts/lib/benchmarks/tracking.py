#!/usr/bin/env python3
"""Benchmark of smartcam.EventTracker's tracking, against the tracking libraries that could replace it.

    .venv/bin/python scripts/bench.py tracking [--people 5,10,20,40] [--seconds 60] [--fps 10] [--passes 3]
                                               [--libraries supervision,trackers,norfair]
                                               [--out docs/bench/tracking.json] [--plot docs/bench/tracking.png]

Scenes: seeded synthetic crowds of ``benchmarks.tracking_scenes`` (about N people in view, walking
through, hiding each other, a detector that misses and invents boxes), 60 s at 10 fps each. Measured
per frame, wall time (median, p90, max) and process CPU time of:

- ``tracker``: our ``event_tracker.tracker.Tracker.update`` alone;
- ``camera``: the whole per-camera path, ``CameraTracks.on_frame`` (tracker, two zones and a line,
  the TrackEvent messages), from a ``Detections`` message to the messages to publish (the snapshot
  copy, file I/O, is left out);
- each library, in a venv of its own under ``.local-greengrass/bench/trackers/`` that this benchmark
  builds from the pinned files in ``tracking_libraries/`` (the product's venvs gain nothing), fed the
  same scenes through ``tracker_runner.py``, with our settings mapped to its parameters.

Every tracker runs each scene ``--passes`` times, a new tracker each time; a frame's time is the least
of its passes. Quality (identity switches, fragmentation, recall, precision) comes from
``tracking_scenes.score``. For each library: how many packages and megabytes it installs, which of
them the device venv (components/Runtime/requirements.txt) lacks, and which it pins otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess  # nosec B404
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from packaging.requirements import Requirement

from benchmarks import tracker_runner
from benchmarks.plots import save_figure
from benchmarks.results import (
    FrameTimes,
    LibraryInstall,
    Machine,
    TrackerMeasured,
    TrackerOnScene,
    TrackingQuality,
    TrackingResult,
    TrackingTarget,
)
from benchmarks.tracking_scenes import SceneFrame, crowd, score
from event_tracker.camera_tracks import CameraTracks, FrameResult
from event_tracker.settings import EventTrackerConfig, TrackingSettings
from event_tracker.tracker import Box, Observation, Step, Tracker
from repo_layout import BENCH_RESULTS_DIR, REPO_ROOT
from smartcam.contracts import Box as ContractBox
from smartcam.contracts import Detection, Detections, FrameRef, ModelInfo, StageLatency

PEOPLE = (5, 10, 20, 40)
TARGET_PEOPLE, TARGET_MS = 20, 1.0
LIBRARIES = ("supervision", "trackers", "norfair")
PINNED = Path(__file__).resolve().parent / "tracking_libraries"
VENVS = REPO_ROOT / ".local-greengrass" / "bench" / "trackers"
DEVICE_REQUIREMENTS = REPO_ROOT / "components" / "Runtime" / "requirements.txt"
CAMERA = "cam0"
T0 = 1_764_900_000.0  # capture times of the per-camera path: scene time from a December 2025 morning
# The per-camera path's zones and line: a doorway at the lower left, a counter at the right, an aisle.
ZONES = {
    "zones": [{"name": "door", "polygon": [[0.0, 0.5], [0.3, 0.5], [0.3, 1.0], [0.0, 1.0]]},
              {"name": "counter", "polygon": [[0.6, 0.2], [1.0, 0.2], [1.0, 0.7], [0.6, 0.7]]}],
    "lines": [{"name": "aisle", "points": [[0.5, 0.0], [0.5, 1.0]]}],
}

Reported = list[list[tuple[int, Box]]]  # per frame: (track id, box)
R = TypeVar("R")


@dataclass(frozen=True)
class Scene:
    people: int
    seed: int
    frames: list[SceneFrame]

    @property
    def detections(self) -> int:
        return sum(len(frame.detections) for frame in self.frames)


def make_scene(people: int, seconds: float, fps: float) -> Scene:
    seed = 100 + people  # fixed: the same crowd every run
    return Scene(people, seed, crowd(people, seconds=seconds, fps=fps, seed=seed))


# our code ---------------------------------------------------------------------------------------------
def measure_tracker(scene: Scene, settings: TrackingSettings, passes: int) -> tuple[np.ndarray, np.ndarray, Reported]:
    """Tracker.update per frame: wall and CPU ms (passes, frames), and the first pass's tracks seen."""
    given = [(frame.at, [Observation(*d) for d in frame.detections]) for frame in scene.frames]

    def start() -> Callable[[int], Step]:
        tracker = Tracker(settings)
        return lambda index: tracker.update(*given[index])

    wall, cpu, steps = _timed(len(given), passes, start)
    return wall, cpu, [[(track.id, track.box) for track in step.seen] for step in steps]


def detections_messages(scene: Scene) -> list[Detections]:
    model = ModelInfo(name="bench-ssd", version="1", backend="dlr")
    latency = StageLatency(read_ms=1, preprocess_ms=1, infer_ms=20, postprocess_ms=1)
    messages = []
    for index, frame in enumerate(scene.frames):
        ref = FrameRef(frame_id=f"f{index:06d}", camera_id=CAMERA, slot=0,
                       sequence=index, captured_at=T0 + frame.at, captured_monotonic_ns=round(frame.at * 1e9) + 1,
                       width=768, height=576, format="bgr8")
        found = [Detection(label=label, class_id=1, score=score, box=ContractBox(x1=x1, y1=y1, x2=x2, y2=y2))
                 for label, score, (x1, y1, x2, y2) in frame.detections]
        messages.append(Detections(frame=ref, detections=found, model=model, latency=latency,
                                   inferred_at=T0 + frame.at + 0.03))
    return messages


def measure_camera(scene: Scene, config: EventTrackerConfig, passes: int) -> tuple[np.ndarray, np.ndarray, int]:
    """CameraTracks.on_frame per frame: wall and CPU ms (passes, frames), and the messages of a pass."""
    given = detections_messages(scene)

    def start() -> Callable[[int], FrameResult]:
        camera = CameraTracks(CAMERA, config, lambda frame, snapshot: None, lambda event_id, held: None)
        return lambda index: camera.on_frame(given[index], config, received=scene.frames[index].at,
                                             sent_at=T0 + scene.frames[index].at + 0.05)

    wall, cpu, results = _timed(len(given), passes, start)
    return wall, cpu, sum(len(result.messages) for result in results)


def _timed(frames: int, passes: int, start: Callable[[], Callable[[int], R]]) -> tuple[np.ndarray, np.ndarray, list[R]]:
    """Wall and process CPU ms (passes, frames) of each call of ``start()`` (a new tracker per pass) for
    every frame index, and what the first pass's calls returned."""
    wall = np.zeros((passes, frames))
    cpu = np.zeros((passes, frames))
    first: list[R] = []
    for run in range(passes):
        frame = start()
        for index in range(frames):
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            result = frame(index)
            wall[run, index] = (time.perf_counter() - wall_start) * 1000
            cpu[run, index] = (time.process_time() - cpu_start) * 1000
            if run == 0:
                first.append(result)
    return wall, cpu, first


# libraries ----------------------------------------------------------------------------------------------
def library_venv(library: str, root: Path = VENVS) -> Path:
    """The library's bench-only venv, built (again) when its pinned file changed; its python."""
    requirements = PINNED / f"{library}.txt"
    venv = root / library
    stamp = venv / "bench-stamp.json"
    wanted = {"requirements_sha256": hashlib.sha256(requirements.read_bytes()).hexdigest(),
              "python": sys.version.split()[0]}
    python = venv / "bin" / "python"
    if stamp.is_file() and json.loads(stamp.read_text()) == wanted and python.is_file():
        return python
    print(f"building {venv} from {requirements.relative_to(REPO_ROOT)}", flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-r", str(requirements)], check=True)
    stamp.write_text(json.dumps(wanted))
    return python


def measure_library(python: Path, library: str, *, scene_file: Path, settings: dict[str, float | int | bool],
                    passes: int, work: Path) -> tuple[np.ndarray, np.ndarray, Reported]:
    out = work / f"{library}-{scene_file.stem}-out.npz"
    subprocess.run([str(python), "-I", tracker_runner.__file__, "--library", library, "--scene", str(scene_file),
                    "--settings", json.dumps(settings), "--passes", str(passes), "--out", str(out)], check=True)
    wall, cpu, reported = tracker_runner.read_reported(out)
    return wall, cpu, [[(track_id, (box[0], box[1], box[2], box[3])) for track_id, box in frame]
                       for frame in reported]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def device_pins(path: Path = DEVICE_REQUIREMENTS) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", line)
        if match:
            pins[_canonical(match[1])] = match[2]
    return pins


def device_conflicts(installed: dict[str, dict[str, Any]], device: dict[str, str]) -> list[str]:
    """The requirements of the venv's distributions that the device venv's pins do not satisfy: installing
    the library on a device would replace what its components run on."""
    conflicts = []
    for name, distribution in sorted(installed.items()):
        for text in distribution["requires"]:
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue
            pinned = device.get(_canonical(requirement.name))
            if pinned is not None and not requirement.specifier.contains(pinned, prereleases=True):
                conflicts.append(f"{name} {distribution['version']} requires {requirement.name}"
                                 f"{requirement.specifier}; the device pins {pinned}")
    return conflicts


def library_install(python: Path, library: str, device: dict[str, str]) -> tuple[LibraryInstall, str]:
    """What the library's venv holds against the device venv; and the library's version."""
    described = json.loads(subprocess.run([str(python), "-I", tracker_runner.__file__, "--describe", library],
                                          check=True, capture_output=True, text=True).stdout)
    installed: dict[str, dict[str, Any]] = described["distributions"]
    new = {name: d for name, d in installed.items() if _canonical(name) not in device}
    mb = 1024 * 1024
    return LibraryInstall(
        requirements=str((PINNED / f"{library}.txt").relative_to(REPO_ROOT)),
        packages=len(installed),
        megabytes=round(sum(int(d["bytes"]) for d in installed.values()) / mb, 1),
        new_packages=sorted(f"{name}=={d['version']}" for name, d in new.items()),
        new_megabytes=round(sum(int(d["bytes"]) for d in new.values()) / mb, 1),
        conflicts=device_conflicts(installed, device),
    ), str(described["version"])


# results ------------------------------------------------------------------------------------------------
def frame_times(wall: np.ndarray, cpu: np.ndarray) -> FrameTimes:
    fastest = wall.min(axis=0)
    return FrameTimes(median_ms=round(float(np.median(fastest)), 4), p90_ms=round(float(np.percentile(fastest, 90)), 4),
                      max_ms=round(float(fastest.max()), 3),
                      cpu_ms_per_frame=round(float(cpu.sum(axis=1).min()) / wall.shape[1], 4))


def quality(scene: Scene, reported: Reported) -> TrackingQuality:
    result = score(scene.frames, reported)
    return TrackingQuality(people=result.people, track_ids=result.track_ids, id_switches=result.id_switches,
                           fragmentation=result.fragmentation, recall=round(result.recall, 4),
                           precision=round(result.precision, 4))


def on_scene(scene: Scene, wall: np.ndarray, cpu: np.ndarray, reported: Reported | None,
             messages: int | None = None) -> TrackerOnScene:
    return TrackerOnScene(people=scene.people, seed=scene.seed, frames=len(scene.frames), detections=scene.detections,
                          times=frame_times(wall, cpu), quality=None if reported is None else quality(scene, reported),
                          messages=messages)


def library_configuration(library: str) -> str:
    doc = (tracker_runner.ADAPTERS[library].__doc__ or "").strip()
    return " ".join(doc.split())


def measure_ours(scenes: Sequence[Scene], settings: TrackingSettings, passes: int) -> dict[str, TrackerMeasured]:
    config = EventTrackerConfig.model_validate({"tracking": settings.model_dump(by_alias=True),
                                                "cameras": {CAMERA: ZONES}})
    tracker_runs, camera_runs = [], []
    for scene in scenes:
        wall, cpu, reported = measure_tracker(scene, settings, passes)
        tracker_runs.append(on_scene(scene, wall, cpu, reported))
        wall, cpu, messages = measure_camera(scene, config, passes)
        camera_runs.append(on_scene(scene, wall, cpu, None, messages))
        print(f"{scene.people:>3} people: tracker {tracker_runs[-1].times.median_ms:.3f} ms, "
              f"camera {camera_runs[-1].times.median_ms:.3f} ms", flush=True)
    configuration = "TrackingSettings " + json.dumps(settings.model_dump(by_alias=True))
    return {
        "tracker": TrackerMeasured(label="ours: Tracker", what="event_tracker.tracker.Tracker.update", package=None,
                                   configuration=configuration, scenes=tracker_runs),
        "camera": TrackerMeasured(label="ours: CameraTracks (+ zones, line, events)",
                                  what="event_tracker.camera_tracks.CameraTracks.on_frame (tracker, 2 zones, "
                                       "1 line, TrackEvent messages; no snapshot copy)",
                                  package=None, configuration=configuration, scenes=camera_runs),
    }


def measure_libraries(scenes: Sequence[Scene], libraries: Sequence[str], settings: TrackingSettings, fps: float,
                      passes: int) -> tuple[dict[str, TrackerMeasured], dict[str, LibraryInstall]]:
    measured, installs = {}, {}
    mapped = {**settings.model_dump(mode="json"), "fps": fps}
    device = device_pins()
    VENVS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="scenes-", dir=VENVS) as tmp:
        work = Path(tmp)
        files = []
        for scene in scenes:
            path = work / f"crowd-{scene.people}.npz"
            tracker_runner.write_scene(path, [f.at for f in scene.frames],
                                       [[(d.score, d.box) for d in f.detections] for f in scene.frames])
            files.append(path)
        for library in libraries:
            python = library_venv(library)
            installs[library], version = library_install(python, library, device)
            runs = []
            for scene, path in zip(scenes, files, strict=True):
                wall, cpu, reported = measure_library(python, library, scene_file=path, settings=mapped,
                                                      passes=passes, work=work)
                runs.append(on_scene(scene, wall, cpu, reported))
                print(f"{scene.people:>3} people: {library} {runs[-1].times.median_ms:.3f} ms", flush=True)
            measured[library] = TrackerMeasured(
                label=f"{library} {version} {tracker_runner.TRACKER_NAMES[library]}",
                what=library_configuration(library), package=f"{library}=={version}",
                configuration="our settings mapped to its parameters: benchmarks/tracker_runner.py", scenes=runs)
    return measured, installs


def benchmark(people: Sequence[int], seconds: float, fps: float, passes: int, libraries: Sequence[str]
              ) -> TrackingResult:
    settings = TrackingSettings()
    scenes = [make_scene(count, seconds, fps) for count in people]
    trackers = measure_ours(scenes, settings, passes)
    measured, installs = measure_libraries(scenes, libraries, settings, fps, passes)
    trackers.update(measured)
    at_target = trackers["tracker"].on(TARGET_PEOPLE)
    nan = float("nan")
    times = at_target.times if at_target else FrameTimes(median_ms=nan, p90_ms=nan, max_ms=nan, cpu_ms_per_frame=nan)
    return TrackingResult(
        command=".venv/bin/python scripts/bench.py tracking",
        when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        machine=Machine.here(),
        scenes="benchmarks.tracking_scenes.crowd(people, seconds, fps, seed=100 + people)",
        seconds=seconds,
        fps=fps,
        passes=passes,
        trackers=trackers,
        libraries=installs,
        target=TrackingTarget(people=TARGET_PEOPLE, median_ms=TARGET_MS, measured_median_ms=times.median_ms,
                              measured_p90_ms=times.p90_ms, met=times.median_ms <= TARGET_MS),
    )


def plot(report: TrackingResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (speed, switches) = plt.subplots(1, 2, figsize=(12, 4.6))
    for measured, color in zip(report.trackers.values(), plt.rcParams["axes.prop_cycle"].by_key()["color"],
                                       strict=False):
        x = [scene.people for scene in measured.scenes]
        label = measured.label
        speed.plot(x, [s.times.median_ms for s in measured.scenes], "o-", color=color, label=f"{label} (median)")
        speed.plot(x, [s.times.p90_ms for s in measured.scenes], ":", color=color, alpha=0.7)
        scored = [s.quality for s in measured.scenes if s.quality]
        if len(scored) == len(x):
            switches.plot(x, [q.id_switches for q in scored], "o-", color=color, label=label)
            switches.plot(x, [q.fragmentation for q in scored], "s--", color=color, alpha=0.5)
    target = report.target
    speed.axhline(target.median_ms, color="gray", linestyle="--", linewidth=1)
    speed.text(0.99, target.median_ms, f"target: our tracker ≤ {target.median_ms:g} ms at {target.people} objects ",
               transform=speed.get_yaxis_transform(), ha="right", va="top", fontsize=8, color="dimgray",
               bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})
    people = [scene.people for scene in report.trackers["tracker"].scenes]
    for axes in (speed, switches):
        axes.set_xticks(people)
        axes.set_xlabel("people in view")
    speed.set_yscale("log")
    speed.set_ylabel("ms per frame (dotted: p90)")
    speed.set_title(f"per frame, fastest of {report.passes} passes")
    speed.legend(fontsize=7, loc="upper left")
    switches.set_ylabel(f"count over the {report.seconds:g} s scene")
    switches.set_title("identity switches (solid) and fragmentation (dashed); lower is better")
    switches.legend(fontsize=6, ncol=2, loc="upper left")
    fig.suptitle(f"Tracking synthetic crowds ({report.machine.cpus} CPUs, Python {report.machine.python})")
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", default=",".join(map(str, PEOPLE)), help="crowd sizes, comma separated")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--passes", type=int, default=3, help="runs of each scene per tracker; the fastest counts")
    parser.add_argument("--libraries", default=",".join(LIBRARIES), help="libraries to compare, comma separated "
                        f"(of {', '.join(LIBRARIES)}); empty: ours only")
    parser.add_argument("--out", type=Path, default=BENCH_RESULTS_DIR / "tracking.json")
    parser.add_argument("--plot", type=Path, default=BENCH_RESULTS_DIR / "tracking.png")
    args = parser.parse_args(argv)
    libraries = [name for name in args.libraries.split(",") if name]
    unknown = sorted(set(libraries) - set(LIBRARIES))
    if unknown:
        parser.error(f"unknown libraries: {', '.join(unknown)}")
    report = benchmark([int(p) for p in args.people.split(",")], args.seconds, args.fps, args.passes, libraries)
    report.write(args.out)
    plot(report, args.plot)
    print(f"{'tracker':<22} " + " ".join(f"{p:>16}" for p in (s.people for s in report.trackers["tracker"].scenes)))
    for name, measured in report.trackers.items():
        cells = [f"{s.times.median_ms:6.3f}/{s.times.p90_ms:6.3f} ms" for s in measured.scenes]
        print(f"{name:<22} " + " ".join(f"{c:>16}" for c in cells))
        for s in measured.scenes:
            if s.quality:
                print(f"    {s.people:>3} people: {s.quality.model_dump_json()}")
    for name, install in report.libraries.items():
        print(f"{name}: {install.model_dump_json()}")
    print(f"target: {report.target.model_dump_json()}")
    print(f"wrote {args.out} and {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
