"""`make mutation`'s lists, report and scores (the runs themselves are `make mutation`, not tests)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mutation_testing.operators import KEPT_IN_FAMILIES, excluded, is_kept
from mutation_testing.report import (
    EQUIVALENT,
    REPORT,
    Equivalent,
    Equivalents,
    ModuleResult,
    Mutant,
    Report,
    changed_since_run,
    load_equivalents,
    load_report,
    render_survivors,
    save_report,
    score,
    stale_equivalents,
    with_rechecked,
)
from mutation_testing.targets import TARGETS, by_name
from readme_tables.mutation_table import render_mutation_table
from repo_layout import REPO_ROOT


def _mutant(outcome: str, source: str = "if a < b:", mutated: str = "if a <= b:", line: int = 3) -> Mutant:
    return Mutant(file="m.py", line=line, operator="core/ReplaceComparisonOperator_Lt_LtE", occurrence=0,
                  source=source, mutated=mutated, outcome=outcome)


def _result(*mutants: Mutant) -> ModuleResult:
    return ModuleResult(name="m", files=["m.py"], tests=["tests/t.py"], tool="cosmic-ray 8.7.0",
                        mutants=list(mutants), baseline_s=1.0, duration_s=10.0, run_at="2026-12-06T00:00:00+00:00")


def test_every_target_mutates_and_runs_files_that_exist_under_a_unique_name():
    assert len({t.name for t in TARGETS}) == len(TARGETS)
    for target in TARGETS:
        for path in (*target.paths, *target.tests):
            assert (REPO_ROOT / path).exists(), f"{target.name}: {path} does not exist"
        assert all(path.startswith("tests/") for path in target.tests), target.name


def test_an_unknown_module_name_is_refused_with_the_known_ones():
    assert by_name(["event_tracker.assignment"])[0].paths[0].endswith("assignment.py")
    with pytest.raises(KeyError, match=r"unknown module.*nope.*known: smartcam\.contracts"):
        by_name(["nope"])


def test_the_operator_set_is_the_sufficient_set_and_keeps_every_operator_outside_the_three_families():
    assert is_kept("core/NumberReplacer") and is_kept("core/ZeroIterationForLoop") and is_kept("core/AddNot")
    assert is_kept("core/ReplaceComparisonOperator_Lt_LtE") and is_kept("core/ReplaceComparisonOperator_Lt_GtE")
    assert not is_kept("core/ReplaceComparisonOperator_Lt_Is")
    assert not is_kept("core/ReplaceBinaryOperator_Add_BitXor") and is_kept("core/ReplaceBinaryOperator_Add_Sub")
    names = ["core/NumberReplacer", "core/ReplaceBinaryOperator_Add_Sub", "core/ReplaceBinaryOperator_Add_Pow"]
    assert excluded(names) == ["^core/ReplaceBinaryOperator_Add_Pow$"]
    # each comparison keeps exactly its boundary move and its negation
    for op in ("Lt", "LtE", "Gt", "GtE"):
        assert len([k for k in KEPT_IN_FAMILIES if k.startswith(f"core/ReplaceComparisonOperator_{op}_")]) == 2


def test_killed_timed_out_and_incompetent_mutants_count_as_killed_and_survivors_do_not():
    result = _result(_mutant("killed"), _mutant("timeout"), _mutant("incompetent"), _mutant("survived"))
    module = score(result, Equivalents())
    assert (module.mutants, module.killed, module.equivalent, len(module.survivors)) == (4, 3, 0, 1)
    assert module.percent == pytest.approx(75.0)


def test_an_accepted_equivalent_leaves_the_score_and_a_stale_one_is_reported():
    survivor = _mutant("survived")
    accepted = Equivalent(file="m.py", operator=survivor.operator, source=survivor.source,
                          mutated=survivor.mutated, reason="both bounds give the same set here")
    gone = accepted.model_copy(update={"source": "if a < c:"})
    result = _result(_mutant("killed"), survivor)
    module = score(result, Equivalents(equivalent=[accepted, gone]))
    assert (module.killed, module.equivalent, module.survivors, module.percent) == (1, 1, [], 100.0)
    assert stale_equivalents(Report(modules={"m": result}), Equivalents(equivalent=[accepted, gone])) == [gone]


def test_an_equivalent_without_a_reason_is_refused():
    with pytest.raises(ValidationError):
        Equivalent(file="m.py", operator="core/AddNot", source="x", mutated="y", reason="")


def test_the_survivors_list_names_file_line_and_change_and_the_report_round_trips(tmp_path):
    report = Report(modules={"m": _result(_mutant("killed", line=2), _mutant("survived", line=7))})
    text = render_survivors(report, Equivalents())
    assert "## m: 50.0 % (1 survivors)" in text
    assert "- `m.py:7` ReplaceComparisonOperator_Lt_LtE: `if a < b:` → `if a <= b:`" in text
    save_report(report, tmp_path / "report.json")
    assert load_report(tmp_path / "report.json") == report
    assert load_report(tmp_path / "absent.json") == Report()


def test_the_committed_report_and_equivalents_parse_and_every_equivalent_still_survives():
    report, equivalents = load_report(REPORT), load_equivalents(EQUIVALENT)
    assert set(report.modules) <= {t.name for t in TARGETS}
    assert stale_equivalents(report, equivalents) == []
    for name, result in report.modules.items():
        assert result.name == name and result.mutants, name


def test_the_mutation_table_has_a_row_per_module_run_or_not(tmp_path):
    (tmp_path / "report.json").write_text(Report(modules={
        "event_tracker.assignment": _result(_mutant("killed"), _mutant("survived")).model_copy(
            update={"name": "event_tracker.assignment"})}).model_dump_json())
    table = render_mutation_table(tmp_path / "report.json", tmp_path / "absent.yaml")
    assert "| event_tracker.assignment | 50.0 % (target ≥ 90 %) | 1 / 2 | 0 | 1 | 0.2 min | 2026-12-06 |" in table
    assert "| smartcam.frames | not run yet |" in table
    assert len([line for line in table.splitlines() if line.startswith("| ") and "---" not in line]) == len(TARGETS) + 1


def test_a_session_dump_becomes_the_modules_mutants_with_their_lines_and_outcomes(monkeypatch):
    from mutation_testing import collect
    from mutation_testing.collect import SessionRun
    from mutation_testing.targets import Target

    monkeypatch.setattr(collect, "version", lambda name: "8.7.0")
    path = "components/Runtime/smartcam/frames.py"
    source = (REPO_ROOT / path).read_text().splitlines()
    line = next(n for n, text in enumerate(source, 1) if ">" in text and "if " in text)

    def work(occurrence: int) -> dict:
        return {"mutations": [{"module_path": path, "start_pos": [line, 0], "occurrence": occurrence,
                               "operator_name": "core/ReplaceComparisonOperator"}]}

    diff = f"--- a\n+++ b\n-{source[line - 1]}\n+    mutated line\n"
    dump = [(work(1), {"worker_outcome": "normal", "test_outcome": "survived", "diff": diff}),
            (work(0), {"worker_outcome": "normal", "test_outcome": "killed", "output": "timeout"}),
            (work(2), {"worker_outcome": "skipped"})]
    target = Target("smartcam.frames", (path,), ("tests/smartcam",), "frames")
    result = collect.module_result(SessionRun(target, dump, baseline_s=1.234, total_s=56.78))
    assert [(m.occurrence, m.outcome, m.mutated) for m in result.mutants] == [
        (0, "timeout", source[line - 1].strip()), (1, "survived", "mutated line")]
    assert result.files == [path] and result.tool == "cosmic-ray 8.7.0" and result.baseline_s == 1.23
    with pytest.raises(RuntimeError, match="session did not finish"):
        collect.module_result(SessionRun(target, [(work(3), None)], baseline_s=1.0, total_s=1.0))
    with pytest.raises(RuntimeError, match="worker failed"):
        collect.module_result(SessionRun(target, [(work(3), {"worker_outcome": "exception", "output": "x"})],
                                         baseline_s=1.0, total_s=1.0))


def test_a_recheck_replaces_only_its_survivors_outcomes_and_is_dated():
    killed, survivor = _mutant("killed", line=3), _mutant("survived", source="x = 1", mutated="x = 2", line=5)
    other = survivor.model_copy(update={"occurrence": 1})  # same line and operator, another mutant
    recorded = _result(killed, survivor, other)
    recheck = _result(survivor.model_copy(update={"outcome": "killed"})).model_copy(
        update={"run_at": "2026-12-07T00:00:00+00:00", "tests": ["tests/t.py", "tests/t2.py"]})
    merged = with_rechecked(recorded, recheck)
    assert [m.outcome for m in merged.mutants] == ["killed", "killed", "survived"]
    assert merged.run_at == recorded.run_at and merged.rechecked_at == "2026-12-07T00:00:00+00:00"
    assert merged.tests == ["tests/t.py", "tests/t2.py"] and merged.duration_s == recorded.duration_s


def test_a_recheck_is_refused_when_a_mutated_line_changed_or_the_file_is_gone(tmp_path):
    (tmp_path / "m.py").write_text("a\nb\n  if a < b:\n")
    assert changed_since_run(_result(_mutant("survived", line=3)), root=tmp_path) is None
    assert "m.py:2 changed" in (changed_since_run(_result(_mutant("survived", line=2)), root=tmp_path) or "")
    assert "m.py:9 changed" in (changed_since_run(_result(_mutant("killed", line=9)), root=tmp_path) or "")
    (tmp_path / "m.py").unlink()
    assert "m.py is gone" in (changed_since_run(_result(_mutant("killed", line=3)), root=tmp_path) or "")
