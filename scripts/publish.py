#!/usr/bin/env python3
"""Publish every component of the repo to AWS IoT Greengrass, like `gdk component publish` per folder.

The code is in scripts/lib/fleet/publish_cli.py; `scripts/publish.py --help` lists the options."""

import sys

from fleet.publish_cli import main

if __name__ == "__main__":
    sys.exit(main())
