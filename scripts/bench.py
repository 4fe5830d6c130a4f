#!/usr/bin/env python3
"""`make bench`: run the benchmarks (the modules of scripts/lib/benchmarks/) one after another, never in

The code is in scripts/lib/benchmarks/runner.py; `scripts/bench.py --help` lists the options."""

import sys

from benchmarks.runner import main

if __name__ == "__main__":
    sys.exit(main())
