"""One cosmic-ray session per target: mutate its files in place, one mutant at a time, and run its tests.

The files are mutated where they are, because the dev venv imports the components from the work tree
(one .pth with the import roots, see the Makefile); a copy elsewhere would import the unmutated code.
Cosmic-ray puts each file back after its mutant; the originals are also kept in the session's folder
and restored when the run ends, however it ends, and at the start of the next run if it was killed.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess  # nosec B404
import sys
import time
from pathlib import Path

import toml

from mutation_testing.collect import SessionRun
from mutation_testing.operators import excluded
from mutation_testing.shared_standins import shared_standins
from mutation_testing.targets import Target
from repo_layout import REPO_ROOT

WORK = REPO_ROOT / ".mutation"
BIN = Path(sys.executable).parent


def slug(target: Target) -> str:
    return "".join(c if c.isalnum() else "-" for c in target.name)


def _files(target: Target) -> list[Path]:
    files: list[Path] = []
    for path in (REPO_ROOT / p for p in target.paths):
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


def test_command(target: Target) -> list[str]:
    # -x: the first failure kills the mutant; -n 0: one process (xdist workers cost more than these tests
    # take); no cache so runs do not write into the tree.
    return [str(BIN / "python"), "-m", "pytest", "-q", "-x", "-n", "0", "-p", "no:cacheprovider", *target.tests]


class Originals:
    """A copy of the target's files, put back on exit (and on entry, after a run that was killed)."""

    def __init__(self, target: Target) -> None:
        self.folder = WORK / f"{slug(target)}.originals"
        self.files = _files(target)

    def _copy(self, file: Path) -> Path:
        return self.folder / file.relative_to(REPO_ROOT)

    def restore(self) -> list[Path]:
        restored = []
        for file in self.files:
            copy = self._copy(file)
            if copy.exists() and copy.read_bytes() != file.read_bytes():
                shutil.copyfile(copy, file)
                restored.append(file)
        return restored

    def __enter__(self) -> Originals:
        if self.folder.exists():
            for file in self.restore():
                print(f"mutation: restored {file.relative_to(REPO_ROOT)} from an interrupted run", file=sys.stderr)
        shutil.rmtree(self.folder, ignore_errors=True)
        for file in self.files:
            self._copy(file).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, self._copy(file))
            for stale in file.parent.glob(f"__pycache__/{file.stem}.*.pyc"):
                stale.unlink()  # bytecode of the same size and second as a mutant would hide it
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()
        shutil.rmtree(self.folder, ignore_errors=True)


def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO_ROOT, text=True, check=False, **kwargs)  # nosec B603


def _operators() -> list[str]:
    listed = _run([str(BIN / "cosmic-ray"), "operators"], capture_output=True)
    return [line.strip() for line in listed.stdout.splitlines() if line.strip()]


MutantKey = tuple[str, str, int]  # file from the repo root, cosmic-ray's operator, occurrence


def _skip_all_but(db: Path, only: set[MutantKey]) -> int:
    """Mark every pending mutant not in `only` as skipped, as cosmic-ray's own filters do; the count left."""
    from cosmic_ray.work_db import use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    left = 0
    with use_db(str(db)) as work_db:
        for item in list(work_db.pending_work_items):
            (mutation,) = item.mutations
            if (str(mutation.module_path), mutation.operator_name, mutation.occurrence) in only:
                left += 1
            else:
                work_db.set_result(item.job_id, WorkResult(output="Not rechecked",
                                                           worker_outcome=WorkerOutcome.SKIPPED))
    return left


def run(target: Target, only: set[MutantKey] | None = None) -> SessionRun:
    """Every mutant of the target, or with `only` just those (the survivors of its recorded run)."""
    WORK.mkdir(exist_ok=True)
    config, db = WORK / f"{slug(target)}.toml", WORK / f"{slug(target)}.sqlite"
    started = time.monotonic()
    with Originals(target), shared_standins(target.standins, WORK / f"{slug(target)}.standins") as standins:
        env = {**os.environ, **standins}  # cosmic-ray hands it on to every mutant's test run
        baseline = _run(test_command(target), capture_output=True, env=env)
        baseline_s = time.monotonic() - started
        if baseline.returncode != 0:
            raise RuntimeError(f"{target.name}: its tests fail before any mutation:\n{baseline.stdout[-3000:]}")
        config.write_text(toml.dumps({"cosmic-ray": {
            "module-path": list(target.paths),
            "excluded-modules": [],
            "test-command": shlex.join(test_command(target)),
            "timeout": round(10 + 5 * baseline_s, 1),
            "distributor": {"name": "local"},
            "filters": {"operators-filter": {"exclude-operators": excluded(_operators())}},
        }}))
        db.unlink(missing_ok=True)
        for step in ([str(BIN / "cosmic-ray"), "init", str(config), str(db)],
                     [str(BIN / "cr-filter-operators"), str(db), str(config)]):
            if _run(step).returncode != 0:
                raise RuntimeError(f"{target.name}: {shlex.join(step)} failed")
        if only is not None and _skip_all_but(db, only) != len(only):
            raise RuntimeError(f"{target.name}: cosmic-ray no longer makes every recorded survivor; run it in full")
        step = [str(BIN / "cosmic-ray"), "exec", str(config), str(db)]
        if _run(step, env=env).returncode != 0:
            raise RuntimeError(f"{target.name}: {shlex.join(step)} failed")
    dumped = _run([str(BIN / "cosmic-ray"), "dump", str(db)], capture_output=True)
    items = [tuple(json.loads(line)) for line in dumped.stdout.splitlines() if line.strip()]
    return SessionRun(target, items, baseline_s, time.monotonic() - started)
