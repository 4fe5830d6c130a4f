"""The benchmarks behind issue 15's CPU figures, run tiny: what they report is there, sane, and written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import inference_cpu, ipc_client_cpu, streams
from benchmarks.results import StreamsResult
from readme_tables import bench_table


def test_inference_cpu_reports_every_step_and_the_overhead_is_their_sum_but_the_model(tmp_path: Path):
    out = tmp_path / "cpu.json"
    assert inference_cpu.main(["--frames", "6", "--repeats", "1", "--engine", "fake", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    steps = result["cpu_us_per_frame"]
    assert set(steps) == set(inference_cpu.STEPS)
    assert all(value >= 0 for value in steps.values()) and steps["read"] > 0
    assert result["overhead_us_per_frame"] == pytest.approx(sum(steps[s] for s in inference_cpu.OVERHEAD), abs=0.5)


@pytest.mark.parametrize("kind", sorted(ipc_client_cpu.MESSAGES))
def test_ipc_client_cpu_sends_and_receives_every_message_through_the_local_ipc_server(kind: str):
    result = ipc_client_cpu.run(kind, 20, 200.0)
    assert result["message"] == kind and result["messages"] == 20
    assert result["receiver"]["received"] == 20, result
    assert result["sender"]["cpu_us_per_message"] > 0 and result["receiver"]["cpu_us_per_message"] > 0


def test_streams_measure_runs_the_copies_at_once_and_counts_their_frames():
    measured = streams.measure("onnxruntime-int8", 1, 2, 0.3)
    assert measured["variant"] == "onnxruntime-int8"  # the build that ran
    assert float(measured["fps"] or 0) > 0 and float(measured["cpu_ms_per_frame"] or 0) > 0


def test_streams_alternates_the_shapes_and_writes_the_medians_the_readme_shows(tmp_path: Path, monkeypatch):
    calls = []

    def fake_child(backend: str, threads: int, copies: int, seconds: float):
        calls.append((threads, copies))
        fps = {(2, 1): [100.0, 110.0, 90.0], (1, 2): [150.0, 160.0, 170.0]}[(threads, copies)]
        return {"fps": fps[sum(1 for c in calls if c == (threads, copies)) - 1], "cpu_ms_per_frame": 10.0 / copies,
                "variant": "dlr-avx512"}

    monkeypatch.setattr(streams, "in_child", fake_child)
    out, plot = tmp_path / "streams.json", tmp_path / "streams.png"
    assert streams.main(["--backends", "dlr", "--cores", "2", "--repeats", "3", "--out", str(out),
                         "--plot", str(plot)]) == 0
    assert calls == [(2, 1), (1, 2), (1, 2), (2, 1), (2, 1), (1, 2)]  # the order swaps every repeat
    result = StreamsResult.read(out)
    (run,) = result.runs
    assert (run.variant, run.one_copy.fps, run.copies.fps, run.copies_vs_one_copy) == ("dlr-avx512", 100.0, 160.0, 1.6)
    assert plot.stat().st_size > 0
    (row,) = bench_table.bench_streams(result)
    assert row[1].startswith("100.0 / 160.0 fps = 1.60")
