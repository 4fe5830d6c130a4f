"""Facts about the device the nucleus tells every component through its environment."""

from __future__ import annotations

import os
import re
from pathlib import Path

_THING = re.compile(r"^[a-zA-Z0-9:_-]{1,128}$")


class DeviceError(RuntimeError):
    pass


def thing_name() -> str:
    """The core device's thing name (AWS_IOT_THING_NAME), checked so it is safe inside topics."""
    name = os.environ.get("AWS_IOT_THING_NAME", "")
    if not _THING.match(name):
        raise DeviceError(f"AWS_IOT_THING_NAME {name!r} is missing or not a valid thing name")
    return name


def work_file(variable: str, recipe_value: str) -> Path:
    """A file in the component's work folder, as its recipe's Setenv names it (``recipe_value``, e.g.
    ``{work:path}/spool.sqlite3``, is only quoted in the error)."""
    value = os.environ.get(variable, "")
    if not value or not os.path.isabs(value):
        raise DeviceError(f"{variable} must be an absolute path (the recipe sets {recipe_value})")
    return Path(value)
