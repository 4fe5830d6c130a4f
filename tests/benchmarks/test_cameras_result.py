"""The multi-camera benchmark's result: written and read back to the byte, its targets checked at 16
cameras, its README rows, and the inference build its second configuration runs."""

from __future__ import annotations

from pathlib import Path

from benchmarks.cameras import check
from benchmarks.fastest_backend import FALLBACK, fastest_backend, fastest_in
from benchmarks.results import (
    CameraFrames,
    CamerasConfiguration,
    CamerasResult,
    CamerasRun,
    CamerasTargets,
    InferenceResult,
    PipelineMachine,
)
from readme_tables import bench_table
from repo_layout import REPO_ROOT as ROOT


def camera(name: str, *, unserved: int = 0, p99: float | None = 120.0) -> CameraFrames:
    return CameraFrames(
        camera=name, offset_frame=0, start_delay_s=0.25, request_id=f"bench-{name}", capture_state="finished",
        frames_expected=100, frames_taken=100, frames_captured=60, frames_gated=40, frames_inferred=60 - unserved,
        frames_served=60 - unserved, frames_dropped=unserved, frames_expired=0, frames_unserved=unserved,
        unserved_share=unserved / 100, accounting={"summarized": 60 - unserved, "dropped": unserved},
        events_published=3, events_stored=3, events_stored_once_as_ended=True,
        stored_frames_timed=60 - unserved, capture_to_stored_ms_p50=80.0 if p99 else None,
        capture_to_stored_ms_p99=p99)


def run(count: int, *, unserved_share: float = 0.005, worst: float = 0.01, p99: float | None = 200.0) -> CamerasRun:
    return CamerasRun(
        cameras=count, fps_per_camera=5.0, seconds=60.0, unserved_share=unserved_share,
        unserved_share_worst_camera=worst, capture_to_stored_ms_p50=90.0 if p99 else None,
        capture_to_stored_ms_p99=p99, cpu_s={"smartcam.SsdInference": 50.0}, cores_used=1.5,
        writer_counters={"eventsWritten": 7}, settle_s=12.0,
        per_camera=[camera(f"cam{i + 1:02d}", p99=p99) for i in range(count)])


def result(*configurations: CamerasConfiguration) -> CamerasResult:
    return CamerasResult(
        command=".venv/bin/python scripts/bench.py cameras", when="2026-12-06T20:00:00Z",
        machine=PipelineMachine(cpus=2, platform="Linux", python="3.11.7", loadavg_at_end=(1.0, 1.0, 1.0)),
        loadavg_at_start=(0.5, 0.5, 0.5), video="/usr/share/vtest.avi", video_frames=795, seed=20,
        max_start_delay_s=1.0, configurations=list(configurations),
        targets=CamerasTargets(cameras=16, unserved_share_max=0.01, unserved_share_per_camera_max=0.02,
                               capture_to_stored_ms_p99_max=250.0,
                               checks=[c for c in map(check, configurations) if c is not None]),
        notes="synthetic")


def test_the_result_reads_back_to_the_byte(tmp_path: Path):
    written = result(CamerasConfiguration(name="default", inference_settings={}, runs=[run(1), run(16, p99=None)]))
    written.write(tmp_path / "cameras.json")
    text = (tmp_path / "cameras.json").read_text()
    assert CamerasResult.parse(text) == written
    assert CamerasResult.parse(text).to_json() == text


def test_the_targets_are_checked_at_16_cameras():
    configuration = CamerasConfiguration(name="default", inference_settings={}, runs=[
        run(1, unserved_share=0.0, worst=0.0, p99=100.0), run(16, unserved_share=0.012, worst=0.015, p99=240.0)])
    checked = check(configuration)
    assert checked is not None
    assert (checked.cameras, checked.at_target_cameras) == (16, True)
    assert not checked.unserved_share_met
    assert checked.unserved_share_worst_camera_met
    assert checked.capture_to_stored_ms_p99_met


def test_without_a_16_camera_run_the_check_is_at_the_most_cameras_and_says_so():
    checked = check(CamerasConfiguration(name="backend litert", inference_settings={"backend": "litert"},
                                         runs=[run(1), run(2, p99=None)]))
    assert checked is not None
    assert (checked.cameras, checked.at_target_cameras) == (2, False)
    assert not checked.capture_to_stored_ms_p99_met  # nothing timed is not a target met
    assert check(CamerasConfiguration(name="default", inference_settings={}, runs=[])) is None


def test_the_readme_rows_show_each_run_and_the_targets_at_16_cameras(tmp_path: Path):
    bench = tmp_path / "docs" / "bench"
    result(CamerasConfiguration(name="default", inference_settings={}, runs=[run(4), run(16)]),
           CamerasConfiguration(name="backend litert", inference_settings={"backend": "litert"},
                                runs=[run(16, p99=None)])).write(bench / "cameras.json")
    table = bench_table.render_bench_table(tmp_path)
    rows = [line for line in table.splitlines() if line.startswith("| cameras |")]
    assert len(rows) == 3
    assert "default, 4 camera(s)" in rows[0]
    assert rows[0].endswith("|  |")  # no target below 16 cameras
    assert "0.5% / 1.0%; 90 / 200 ms; 48 / 48; 1.50" in rows[1]
    assert "at 16: ≤ 1% / ≤ 2%; p99 ≤ 250 ms" in rows[1]
    assert "n/a" in rows[2]
    assert "`docs/bench/cameras.json`, 2026-12-06T20:00:00Z: `.venv/bin/python scripts/bench.py cameras`" in table


def test_the_second_configuration_runs_the_fastest_build_at_the_default_threads(tmp_path: Path):
    committed = InferenceResult.read(ROOT / "docs" / "bench" / "inference.json")
    for run in committed.runs:
        assert fastest_in(committed, run.threads) == run.checks.fastest_backend
    most = max(committed.runs, key=lambda r: r.threads)
    assert fastest_in(committed, 64) == most.checks.fastest_backend  # a count it did not run: the most threads
    assert fastest_in(committed.model_copy(update={"runs": []}), 1) == FALLBACK
    assert fastest_backend(tmp_path / "missing.json") == FALLBACK
    (tmp_path / "broken.json").write_text("{not json")
    assert fastest_backend(tmp_path / "broken.json") == FALLBACK
