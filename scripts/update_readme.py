"""Regenerate the README's configuration reference and benchmark table; `--check` fails when stale.

    .venv/bin/python scripts/update_readme.py           # rewrite both sections of README.md
    .venv/bin/python scripts/update_readme.py --check   # exit 1 if README.md is out of date

Where each section comes from: scripts/lib/readme_tables/.
"""

import sys

from readme_tables.readme import main

if __name__ == "__main__":
    sys.exit(main())
