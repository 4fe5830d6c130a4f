"""`make mutation`: mutation testing of the modules whose mistakes lose or corrupt data or break a promise.

    .venv/bin/python scripts/mutation.py                      # every module (long: see the README)
    .venv/bin/python scripts/mutation.py event_tracker.assignment ssd_inference.decoders.selection
    .venv/bin/python scripts/mutation.py --list               # the modules and their tests
    .venv/bin/python scripts/mutation.py --report-only        # survivors.md and the README from report.json
    .venv/bin/python scripts/mutation.py --recheck event_tracker.zones   # only the survivors of its recorded run

Runs at the lowest CPU and I/O priority, one mutant at a time. Each run replaces its modules' entries in
docs/mutation/report.json, rewrites docs/mutation/survivors.md and the README's mutation table. Where the
modules and operators come from: scripts/lib/mutation/.
"""

import sys

from mutation_testing.cli import main

if __name__ == "__main__":
    sys.exit(main())
