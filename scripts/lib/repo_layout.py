"""Where things are in this repository, for the tooling (one definition instead of one per script)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPONENTS_DIR = REPO_ROOT / "components"
RECIPES_DIR = REPO_ROOT / "recipes"
BENCH_RESULTS_DIR = REPO_ROOT / "docs" / "bench"
