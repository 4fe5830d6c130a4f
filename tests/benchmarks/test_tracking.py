"""The tracking benchmark's plumbing: scenes and reports crossing to a library's venv and back, the runner's
loop, what a venv holds against the device's pins, and a whole (short) run of our trackers into its result
file, plot and README rows. Nothing here is timed; the libraries themselves are not installed by tests."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import tracker_runner, tracking
from benchmarks.results import TrackingResult
from benchmarks.tracking_scenes import crowd
from event_tracker.settings import TrackingSettings
from event_tracker.tracker import Observation, Tracker
from readme_tables.bench_table import bench_tracking


def _scene_file(tmp_path: Path, people: int = 8, seconds: float = 4.0) -> tuple[tracking.Scene, Path]:
    scene = tracking.make_scene(people, seconds, 10.0)
    path = tmp_path / "scene.npz"
    tracker_runner.write_scene(path, [f.at for f in scene.frames],
                               [[(d.score, d.box) for d in f.detections] for f in scene.frames])
    return scene, path


def test_a_scene_crosses_to_the_runner_frame_by_frame_empty_frames_included(tmp_path):
    scene = tracking.make_scene(8, 4.0, 10.0)
    written = [[(d.score, d.box) for d in f.detections] if index != 3 else [] for index, f in enumerate(scene.frames)]
    path = tmp_path / "scene.npz"
    tracker_runner.write_scene(path, [f.at for f in scene.frames], written)
    at, frames = tracker_runner.read_scene(path)
    assert at.tolist() == [f.at for f in scene.frames]
    assert frames[3][0].shape == (0, 4) and frames[3][1].shape == (0,)
    assert sum(len(scores) for _, scores in frames) == sum(len(found) for found in written) > 0
    for (boxes, scores), found in zip(frames, written, strict=True):
        assert list(zip(scores.tolist(), map(tuple, boxes.tolist()), strict=True)) == found


class OurTrackerInPixels:
    """A stand-in library: our own tracker behind the runner's adapter interface (pixel boxes in and out)."""

    def __init__(self, settings: dict) -> None:
        self._tracker = Tracker(TrackingSettings.model_validate({k: v for k, v in settings.items() if k != "fps"}))
        self._scale = np.array(tracker_runner.FRAME_SIZE * 2)

    def prepare(self, boxes: np.ndarray, scores: np.ndarray) -> list[Observation]:
        return [Observation("person", float(score), tuple((box / self._scale).tolist()))
                for box, score in zip(boxes, scores, strict=True)]

    def update(self, at: float, prepared: list[Observation]) -> object:
        return self._tracker.update(at, prepared)

    def reported(self, prepared: object, result: object) -> list[tuple[int, np.ndarray]]:
        return [(track.id, np.array(track.box) * self._scale) for track in result.seen]


def test_the_runner_path_scores_a_tracker_as_the_direct_path_does(tmp_path, monkeypatch):
    scene, path = _scene_file(tmp_path)
    settings = TrackingSettings()
    _, _, direct = tracking.measure_tracker(scene, settings, passes=1)
    monkeypatch.setitem(tracker_runner.ADAPTERS, "ours", OurTrackerInPixels)
    out = tmp_path / "out.npz"
    mapped = {**settings.model_dump(mode="json"), "fps": 10.0}
    assert tracker_runner.main(["--library", "ours", "--scene", str(path), "--settings", json.dumps(mapped),
                                "--passes", "2", "--out", str(out)]) == 0
    wall, cpu, reported = tracker_runner.read_reported(out)
    assert wall.shape == cpu.shape == (2, len(scene.frames)) and (wall >= 0).all()
    assert [[track_id for track_id, _ in frame] for frame in reported] == [[i for i, _ in f] for f in direct]
    for ours, theirs in zip(direct, reported, strict=True):
        for (_, box), (_, back) in zip(ours, theirs, strict=True):
            assert back == pytest.approx(box, abs=1e-9)
    assert tracking.quality(scene, [[(i, tuple(b)) for i, b in f] for f in reported]) == tracking.quality(scene, direct)


