"""A wheelhouse of the device venv's pinned packages, cached outside the repository.

smartcam.Runtime's install step builds the venv with pip as the component user. In the private
namespace it gets ``PIP_FIND_LINKS`` and ``PIP_NO_INDEX`` pointing here (test settings, not
recipe changes), so every run installs the same files offline in seconds instead of downloading
~500 MB. Keyed by the requirements file's sha256; built once with the dev venv's pip.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

CACHE_ROOT = Path(os.environ.get("SMARTCAM_WHEELHOUSE_CACHE", "/var/cache/smartcam/wheels"))
DONE = ".complete"


class WheelhouseError(RuntimeError):
    pass


def ensure_wheelhouse(requirements: Path, cache_root: Path = CACHE_ROOT) -> Path:
    """The folder holding a wheel for every requirement (downloaded once per requirements file)."""
    key = hashlib.sha256(requirements.read_bytes()).hexdigest()[:24]
    folder = cache_root / key
    if (folder / DONE).exists():
        return folder
    cache_root.mkdir(parents=True, exist_ok=True)
    with (cache_root / f"{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / DONE).exists():
            partial = cache_root / f"{key}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            result = subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                 "--only-binary=:all:", "-r", str(requirements), "--dest", str(partial)],
                capture_output=True, text=True, check=False)
            if result.returncode != 0:
                shutil.rmtree(partial, ignore_errors=True)
                raise WheelhouseError(f"pip download failed: {result.stderr.strip()[-1500:]}")
            (partial / DONE).write_text(requirements.read_text())
            partial.rename(folder)
    # The component user inside the namespace reads it.
    for path in (cache_root, folder, *folder.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folder
