"""Backend names -> implementations, and what ``auto`` means on this machine."""

from __future__ import annotations

import functools
import importlib.util
import platform
from collections.abc import Callable
from pathlib import Path

from ssd_inference.backends.base import Backend, BackendError
from ssd_inference.backends.cpu_variants import is_build_of
from ssd_inference.backends.dlr_backend import DlrBackend
from ssd_inference.backends.dlr_privacy import dlr_installed
from ssd_inference.backends.litert_backend import LiteRtBackend
from ssd_inference.backends.onnxruntime_backend import OnnxRuntimeBackend
from ssd_inference.model_bundle import ModelBundle

BackendFactory = Callable[[ModelBundle, int], Backend]

BACKENDS: dict[str, BackendFactory] = {
    "dlr": DlrBackend,
    "onnxruntime": OnnxRuntimeBackend,
    "litert": LiteRtBackend,
    "onnxruntime-int8": functools.partial(OnnxRuntimeBackend, build="onnxruntime-int8"),
}
# Lower-precision builds run only when the configuration names them: `auto` and its fallbacks never do.
CHOSEN_ONLY = frozenset({"onnxruntime-int8"})
_MODULES = {"onnxruntime": "onnxruntime", "litert": "ai_edge_litert", "onnxruntime-int8": "onnxruntime"}


def _installed(name: str, machine: str) -> bool:
    if name == "dlr":
        # PyPI's DLR wheels carry the runtime library only for x86_64; elsewhere DLR counts only when
        # this machine has one installed with its library (Neo's device installers, a source build).
        if machine in ("x86_64", "AMD64"):
            return dlr_installed()
        return machine == platform.machine() and _dlr_library_installed()
    return importlib.util.find_spec(_MODULES[name]) is not None


def _dlr_library_installed() -> bool:
    spec = importlib.util.find_spec("dlr")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    return any(Path(folder, "libdlr.so").is_file() for folder in folders)


def available_backends(
    bundle: ModelBundle, factories: dict[str, BackendFactory] | None = None, machine: str | None = None
) -> list[str]:
    """Backends installed on ``machine`` (default: this one) that the model has an export for, in order of
    preference. With ``factories`` (tests), those are what is installed."""
    machine = machine or platform.machine()
    known = [name for name in factories or BACKENDS if name not in CHOSEN_ONLY]
    runnable = (lambda _: True) if factories is not None else (lambda name: _installed(name, machine))
    return [name for name in _preference(bundle, machine, known) if _has_build(bundle, name) and runnable(name)]


def _has_build(bundle: ModelBundle, name: str) -> bool:
    """The model has an export for ``name``; ``dlr`` may ship one build per CPU level (``dlr-avx512``)."""
    if name == DlrBackend.name:
        return any(is_build_of(key, name) for key in bundle.manifest.runtimes)
    return name in bundle.manifest.runtimes


def _preference(bundle: ModelBundle, machine: str, known: list[str]) -> list[str]:
    """model.json may order runtimes per machine (``runtime_preference``); the rest of ``known`` follow."""
    preference = getattr(bundle.manifest, "runtime_preference", None) or {}
    listed = preference.get(machine, []) if isinstance(preference, dict) else []
    ordered = [name for name in listed if name in known]
    return ordered + [name for name in known if name not in ordered]


def resolve_backend(
    choice: str, bundle: ModelBundle, factories: dict[str, BackendFactory] | None = None, machine: str | None = None
) -> list[str]:
    """Backends to try, in order: the chosen one first, then the others ``machine`` (default: this one) can run."""
    ordered = available_backends(bundle, factories, machine)
    if choice == "auto":
        return ordered
    if choice not in (factories or BACKENDS):
        raise BackendError(f"unknown backend {choice!r}; known: auto, {', '.join(factories or BACKENDS)}")
    return [choice, *(name for name in ordered if name != choice)]


def load_backend(
    name: str, bundle: ModelBundle, threads: int, factories: dict[str, BackendFactory] | None = None
) -> Backend:
    factory = (factories or BACKENDS).get(name)
    if factory is None:
        raise BackendError(f"unknown backend {name!r}")
    return factory(bundle, threads)