def test_the_runner_refuses_a_run_without_its_inputs(capsys):
    with pytest.raises(SystemExit):
        tracker_runner.main(["--library", "norfair"])
    assert "--scene" in capsys.readouterr().err


def test_the_device_pins_are_read_from_the_runtime_requirements():
    pins = tracking.device_pins()
    assert pins["numpy"] == "2.4.6" and pins["pydantic-core"]  # names canonical: pydantic_core
    assert pins["dlr"] == "1.6.0"  # a marker after the pin is not part of the version


def test_a_requirement_the_device_pins_do_not_meet_is_a_conflict_and_an_extra_is_not():
    installed = {
        "norfair": {"version": "2.3.0", "requires": [
            'numpy (>=1.23.0,<2.0.0) ; python_version >= "3.8"', 'numpy (<2.0.0,>=1.19.0) ; python_version < "3.8"',
            'opencv-python (>=3.2.0,<5.0.0) ; extra == "video"', "scipy (>=1.5.4)"]},
        "rich": {"version": "14.3.4", "requires": ["pygments<3.0.0,>=2.13.0"]},
    }
    device = {"numpy": "2.4.6", "opencv-python": "5.1.0", "scipy": "1.17.1"}
    assert tracking.device_conflicts(installed, device) == [
        "norfair 2.3.0 requires numpy<2.0.0,>=1.23.0; the device pins 2.4.6"]


def test_what_a_venv_adds_to_the_device_venv_is_measured_from_its_distributions():
    install, version = tracking.library_install(Path(sys.executable), "pydantic", tracking.device_pins())
    assert version == "2.14.3"  # this venv is built from the device's pins plus the dev tools
    new = {name.split("==")[0].lower() for name in install.new_packages}
    assert "pytest" in new and "pydantic" not in new and "numpy" not in new
    assert install.packages > len(install.new_packages) > 0
    assert install.megabytes > install.new_megabytes > 0
    assert install.conflicts == []


def test_a_short_run_of_our_trackers_makes_the_result_file_the_plot_and_the_readme_rows(tmp_path):
    report = tracking.benchmark([tracking.TARGET_PEOPLE], seconds=3.0, fps=10.0, passes=2, libraries=[])
    assert list(report.trackers) == ["tracker", "camera"] and report.libraries == {}
    tracker, camera = report.trackers["tracker"].scenes[0], report.trackers["camera"].scenes[0]
    assert tracker.frames == camera.frames == 30 and tracker.detections == camera.detections > 0
    assert tracker.quality is not None and tracker.quality.people >= tracking.TARGET_PEOPLE
    assert camera.quality is None and camera.messages  # starts at least: 20 people confirmed in 3 s
    times = tracker.times
    assert 0 < times.median_ms <= times.p90_ms <= times.max_ms and times.cpu_ms_per_frame > 0
    assert report.target.measured_median_ms == times.median_ms
    assert report.target.met == (times.median_ms <= tracking.TARGET_MS)
    path = tmp_path / "tracking.json"
    report.write(path)
    assert TrackingResult.read(path) == report
    tracking.plot(report, tmp_path / "tracking.png")
    assert (tmp_path / "tracking.png").read_bytes()[:4] == b"\x89PNG"
    rows = bench_tracking(report)
    assert rows[0][0] == "ours: Tracker: median ms per frame at 20 people" and rows[0][2] == "≤ 1 ms at 20 objects"
    assert any(measure.startswith("ours: Tracker at 20 people, 3 s: ID switches") for measure, _, _ in rows)
    assert not any(measure.startswith("ours: CameraTracks (+ zones, line, events) at") for measure, _, _ in rows)


def test_the_same_seed_makes_the_same_crowd():
    first, second = tracking.make_scene(10, 2.0, 10.0), tracking.make_scene(10, 2.0, 10.0)
    assert first.seed == second.seed == 110
    assert [f.detections for f in first.frames] == [f.detections for f in second.frames]
    assert [f.detections for f in first.frames] != [f.detections for f in crowd(10, 2.0, 10.0, seed=1)]
