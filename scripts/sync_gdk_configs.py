#!/usr/bin/env python3
"""Write (or check) every components/*/gdk-config.json from gdk-config/environments.json.

The code is in scripts/lib/gdk_build/sync_configs.py; `scripts/sync_gdk_configs.py --help` lists the options."""

import sys

from gdk_build.sync_configs import main

if __name__ == "__main__":
    sys.exit(main())
