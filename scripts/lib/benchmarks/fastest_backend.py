"""The fastest inference build measured here: what the latest inference benchmark (docs/bench/inference.json)
names ``fastest_backend`` (the fastest full-precision build: it leaves out lower-precision ones such as
onnxruntime-int8, which ship behind an accuracy gate) at the thread count SsdInference runs by default on
this machine (``threads`` 0: the cores it may use minus one, at least 1), else at the most threads it
ran; ``auto`` when there is no readable result."""

from __future__ import annotations

from pathlib import Path

from benchmarks.results import InferenceResult
from ssd_inference.model_loader import inference_threads

FALLBACK = "auto"


def fastest_backend(path: Path) -> str:
    try:
        result = InferenceResult.read(path)
    except (OSError, ValueError):
        return FALLBACK
    return fastest_in(result, inference_threads(0))


def fastest_in(result: InferenceResult, threads: int) -> str:
    if not result.runs:
        return FALLBACK
    run = next((r for r in result.runs if r.threads == threads), max(result.runs, key=lambda r: r.threads))
    return run.checks.fastest_backend or FALLBACK
