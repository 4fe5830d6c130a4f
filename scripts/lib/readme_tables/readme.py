"""Rewrite the README's generated sections between their markers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from readme_tables.bench_table import render_bench_table
from readme_tables.config_reference import (
    ConfigReferenceError,
    all_references,
    missing_descriptions,
    render_config_reference,
)
from readme_tables.mutation_table import render_mutation_table
from repo_layout import REPO_ROOT as ROOT

CONFIG_MARKERS = ("<!-- config-reference:start -->", "<!-- config-reference:end -->")
BENCH_MARKERS = ("<!-- bench-table:start -->", "<!-- bench-table:end -->")
MUTATION_MARKERS = ("<!-- mutation-table:start -->", "<!-- mutation-table:end -->")
README = ROOT / "README.md"


def replace_between(text: str, markers: tuple[str, str], body: str) -> str:
    start, end = markers
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise ConfigReferenceError(f"README.md needs exactly one '{start}' followed by one '{end}'")
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    return f"{before}{start}\n{body}\n{end}{after}"


def updated_readme(text: str, root: Path = ROOT) -> str:
    text = replace_between(text, CONFIG_MARKERS, render_config_reference(all_references(root)))
    text = replace_between(text, BENCH_MARKERS, render_bench_table(root))
    return replace_between(text, MUTATION_MARKERS, render_mutation_table(
        root / "docs" / "mutation" / "report.json", root / "docs" / "mutation" / "equivalent.yaml"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate the README sections; --check fails when stale.")
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is not up to date")
    parser.add_argument("--readme", type=Path, default=README)
    args = parser.parse_args(argv)
    try:
        current = args.readme.read_text()
        wanted = updated_readme(current)
    except (ConfigReferenceError, OSError, yaml.YAMLError) as exc:
        print(f"update_readme: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if wanted != current:
            print(f"{args.readme} is stale: run .venv/bin/python scripts/update_readme.py", file=sys.stderr)
            return 1
        return 0
    if wanted != current:
        args.readme.write_text(wanted)
        print(f"updated {args.readme}")
    missing = missing_descriptions(all_references())
    if missing:
        print("keys without a description in the settings model or recipe:\n  " + "\n  ".join(missing),
              file=sys.stderr)
    return 0
