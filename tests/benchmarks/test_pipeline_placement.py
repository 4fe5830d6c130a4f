"""bench pipeline --pin-inference: where each component goes, and how the result records it."""

from __future__ import annotations

from pathlib import Path

from benchmarks.pipeline import inference_pinned
from benchmarks.results import PipelineResult
from readme_tables import bench_table
from repo_layout import REPO_ROOT as ROOT

COMMITTED = ROOT / "docs" / "bench" / "pipeline.json"


def test_inference_gets_the_last_cpu_and_every_other_component_the_rest():
    assert inference_pinned({1, 0}) == {
        "smartcam.SsdInference": [1], "smartcam.CameraIngest": [0], "smartcam.DynamoWriter": [0],
        "smartcam.EventTracker": [0], "smartcam.OperatorView": [0]}
    placed = inference_pinned({5, 2, 3, 7})
    assert placed["smartcam.SsdInference"] == [7]
    assert {tuple(cpus) for name, cpus in placed.items() if name != "smartcam.SsdInference"} == {(2, 3, 5)}


def test_a_pinned_run_records_its_placement_and_an_unpinned_one_reads_back_to_the_byte(tmp_path: Path):
    unpinned = PipelineResult.read(COMMITTED)
    assert unpinned.cpu_affinity is None
    assert unpinned.to_json() == COMMITTED.read_text()
    assert "cpu_affinity" not in unpinned.to_json()

    pinned = unpinned.model_copy(update={"cpu_affinity": inference_pinned({0, 1})})
    pinned.write(tmp_path / "pinned.json")
    again = PipelineResult.read(tmp_path / "pinned.json")
    assert again.cpu_affinity is not None and again.cpu_affinity["smartcam.SsdInference"] == [1]
    rows = {measure: result for measure, result, _target in bench_table.bench_pipeline(again)}
    assert rows["CPUs per process (--pin-inference)"].startswith("SsdInference [1], CameraIngest [0]")
    assert "CPUs per process (--pin-inference)" not in {row[0] for row in bench_table.bench_pipeline(unpinned)}


def test_the_throughput_target_follows_the_models_threads_in_all():
    from benchmarks.pipeline import target_fps_ratio

    assert target_fps_ratio(1) == 0.95
    assert target_fps_ratio(2) == target_fps_ratio(1, 2) == 0.80  # two streams of one thread need both cores too
