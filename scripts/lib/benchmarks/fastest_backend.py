"""The fastest inference build measured here: what the latest inference benchmark (docs/bench/inference.json)
found fastest at SsdInference's default thread count, else at the most threads it ran; ``auto`` when there
is no readable result."""

from __future__ import annotations

from pathlib import Path

from benchmarks.results import InferenceResult

DEFAULT_THREADS = 2  # SsdInference's recipe default
FALLBACK = "auto"


def fastest_backend(path: Path) -> str:
    try:
        result = InferenceResult.read(path)
    except (OSError, ValueError):
        return FALLBACK
    return fastest_in(result)


def fastest_in(result: InferenceResult) -> str:
    if not result.runs:
        return FALLBACK
    run = next((r for r in result.runs if r.threads == DEFAULT_THREADS), max(result.runs, key=lambda r: r.threads))
    return run.checks.fastest_backend or FALLBACK
