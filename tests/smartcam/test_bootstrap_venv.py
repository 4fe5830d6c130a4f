
"""smartcam.Runtime's install step, run for real: a venv behind a link, smartcam on its path, idempotent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from repo_layout import REPO_ROOT

REPO = REPO_ROOT
RUNTIME = REPO / "components" / "Runtime"
GENEROUS_S = 600


def bootstrap(venv: Path, requirements: Path) -> subprocess.CompletedProcess:
    # --no-index: nothing to download, so no network is touched.
    return subprocess.run(
        [sys.executable, str(RUNTIME / "bootstrap_venv.py"), "--venv", str(venv), "--requirements", str(requirements),
         "--shared-code", str(RUNTIME), "--", "--no-index", "--quiet"],
        capture_output=True, text=True, timeout=GENEROUS_S, check=False)


def test_bootstrap_builds_a_linked_venv_with_smartcam_on_its_path_and_reruns_as_a_no_op(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# nothing to install in this test\n")
    venv = tmp_path / "work" / "venv"
    venv.parent.mkdir()

    first = bootstrap(venv, requirements)
    assert first.returncode == 0, first.stdout + first.stderr

    assert venv.is_symlink()
    target = venv.resolve()
    assert target.parent == venv.parent and target.name.startswith("venv-")
    assert (target / "pyvenv.cfg").is_file()
    found = subprocess.run([str(venv / "bin" / "python"), "-c", "import smartcam; print(smartcam.__file__)"],
                           capture_output=True, text=True, timeout=GENEROUS_S, check=False)
    assert found.returncode == 0, found.stderr
    assert Path(found.stdout.strip()).resolve() == (RUNTIME / "smartcam" / "__init__.py").resolve()

    stamp = target / "smartcam-runtime.json"
    stamp_before = stamp.stat().st_mtime_ns
    second = bootstrap(venv, requirements)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "up to date" in second.stdout
    assert venv.resolve() == target
    assert stamp.stat().st_mtime_ns == stamp_before
    assert sorted(p.name for p in venv.parent.iterdir()) == ["venv", target.name]
