"""`make bench`: run the benchmarks (the modules of scripts/lib/benchmarks/) one after another, never in
parallel (they share two cores), then regenerate the README's tables from their JSON in docs/bench/.

    .venv/bin/python scripts/bench.py                      # all of them, with their variants
    .venv/bin/python scripts/bench.py pipeline --threads 1 # one benchmark, with its own arguments
"""

from __future__ import annotations

import subprocess
import sys
import time

from benchmarks import NAMES, VARIANTS
from repo_layout import BENCH_RESULTS_DIR, REPO_ROOT


def run(name: str, extra: list[str]) -> bool:
    label = " ".join([name, *extra])
    print(f"== bench {label}", flush=True)
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", *extra], cwd=REPO_ROOT, check=False)
    print(f"== bench {label}: exit {result.returncode} in {time.monotonic() - started:.0f} s", flush=True)
    return result.returncode == 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if argv:
        if argv[0] not in NAMES:
            print(f"unknown benchmark {argv[0]!r}; choose one of: {', '.join(NAMES)}", file=sys.stderr)
            return 2
        return 0 if run(argv[0], argv[1:]) else 1
    failed = [" ".join([name, *extra]) for name in NAMES for extra in [[], *VARIANTS.get(name, [])]
              if not run(name, extra)]
    for path in sorted(BENCH_RESULTS_DIR.glob("*.json")):
        print(f"result: {path.relative_to(REPO_ROOT)}")
    subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "update_readme.py")], cwd=REPO_ROOT, check=False)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
