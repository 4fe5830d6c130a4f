"""Which DLR build runs on which CPU: never one that needs an instruction the CPU lacks."""

from __future__ import annotations

import pytest

from smartcam.contracts.model_manifest import RuntimeSpec
from ssd_inference.backends import BackendError
from ssd_inference.backends.cpu_variants import (
    MCPU_FEATURES,
    NEO_DEVICE_MCPU,
    TRUSTED,
    cpu_flags,
    runnable_builds,
    target_needs,
)
from ssd_inference.backends.dlr_backend import DlrBackend
from ssd_inference.model_bundle import load_model_bundle
from tests.ssd_inference.helpers import MODEL_DIR, write_model_dir

X86 = "llvm -mtriple=x86_64-linux-gnu"
ARM = "llvm -mtriple=aarch64-linux-gnu"
BUILDS = {
    "dlr-avx2": f"{X86} -mcpu=core-avx2",
    "dlr-x86-64": f"{X86} -mcpu=x86-64",
    "dlr-avx512": f"{X86} -mcpu=skylake-avx512",
    "dlr-aarch64": f"{ARM} -mattr=+neon",
}
# /proc/cpuinfo flags of real CPUs, cut to what matters here.
NO_EXTENSIONS = frozenset({"fpu", "sse", "sse2", "lm"})  # a first-generation x86-64 (or an emulator's)
HASWELL = NO_EXTENSIONS | MCPU_FEATURES["core-avx2"]
SKYLAKE_SERVER = HASWELL | MCPU_FEATURES["skylake-avx512"]
CORTEX_A72 = frozenset({"fp", "asimd", "evtstrm", "crc32", "cpuid"})


def specs(targets: dict[str, str | None], platforms: dict[str, list[str]] | None = None) -> dict[str, RuntimeSpec]:
    return {key: RuntimeSpec(path=key, target=target, platforms=(platforms or {}).get(key))
            for key, target in targets.items()}


def chosen(flags: frozenset[str], machine: str = "x86_64", targets: dict[str, str | None] = BUILDS) -> list[str]:
    return [build.key for build in runnable_builds(specs(targets), "dlr", machine, flags)]


def test_flags_are_read_from_the_first_processor_on_x86_and_on_arm():
    x86 = "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu sse2 avx2 fma\n\nprocessor\t: 1\nflags\t: fpu\n"
    arm = "processor\t: 0\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32\nCPU implementer\t: 0x41\n"
    assert cpu_flags(x86) == {"fpu", "sse2", "avx2", "fma"}
    assert cpu_flags(arm) == {"fp", "asimd", "evtstrm", "crc32"}
    assert cpu_flags("processor\t: 0\nmodel name\t: something\n") == frozenset()


def test_this_machine_has_flags_to_choose_by():
    assert "sse2" in cpu_flags() or "asimd" in cpu_flags() or "fp" in cpu_flags()


@pytest.mark.parametrize(("flags", "expected"), [
    (frozenset(), ["dlr-x86-64"]),
    (NO_EXTENSIONS, ["dlr-x86-64"]),
    (HASWELL, ["dlr-avx2", "dlr-x86-64"]),
    (SKYLAKE_SERVER, ["dlr-avx512", "dlr-avx2", "dlr-x86-64"]),
])
def test_the_most_demanding_build_the_cpu_can_run_comes_first(flags, expected):
    assert chosen(flags) == expected


def test_a_cpu_one_feature_short_of_a_level_does_not_get_that_build():
    for missing in MCPU_FEATURES["core-avx2"]:
        assert chosen(HASWELL - {missing}) == ["dlr-x86-64"], missing
    for missing in MCPU_FEATURES["skylake-avx512"] - MCPU_FEATURES["core-avx2"]:
        assert chosen(SKYLAKE_SERVER - {missing})[0] == "dlr-avx2", missing


def test_arm_gets_its_own_build_and_never_an_x86_one():
    assert chosen(CORTEX_A72, "aarch64") == ["dlr-aarch64"]
    assert chosen(CORTEX_A72 - {"asimd"}, "aarch64") == []
    assert chosen(SKYLAKE_SERVER | CORTEX_A72, "armv7l") == []


