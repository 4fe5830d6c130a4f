"""docs/mutation/report.json: every mutant of each module run, its outcome, and the score.

Read and written through these models only. A module's entry is replaced when it is run again, so
`make mutation MODULES=...` refreshes part of the report. A survivor is accepted as equivalent (no test
can tell it from the original) only when docs/mutation/equivalent.yaml names it with a reason; it then
leaves the score's denominator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from repo_layout import REPO_ROOT

REPORT = REPO_ROOT / "docs" / "mutation" / "report.json"
EQUIVALENT = REPO_ROOT / "docs" / "mutation" / "equivalent.yaml"
SURVIVORS = REPO_ROOT / "docs" / "mutation" / "survivors.md"

Outcome = Literal["killed", "survived", "incompetent", "timeout"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Mutant(_Strict):
    file: str  # from the repo root
    line: int = Field(ge=1)
    operator: str  # cosmic-ray's name, e.g. core/NumberReplacer
    occurrence: int = Field(ge=0)
    source: str  # the original line, stripped
    mutated: str  # the mutated line, stripped
    outcome: Outcome


class ModuleResult(_Strict):
    name: str
    files: list[str]
    tests: list[str]
    tool: str  # e.g. cosmic-ray 8.7.0
    mutants: list[Mutant]
    baseline_s: float = Field(ge=0)  # one run of its tests, unmutated
    duration_s: float = Field(ge=0)  # the whole session
    run_at: str  # ISO 8601, UTC
    rechecked_at: str | None = None  # when its survivors alone were last run again (--recheck)


class Report(_Strict):
    modules: dict[str, ModuleResult] = {}


class Equivalent(_Strict):
    file: str
    operator: str
    source: str  # the original line, stripped: survives line moves, goes stale when the line changes
    mutated: str
    reason: str = Field(min_length=10)


class Equivalents(_Strict):
    equivalent: list[Equivalent] = []


def load_report(path: Path = REPORT) -> Report:
    return Report.model_validate_json(path.read_text()) if path.exists() else Report()


def save_report(report: Report, path: Path = REPORT) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.model_dump_json(indent=1) + "\n")


def load_equivalents(path: Path = EQUIVALENT) -> Equivalents:
    if not path.exists():
        return Equivalents()
    return Equivalents.model_validate(yaml.safe_load(path.read_text()) or {})


def _key(item: Mutant | Equivalent) -> tuple[str, str, str, str]:
    return item.file, item.operator, item.source, item.mutated


class Score(_Strict):
    name: str
    mutants: int
    killed: int  # killed, timed out or incompetent (the mutant did not even import)
    equivalent: int
    survivors: list[Mutant]  # neither killed nor accepted as equivalent
    duration_s: float

    @property
    def percent(self) -> float:
        scored = self.mutants - self.equivalent
        return 100.0 * self.killed / scored if scored else 100.0


def score(result: ModuleResult, equivalents: Equivalents) -> Score:
    accepted = {_key(item) for item in equivalents.equivalent}
    survived = [m for m in result.mutants if m.outcome == "survived"]
    survivors = [m for m in survived if _key(m) not in accepted]
    return Score(name=result.name, mutants=len(result.mutants), killed=len(result.mutants) - len(survived),
                 equivalent=len(survived) - len(survivors), survivors=survivors, duration_s=result.duration_s)


def changed_since_run(result: ModuleResult, root: Path = REPO_ROOT) -> str | None:
    """Where the module's files no longer match its recorded mutants (a recheck would test other lines)."""
    lines: dict[str, list[str]] = {}
    for mutant in result.mutants:
        path = root / mutant.file
        if not path.exists():
            return f"{mutant.file} is gone"
        source = lines.setdefault(mutant.file, path.read_text().splitlines())
        if mutant.line > len(source) or source[mutant.line - 1].strip() != mutant.source:
            return f"{mutant.file}:{mutant.line} changed since the run of {result.run_at}"
    return None


def with_rechecked(result: ModuleResult, recheck: ModuleResult) -> ModuleResult:
    """The recorded result with the outcomes of its rechecked survivors replaced."""
    outcomes = {(m.file, m.operator, m.occurrence): m.outcome for m in recheck.mutants}
    mutants = [m.model_copy(update={"outcome": outcomes.get((m.file, m.operator, m.occurrence), m.outcome)})
               for m in result.mutants]
    return result.model_copy(update={"mutants": mutants, "tests": recheck.tests, "rechecked_at": recheck.run_at})


def stale_equivalents(report: Report, equivalents: Equivalents) -> list[Equivalent]:
    """Accepted equivalents that match no surviving mutant of the modules run (the code changed or a
    test now kills it): to be removed from equivalent.yaml."""
    run_files = {f for result in report.modules.values() for f in result.files}
    survived = {_key(m) for result in report.modules.values() for m in result.mutants if m.outcome == "survived"}
    return [e for e in equivalents.equivalent if e.file in run_files and _key(e) not in survived]


def render_survivors(report: Report, equivalents: Equivalents) -> str:
    lines = ["# Mutation survivors", "",
             "Generated by `make mutation` from docs/mutation/report.json. Each is a mistake the module's own",
             "tests let through: kill it with a test, or list it in docs/mutation/equivalent.yaml with the reason",
             "no test can tell it from the original.", ""]
    for name, result in sorted(report.modules.items()):
        result_score = score(result, equivalents)
        lines += [f"## {name}: {result_score.percent:.1f} % ({len(result_score.survivors)} survivors)", ""]
        for m in result_score.survivors:
            lines += [f"- `{m.file}:{m.line}` {m.operator.removeprefix('core/')}: `{m.source}` → `{m.mutated}`"]
        if result_score.survivors:
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
