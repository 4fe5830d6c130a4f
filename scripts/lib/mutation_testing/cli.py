"""The driver behind `make mutation` (scripts/mutation.py)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

import psutil

from mutation_testing.report import (
    SURVIVORS,
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
from readme_tables.readme import main as update_readme


def _lowest_priority() -> None:
    """Mutation runs are long and share the machine: the cosmic-ray and pytest children inherit this."""
    os.nice(19 - os.nice(0))
    with contextlib.suppress(AttributeError, psutil.Error, OSError):  # not Linux: CPU priority alone
        psutil.Process().ionice(psutil.IOPRIO_CLASS_IDLE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Mutation testing; results in docs/mutation/ and the README.")
    parser.add_argument("modules", nargs="*", help="module names (default: all; see --list)")
    parser.add_argument("--list", action="store_true", help="print the modules and their tests, run nothing")
    parser.add_argument("--report-only", action="store_true", help="regenerate survivors.md and the README only")
    parser.add_argument("--recheck", action="store_true",
                        help="run only the survivors of each module's recorded run again (its code unchanged)")
    args = parser.parse_args(argv)
    if args.list:
        for target in TARGETS:
            print(f"{target.name}\n  mutates: {' '.join(target.paths)}\n  tests:   {' '.join(target.tests)}")
        return 0
    try:
        targets = by_name(args.modules) if args.modules else list(TARGETS)
    except KeyError as exc:
        print(f"mutation: {exc.args[0]}", file=sys.stderr)
        return 2
    if not args.report_only:
        from mutation_testing.collect import module_result  # needs cosmic-ray (requirements-mutation.txt)
        from mutation_testing.session import run

        _lowest_priority()
        for target in targets:
            print(f"mutation: {target.name} ...", flush=True)
            if args.recheck:
                recorded = load_report().modules.get(target.name)
                why = "it has no recorded run" if recorded is None else changed_since_run(recorded)
                if why is not None:
                    print(f"mutation: cannot recheck {target.name}: {why}; run it in full", file=sys.stderr)
                    return 2
                assert recorded is not None
                survivors = {(m.file, m.operator, m.occurrence) for m in recorded.mutants if m.outcome == "survived"}
                recheck = module_result(run(target, only=survivors))
                result = with_rechecked(recorded, recheck)
                took = f"{len(survivors)} survivors rechecked in {recheck.duration_s:.0f} s"
            else:
                result = module_result(run(target))
                took = f"{len(result.mutants)} mutants run in {result.duration_s:.0f} s"
            report = load_report()
            save_report(report.model_copy(update={"modules": {**report.modules, target.name: result}}))
            print(f"mutation: {target.name}: {score(result, load_equivalents()).percent:.1f} % killed ({took})",
                  flush=True)
    report, equivalents = load_report(), load_equivalents()
    SURVIVORS.write_text(render_survivors(report, equivalents))
    for stale in stale_equivalents(report, equivalents):
        print(f"mutation: equivalent.yaml lists a mutant that no longer survives: {stale.file}: {stale.source}",
              file=sys.stderr)
    return update_readme([])
