"""Facts about the device the nucleus tells every component through its environment."""

from __future__ import annotations

import os
import re

_THING = re.compile(r"^[a-zA-Z0-9:_-]{1,128}$")


class DeviceError(RuntimeError):
    pass


def thing_name() -> str:
    """The core device's thing name (AWS_IOT_THING_NAME), checked so it is safe inside topics."""
    name = os.environ.get("AWS_IOT_THING_NAME", "")
    if not _THING.match(name):
        raise DeviceError(f"AWS_IOT_THING_NAME {name!r} is missing or not a valid thing name")
    return name
