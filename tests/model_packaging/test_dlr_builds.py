"""Each committed DLR build uses only the instructions of its CPU level, and the aarch64 build loads on
an aarch64 dynamic loader (qemu-user; scripts/setup-system installs it and the cross compiler)."""

from __future__ import annotations

import re
import shutil
import subprocess  # nosec B404
from pathlib import Path

import pytest

from model_packaging.model_card import DLR_BUILDS
from repo_layout import REPO_ROOT

MODEL = REPO_ROOT / "components" / "SsdModelStore" / "model"
SYSROOT = Path("/usr/aarch64-linux-gnu")
LOADER_SOURCE = r"""
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
    void *library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!library) { fprintf(stderr, "%s\n", dlerror()); return 1; }
    if (!dlsym(library, argv[2])) { fprintf(stderr, "%s\n", dlerror()); return 2; }
    puts("loaded");
    return 0;
}
"""


def disassembly(build: str) -> str:
    return subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(MODEL / build / "model.so")],  # nosec B603 B607
                          check=True, capture_output=True, text=True).stdout


def registers(text: str) -> set[str]:
    return set(re.findall(r"%([xyz]mm)\d+", text))


def test_the_baseline_build_uses_no_avx():
    text = disassembly("dlr-x86-64")
    assert registers(text) == {"xmm"}
    assert not re.search(r"^\s+\w+:\s+v\w+", text, re.MULTILINE), "a VEX-encoded instruction (AVX)"


def test_the_avx2_build_uses_avx2_and_fma_but_no_avx512():
    text = disassembly("dlr-avx2")
    assert "ymm" in registers(text) and "zmm" not in registers(text)
    assert re.search(r"\bvfmadd\w+", text)


def test_the_avx512_build_uses_avx512():
    assert "zmm" in registers(disassembly("dlr-avx512"))


def elf_machine(library: Path) -> str:
    header = subprocess.run(["readelf", "-h", str(library)], check=True, capture_output=True,  # nosec B603 B607
                            text=True).stdout
    return re.search(r"Machine:\s+(.+)", header).group(1).strip()


@pytest.fixture(scope="module")
def aarch64_loader(tmp_path_factory):
    for tool in ("aarch64-linux-gnu-gcc", "qemu-aarch64"):
        assert shutil.which(tool), f"{tool} missing: scripts/setup-system installs it"
    folder = tmp_path_factory.mktemp("aarch64")
    (folder / "loader.c").write_text(LOADER_SOURCE)
    subprocess.run(["aarch64-linux-gnu-gcc", "-o", str(folder / "loader"), str(folder / "loader.c"), "-ldl"],  # nosec B603 B607
                   check=True)
    return folder / "loader"


def load_under_qemu(loader: Path, library: Path, symbol: str) -> subprocess.CompletedProcess:
    return subprocess.run(["qemu-aarch64", "-L", str(SYSROOT), str(loader), str(library), symbol],  # nosec B603 B607
                          capture_output=True, text=True, timeout=60, check=False)


def test_the_aarch64_build_is_an_arm_library_that_loads_under_qemu(aarch64_loader):
    library = MODEL / "dlr-aarch64" / "model.so"
    assert elf_machine(library) == "AArch64"
    assert "neon" in DLR_BUILDS["dlr-aarch64"]
    loaded = load_under_qemu(aarch64_loader, library, "tvmgen_default_fused_layout_transform")
    assert (loaded.returncode, loaded.stdout.strip()) == (0, "loaded"), loaded.stderr


def test_an_x86_build_does_not_load_on_arm(aarch64_loader):
    loaded = load_under_qemu(aarch64_loader, MODEL / "dlr-avx2" / "model.so", "tvmgen_default_fused_layout_transform")
    # glibc's loader skips a library built for another machine and reports it as not found.
    assert loaded.returncode == 1 and "cannot open shared object file" in loaded.stderr