def test_targets_that_name_a_cpu_or_feature_we_do_not_know_are_never_chosen():
    unknown = {"dlr-future": f"{X86} -mcpu=diamondrapids", "dlr-odd": f"{X86} -mcpu=x86-64 -mattr=+amx-tile"}
    assert chosen(SKYLAKE_SERVER, targets=unknown) == []
    assert target_needs(f"{X86} -mcpu=diamondrapids", "x86_64") is None
    assert target_needs(f"{X86} -mcpu=x86-64 -mattr=+amx-tile", "x86_64") is None
    assert target_needs("cuda -arch=sm_87", "x86_64") is None


def test_features_a_target_adds_or_turns_off():
    assert target_needs(f"{X86} -mcpu=x86-64 -mattr=+avx2,+fma", "x86_64") == {"avx2", "fma"}
    assert target_needs(f"{X86} -mcpu=x86-64 -mattr=-avx2", "x86_64") == frozenset()
    assert target_needs(ARM, "aarch64") == {"asimd"}
    assert target_needs(X86, "x86_64") == frozenset()
    assert target_needs(f"{ARM} -mattr=+neon", "x86_64") is None


def test_neo_devices_need_what_their_instance_generation_has():
    assert target_needs("sagemaker-neo:ml_c5", "x86_64") == MCPU_FEATURES["skylake-avx512"]
    assert target_needs("sagemaker-neo:ml_c4", "x86_64") == MCPU_FEATURES["core-avx2"]
    assert target_needs("sagemaker-neo:ml_c5", "aarch64") is None
    assert set(NEO_DEVICE_MCPU.values()) <= set(MCPU_FEATURES)


def test_a_build_that_names_no_cpu_is_taken_on_trust_only_after_every_checked_one():
    targets = {"dlr": None, "dlr-neo": "sagemaker-neo:jetson_nano", "dlr-x86-64": f"{X86} -mcpu=x86-64"}
    assert target_needs(None, "x86_64") is TRUSTED
    assert chosen(frozenset(), targets=targets) == ["dlr-x86-64", "dlr", "dlr-neo"]


def test_a_build_for_other_platforms_is_not_chosen():
    runtimes = specs({"dlr": None, "dlr-x86-64": f"{X86} -mcpu=x86-64"}, platforms={"dlr": ["aarch64"]})
    assert [b.key for b in runnable_builds(runtimes, "dlr", "x86_64", HASWELL)] == ["dlr-x86-64"]


def test_only_builds_of_the_family_are_considered():
    targets = {"dlrx": f"{X86} -mcpu=x86-64", "onnxruntime": None, "dlr-x86-64": f"{X86} -mcpu=x86-64"}
    assert chosen(HASWELL, targets=targets) == ["dlr-x86-64"]


def test_dlr_refuses_a_model_with_no_build_for_this_cpu_before_loading_anything(tmp_path):
    runtimes = {"dlr-avx2": {"path": "fake.model", "target": BUILDS["dlr-avx2"], "platforms": ["x86_64"]}}
    bundle = load_model_bundle(write_model_dir(tmp_path / "model", runtimes=runtimes))
    with pytest.raises(BackendError, match=r"no build of the model runs on this x86_64 CPU .*core-avx2"):
        DlrBackend(bundle, 1, machine="x86_64", flags=NO_EXTENSIONS)


def test_every_dlr_build_of_the_packaged_model_names_a_cpu_we_can_check():
    manifest = load_model_bundle(MODEL_DIR).manifest
    builds = {key: spec for key, spec in manifest.runtimes.items() if key == "dlr" or key.startswith("dlr-")}
    assert len(builds) >= 4, "baseline, AVX2+FMA, AVX-512 and aarch64 builds"
    for key, spec in builds.items():
        (machine,) = spec.platforms or [None]
        needs = target_needs(spec.target, machine)
        assert needs is not None and needs is not TRUSTED, key
    x86 = [b.key for b in runnable_builds(manifest.runtimes, "dlr", "x86_64", frozenset())]
    assert x86 == ["dlr-x86-64"], "a CPU with no extensions still has a build"


def test_a_build_asked_for_by_name_must_run_on_this_cpu(tmp_path):
    runtimes = {key: {"path": "fake.model", "target": target} for key, target in BUILDS.items()}
    bundle = load_model_bundle(write_model_dir(tmp_path / "model", runtimes=runtimes))
    refused = r"build 'dlr-avx512' does not run on this x86_64 CPU \(runnable: dlr-avx2, "
    with pytest.raises(BackendError, match=refused):
        DlrBackend(bundle, 1, machine="x86_64", flags=HASWELL, build="dlr-avx512")
