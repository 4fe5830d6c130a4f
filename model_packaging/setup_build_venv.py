"""Create (or refresh) model_packaging/.venv-build: the build-time toolchain of `make model`.

Standard library only; run with a Python 3.11 interpreter: `python3 model_packaging/setup_build_venv.py`.
TensorFlow, tf2onnx and hhb-tvm live here and nowhere else (never in a component's runtime venv).
Its one .pth puts the repo root (model_packaging) and components/Runtime (the shared smartcam package,
whose ModelManifest contract model.json is written with) on the import path.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess  # nosec B404
import sys
import tempfile
import venv
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-build"
IMPORT_ROOTS = (HERE.parent, HERE.parent / "components" / "Runtime")
IMPORT_PTH = "smartcam-build.pth"
REQUIREMENTS = HERE / "requirements-build.txt"
STAMP_NAME = "smartcam-build-stamp.txt"
# Only cp38/cp310 wheels exist; the cp310 one works unzipped into 3.11 (ctypes FFI fallback).
HHB_TVM_VERSION = "3.2.3"
HHB_TVM_WHEEL = f"hhb_tvm-{HHB_TVM_VERSION}-cp310-cp310-manylinux1_x86_64.whl"
HHB_TVM_SHA256 = "b0ca0e3ecb7d15c3df15d59492a41f41c5a78d470fcbd17b8a493fabf2387148"


def _stamp_text() -> str:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes() + HHB_TVM_SHA256.encode()).hexdigest()
    return f"{sys.version_info[:2]} {digest}\n"


def _run(*command: str) -> None:
    subprocess.run(command, check=True)  # nosec B603


def _install_hhb_tvm(python: Path, site_packages: Path) -> None:
    with tempfile.TemporaryDirectory() as download_dir:
        _run(
            str(python), "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
            "--python-version", "3.10", "--platform", "manylinux1_x86_64",
            "--dest", download_dir, f"hhb-tvm=={HHB_TVM_VERSION}",
        )
        wheel = Path(download_dir) / HHB_TVM_WHEEL
        actual = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if actual != HHB_TVM_SHA256:
            raise SystemExit(f"{wheel.name}: sha256 {actual} differs from the pinned {HHB_TVM_SHA256}")
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(site_packages)


def write_import_roots(site_packages: Path) -> None:
    (site_packages / IMPORT_PTH).write_text("".join(f"{root}\n" for root in IMPORT_ROOTS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=VENV, help="where to build it (default: %(default)s)")
    target = parser.parse_args().venv
    if sys.version_info[:2] != (3, 11):
        raise SystemExit(f"run this with Python 3.11 (the pinned TensorFlow wheels are cp311), not {sys.version}")
    stamp = target / STAMP_NAME
    site_packages = target / "lib" / "python3.11" / "site-packages"
    if stamp.is_file() and stamp.read_text() == _stamp_text():
        write_import_roots(site_packages)  # a venv made before the .pth existed gets it too
        print(f"{target} is up to date")
        return
    venv.EnvBuilder(with_pip=True, clear=target.exists()).create(target)
    python = target / "bin" / "python"
    _run(str(python), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS))
    _install_hhb_tvm(python, site_packages)
    write_import_roots(site_packages)
    _run(str(python), "-c", "import tvm, tensorflow, tf2onnx, onnx, tflite, smartcam.contracts; "
         "print('build venv ok', tvm.__version__)")
    stamp.write_text(_stamp_text())


if __name__ == "__main__":
    main()
