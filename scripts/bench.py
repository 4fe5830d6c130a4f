"""`make bench`: run every benchmark in scripts/bench/ one after another (never in parallel: they
share two cores) and list the JSON results each wrote into docs/bench/."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORDER = ["ipc", "capture", "inference", "writer", "pipeline"]
# Further runs of a benchmark with other settings (each writes its own result files).
VARIANTS: dict[str, list[list[str]]] = {
    # One inference thread leaves a core to capture, IPC and the writer: the other side of the trade-off.
    "pipeline": [["--threads", "1", "--out", "docs/bench/pipeline-threads1.json",
                  "--plot", "docs/bench/pipeline-threads1.png"]],
}


def main() -> int:
    scripts = {p.stem: p for p in sorted((ROOT / "scripts" / "bench").glob("*.py")) if not p.stem.startswith("_")}
    names = [n for n in ORDER if n in scripts] + [n for n in scripts if n not in ORDER]
    failed = []
    for name in names:
        for extra in [[], *VARIANTS.get(name, [])]:
            label = " ".join([name, *extra])
            print(f"== bench {label}", flush=True)
            started = time.monotonic()
            result = subprocess.run([sys.executable, str(scripts[name]), *extra], cwd=ROOT, check=False)
            print(f"== bench {label}: exit {result.returncode} in {time.monotonic() - started:.0f} s", flush=True)
            if result.returncode:
                failed.append(label)
    for path in sorted((ROOT / "docs" / "bench").glob("*.json")):
        print(f"result: {path.relative_to(ROOT)}")
    # The README's benchmark table (and configuration reference) are generated from these files.
    subprocess.run([sys.executable, str(ROOT / "scripts" / "config_reference.py")], cwd=ROOT, check=False)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
