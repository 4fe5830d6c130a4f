"""Make sure DLR cannot phone home before anything imports it.

On import, DLR 1.6 reads ``dlr/counter/ccm_config.json``; when the file is missing (or says
``enable_phone_home: true``) it POSTs device information to an AWS endpoint, and a model hash on
every DLRModel(). The device venv writes the file at install (smartcam.Runtime's bootstrap); this
is the second line of defence for venvs built some other way.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)

CONFIG_NAME = "ccm_config.json"


class PhoneHomeError(RuntimeError):
    pass


def dlr_installed() -> bool:
    return "dlr" in sys.modules or importlib.util.find_spec("dlr") is not None


def ensure_phone_home_disabled() -> None:
    """Write/repair the opt-out file next to DLR's counter module, without importing DLR.

    Raises PhoneHomeError when DLR would phone home and the file cannot be fixed; the caller
    must then not import DLR at all."""
    if "dlr" in sys.modules:
        _disable_loaded_counter()
        return
    spec = importlib.util.find_spec("dlr")
    if spec is None or not spec.submodule_search_locations:
        raise PhoneHomeError("DLR is not installed")
    counter = Path(next(iter(spec.submodule_search_locations))) / "counter"
    config = counter / CONFIG_NAME
    try:
        current = json.loads(config.read_text()) if config.is_file() else {}
    except (OSError, ValueError):
        current = {}
    if isinstance(current, dict) and current.get("enable_phone_home") is False:
        return
    settings = current if isinstance(current, dict) else {}
    settings["enable_phone_home"] = False
    try:
        config.write_text(json.dumps(settings))
    except OSError as exc:
        raise PhoneHomeError(f"cannot switch DLR's phone-home off in {config}: {exc}") from None
    log.warning("DLR phone-home was not disabled at install; wrote %s", config)


def _disable_loaded_counter() -> None:
    # Already imported (by someone else): make sure the model-load hook has no client to call.
    phone_home = sys.modules.get("dlr.counter.phone_home")
    if phone_home is not None and getattr(phone_home, "MGR", None) is not None:
        phone_home.PhoneHome.disable_feature()
        phone_home.MGR = None
