#!/usr/bin/env python3
"""`make demo`: the whole pipeline on the local Greengrass runtime, end to end, in one command.

The code is in scripts/lib/local_device/demo.py; `scripts/demo.py --help` lists the options."""

import sys

from local_device.demo import main

if __name__ == "__main__":
    sys.exit(main())
