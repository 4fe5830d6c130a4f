"""Which build of a compiled model this CPU can run, and which of those is fastest.

A model store may ship one DLR (TVM) build per CPU level: runtime ``dlr`` and ``dlr-<level>`` entries
of model.json, each with the target it was compiled for. A build that uses an instruction the CPU lacks
dies of SIGILL on its first frame, so a build is chosen only when every feature its target implies is
in the CPU's flags (``/proc/cpuinfo``); an LLVM target naming a CPU or feature we do not know is never
chosen. Of the builds left, the one that asks the most of the CPU is the fastest. A build whose target
says nothing we can check (none given, or a Neo device without a row below) is taken on trust, as a
single-build model always was, and only when no checked build fits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from smartcam.contracts.model_manifest import RuntimeSpec

CPUINFO = Path("/proc/cpuinfo")

# What each x86-64 level adds, in /proc/cpuinfo's names ("pni" is SSE3, "abm" is LZCNT).
_X86_64_V2 = frozenset({"cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3"})
_X86_64_V3 = _X86_64_V2 | {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe"}
_X86_64_V4 = _X86_64_V3 | {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}

# LLVM -mcpu values -> the CPU features a build for it may use. Only these are ever chosen.
MCPU_FEATURES: Mapping[str, frozenset[str]] = {
    "x86-64": frozenset(),
    "x86-64-v2": _X86_64_V2,
    "x86-64-v3": _X86_64_V3,
    "haswell": _X86_64_V3,
    "core-avx2": _X86_64_V3,
    "x86-64-v4": _X86_64_V4,
    "skylake-avx512": _X86_64_V4 | {"clflushopt", "clwb"},
    "cascadelake": _X86_64_V4 | {"clflushopt", "clwb", "avx512_vnni"},
    "generic": frozenset({"asimd"}),  # aarch64: the ARMv8-A base, NEON (asimd) included on Linux
    "cortex-a53": frozenset({"asimd"}),
    "cortex-a72": frozenset({"asimd"}),
}
# LLVM -mattr=+feature -> /proc/cpuinfo's name for it.
MATTR_FEATURES: Mapping[str, str] = {
    "sse4.1": "sse4_1", "sse4.2": "sse4_2", "avx": "avx", "avx2": "avx2", "fma": "fma", "f16c": "f16c",
    "avx512f": "avx512f", "avx512bw": "avx512bw", "avx512dq": "avx512dq", "avx512vl": "avx512vl",
    "avx512cd": "avx512cd", "avx512vnni": "avx512_vnni", "avxvnni": "avx_vnni", "neon": "asimd",
    "dotprod": "asimddp", "fp16": "fphp",
}
# SageMaker Neo targets (a TargetDevice, or a TargetPlatform as model_packaging/neo_compile.py names it)
# -> the -mcpu their builds use (instance families of each CPU generation) and the machine they run on.
NEO_DEVICE_MCPU: Mapping[str, str] = {
    "ml_c4": "core-avx2", "ml_m4": "core-avx2",
    "ml_c5": "skylake-avx512", "ml_m5": "skylake-avx512",
    "ml_c6i": "cascadelake", "ml_m6i": "cascadelake",
    "linux_x86_64": "x86-64", "linux_arm64": "generic", "ml_c6g": "generic", "ml_m6g": "generic",
}
_ARM_NEO_TARGETS = {"linux_arm64", "ml_c6g", "ml_m6g"}
NEO_DEVICE_MACHINE: Mapping[str, str] = {
    name: "aarch64" if name in _ARM_NEO_TARGETS else "x86_64" for name in NEO_DEVICE_MCPU
}
_TRIPLE_MACHINES = {"x86_64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


TRUSTED = frozenset({"<unchecked>"})  # what target_needs says of a target that names no CPU


@dataclass(frozen=True)
class Build:
    """One build of the model that this CPU can run: its model.json runtime key and what it needs
    (None: taken on trust)."""

    key: str
    needs: frozenset[str] | None

    @property
    def rank(self) -> int:
        return -1 if self.needs is None else len(self.needs)


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The CPU's feature flags (x86 ``flags``, ARM ``Features``) of the first processor listed;
    empty (the most careful answer) when they cannot be read."""
    if cpuinfo is None:
        try:
            cpuinfo = CPUINFO.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return frozenset()
    for line in cpuinfo.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def _target_machine(target: str) -> str | None:
    triple = re.search(r"-mtriple=(\S+)", target)
    if triple is None:
        return None
    return _TRIPLE_MACHINES.get(triple.group(1).split("-", 1)[0])


def target_needs(target: str | None, machine: str) -> frozenset[str] | None:
    """The CPU features a build for ``target`` may use on ``machine``; :data:`TRUSTED` when the target
    names no CPU we can check; None when it is not for this machine or names a CPU or feature we do
    not know."""
    if not target:
        return TRUSTED
    if target.startswith("sagemaker-neo:"):
        return _neo_needs(target.removeprefix("sagemaker-neo:"), machine)
    if not target.startswith("llvm") or _target_machine(target) != machine:
        return None
    return _llvm_needs(target, machine)


def _neo_needs(device: str, machine: str) -> frozenset[str] | None:
    if device not in NEO_DEVICE_MCPU:
        return TRUSTED
    return MCPU_FEATURES[NEO_DEVICE_MCPU[device]] if NEO_DEVICE_MACHINE[device] == machine else None


def _llvm_needs(target: str, machine: str) -> frozenset[str] | None:
    mcpu = re.search(r"-mcpu=(\S+)", target)
    needs = MCPU_FEATURES.get(mcpu.group(1) if mcpu else ("x86-64" if machine == "x86_64" else "generic"))
    mattr = re.search(r"-mattr=(\S+)", target)
    for attribute in mattr.group(1).split(",") if mattr else ():
        if needs is None or not attribute.startswith("+"):
            continue  # a feature turned off asks nothing of the CPU
        feature = MATTR_FEATURES.get(attribute[1:])
        needs = None if feature is None else needs | {feature}
    return needs


def is_build_of(key: str, family: str) -> bool:
    """``dlr`` and ``dlr-avx512`` are builds of ``dlr``."""
    return key == family or key.startswith(f"{family}-")


def runnable_builds(runtimes: Mapping[str, RuntimeSpec], family: str, machine: str,
                    flags: frozenset[str]) -> list[Build]:
    """The builds of ``family`` this CPU can run, the one that asks the most of it first."""
    builds = []
    for key, spec in runtimes.items():
        if not is_build_of(key, family) or (spec.platforms is not None and machine not in spec.platforms):
            continue
        needs = target_needs(spec.target, machine)
        if needs is TRUSTED:
            builds.append(Build(key, None))
        elif needs is not None and needs <= flags:
            builds.append(Build(key, needs))
    return sorted(builds, key=lambda build: (-build.rank, build.key))
