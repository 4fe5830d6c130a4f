"""Build every component: the real GDK CLI when it is installed, else the repo's GDK-equivalent build."""

from __future__ import annotations

import shutil
import subprocess  # nosec B404
import sys
from pathlib import Path

from fleet.aws import FleetError
from fleet.components import REPO_ROOT, discover_projects


def real_gdk() -> str | None:
    """Path of the GDK CLI, or None. The PyPI package named `gdk` is an unrelated library: only a
    `gdk` whose version/help text names Greengrass counts."""
    gdk = shutil.which("gdk")
    if gdk is None:
        return None
    texts = []
    for flag in ("--version", "--help"):
        try:
            done = subprocess.run([gdk, flag], capture_output=True, text=True, timeout=60, check=False)  # nosec B603
        except (OSError, subprocess.TimeoutExpired):
            return None
        texts.append(done.stdout + done.stderr)
    return gdk if "greengrass" in " ".join(texts).lower() else None


def build_all(root: Path = REPO_ROOT) -> str:
    """Build every GDK project under components/; returns which builder was used."""
    gdk = real_gdk()
    if gdk is not None:
        for project in discover_projects(root):
            _run([gdk, "component", "build"], cwd=project.folder)
        return "gdk"
    script = root / "scripts" / "build_components.py"
    if not script.exists():
        raise FleetError(f"neither the GDK CLI nor {script} is available to build the components")
    _run([sys.executable, str(script)], cwd=root)
    return "scripts/build_components.py"


def _run(command: list[str], cwd: Path) -> None:
    # The argv is the GDK CLI or the repo's build script, never user text through a shell.
    done = subprocess.run(command, cwd=cwd, check=False)  # nosec B603
    if done.returncode != 0:
        raise FleetError(f"build failed ({' '.join(command)} in {cwd}, exit {done.returncode})")
