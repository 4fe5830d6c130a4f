"""Install step of smartcam.Runtime: one venv per device for every smartcam component.

Runs with the system python3 as the component user: no root, no global pip (PEP 668 safe). The
venv lives in this component's work folder; the shared ``smartcam`` package is put on its path by
a .pth file pointing at this version's unpacked artifact, so no component carries a copy.
Re-running with the same requirements and artifact is a no-op; a changed one builds a fresh venv
beside the old one and swaps a symlink to it, so a failed install never leaves a half-built venv in use.
DLR's phone-home is switched off before anything can import DLR.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil

# subprocess runs pip and venv with fixed arguments.
import subprocess  # nosec B404
import sys
import venv
from pathlib import Path

STAMP = "smartcam-runtime.json"


def site_packages(venv_dir: Path) -> Path:
    out = subprocess.run(  # nosec B603
        [str(venv_dir / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    )
    return Path(out.stdout.strip())


def disable_dlr_phone_home(site: Path) -> None:
    counter = site / "dlr" / "counter"
    if counter.is_dir():
        (counter / "ccm_config.json").write_text(json.dumps({"enable_phone_home": False}))


def wanted_stamp(requirements: Path, shared_code: list[Path]) -> dict[str, object]:
    return {
        "requirements_sha256": hashlib.sha256(requirements.read_bytes()).hexdigest(),
        "shared_code": [str(folder.resolve()) for folder in shared_code],
        "python": sys.version.split()[0],
    }


def install(venv_link: Path, requirements: Path, shared_code: list[Path], pip_args: list[str]) -> bool:
    """Make ``venv_link`` point at a venv built for exactly these requirements and shared code.

    ``shared_code`` lists the folders put on the venv's import path (one .pth): on a device the
    Runtime artifact; in the dev venv also each component's folder, ``scripts/lib`` and the repo root.

    Each distinct set gets its own folder ``<link>-<hash>``; the link is swapped atomically once the
    new venv is complete, then older folders are removed. Returns False when nothing had to change.
    """
    if not requirements.is_file():
        raise SystemExit(f"requirements file not found: {requirements}")
    if not any((folder / "smartcam" / "__init__.py").is_file() for folder in shared_code):
        raise SystemExit(f"shared package 'smartcam' not found under {', '.join(map(str, shared_code))}")
    missing = [str(folder) for folder in shared_code if not folder.is_dir()]
    if missing:
        raise SystemExit(f"shared code folder not found: {', '.join(missing)}")
    stamp = wanted_stamp(requirements, shared_code)
    digest = hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()[:16]
    target = venv_link.with_name(f"{venv_link.name}-{digest}")
    if venv_link.is_symlink() and venv_link.resolve() == target.resolve() and (target / STAMP).is_file():
        print(f"runtime venv {venv_link} -> {target.name} is up to date")
        return False
    if venv_link.exists() and not venv_link.is_symlink():
        raise SystemExit(f"{venv_link} exists and is not a link made by this script: move it away first")

    shutil.rmtree(target, ignore_errors=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(target)
    subprocess.run(  # nosec B603
        [str(target / "bin" / "python"), "-m", "pip", "install", "--no-input", "--disable-pip-version-check",
         "-r", str(requirements), *pip_args],
        check=True,
    )
    site = site_packages(target)
    disable_dlr_phone_home(site)
    (site / "smartcam-shared.pth").write_text("".join(f"{folder.resolve()}\n" for folder in shared_code))
    (target / STAMP).write_text(json.dumps(stamp))

    swap = venv_link.with_name(venv_link.name + ".swap")
    swap.unlink(missing_ok=True)
    swap.symlink_to(target.name)
    swap.replace(venv_link)
    for stale in venv_link.parent.glob(f"{venv_link.name}-*"):
        if stale != target and (stale / STAMP).exists():
            shutil.rmtree(stale, ignore_errors=True)
    print(f"runtime venv ready: {venv_link} -> {target.name}")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--venv", type=Path, required=True, help="venv folder, e.g. {work:path}/venv")
    parser.add_argument("--requirements", type=Path, required=True)
    parser.add_argument("--shared-code", type=Path, required=True, action="append",
                        help="folder put on the venv's import path (repeatable); one must hold the smartcam package")
    parser.add_argument("pip_args", nargs="*", help="extra pip arguments (e.g. --index-url for a mirror)")
    args = parser.parse_args(argv)
    install(args.venv, args.requirements, args.shared_code, args.pip_args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
