"""Cosmic-ray's session dump to the report's per-module result."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version

from mutation_testing.report import ModuleResult, Mutant, Outcome
from mutation_testing.targets import Target
from repo_layout import REPO_ROOT


@dataclass(frozen=True)
class SessionRun:
    """One finished cosmic-ray session of a target (made by mutation_testing.session)."""

    target: Target
    dump: list[tuple[dict, dict | None]]  # cosmic-ray's work items and their results
    baseline_s: float  # one run of the target's tests, unmutated
    total_s: float


def _mutated_line(diff: str, fallback: str) -> str:
    added = [line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    return added[0] if added else fallback


def _outcome(result: dict) -> Outcome | None:
    """None: not run (left out by the operator filter)."""
    if result["worker_outcome"] == "skipped":
        return None
    if result["worker_outcome"] != "normal":
        raise RuntimeError(f"a mutant's worker failed ({result['worker_outcome']}): {result.get('output')}")
    if result.get("output") == "timeout":
        return "timeout"
    return result["test_outcome"]


def module_result(run: SessionRun) -> ModuleResult:
    lines: dict[str, list[str]] = {}
    mutants = []
    for item, result in run.dump:
        if result is None:
            raise RuntimeError(f"{run.target.name}: a mutant was not run; the session did not finish")
        outcome = _outcome(result)
        if outcome is None:
            continue
        (mutation,) = item["mutations"]
        file = mutation["module_path"]
        source_lines = lines.setdefault(file, (REPO_ROOT / file).read_text().splitlines())
        line = mutation["start_pos"][0]
        source = source_lines[line - 1].strip()
        mutants.append(Mutant(file=file, line=line, operator=mutation["operator_name"],
                              occurrence=mutation["occurrence"], source=source,
                              mutated=_mutated_line(result.get("diff") or "", source), outcome=outcome))
    mutants.sort(key=lambda m: (m.file, m.line, m.operator, m.occurrence))
    return ModuleResult(name=run.target.name, files=sorted({m.file for m in mutants}), tests=list(run.target.tests),
                        tool=f"cosmic-ray {version('cosmic-ray')}", mutants=mutants,
                        baseline_s=round(run.baseline_s, 2), duration_s=round(run.total_s, 1),
                        run_at=datetime.now(UTC).isoformat(timespec="seconds"))
