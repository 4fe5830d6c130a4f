#!/usr/bin/env python3
"""Deploy a deployment document (recipes/<env>.json) to a thing group, report per device, roll back.

The code is in scripts/lib/fleet/deploy_cli.py; `scripts/deploy.py --help` lists the options."""

import sys

from fleet.deploy_cli import main

if __name__ == "__main__":
    sys.exit(main())
