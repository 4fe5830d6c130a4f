"""Logging for components: one line per record on stdout, which the nucleus writes to the
component's own log file (/greengrass/v2/logs/<component>.log)."""

from __future__ import annotations

import logging
import os
import sys


def setup_logging(component: str) -> None:
    level = os.environ.get("SMARTCAM_LOG_LEVEL", "INFO").upper()
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s {component} %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level if level in logging.getLevelNamesMapping() else "INFO")
    logging.getLogger("awsiot").setLevel(logging.WARNING)
