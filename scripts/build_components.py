#!/usr/bin/env python3
"""Build every component the way ``gdk component build`` (GDK CLI 1.6.2, zip build system) does.

The code is in scripts/lib/gdk_build/cli.py; `scripts/build_components.py --help` lists the options."""

import sys

from gdk_build.cli import main

if __name__ == "__main__":
    sys.exit(main())
