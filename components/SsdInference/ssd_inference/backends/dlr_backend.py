"""DLR 1.6 running a SageMaker Neo (TVM graph runtime) artifact: .so + .json + .params (+ .meta)."""

from __future__ import annotations

import ctypes
import logging
import os
import platform

import numpy as np

from ssd_inference.backends.base import BackendError, map_outputs
from ssd_inference.backends.cpu_variants import cpu_flags, is_build_of, runnable_builds
from ssd_inference.backends.dlr_privacy import PhoneHomeError, ensure_phone_home_disabled
from ssd_inference.model_bundle import ModelBundle

log = logging.getLogger(__name__)


class DlrBackend:
    name = "dlr"

    def __init__(self, bundle: ModelBundle, threads: int, *, machine: str | None = None,
                 flags: frozenset[str] | None = None, build: str | None = None) -> None:
        """Loads the build of the model that asks the most of this CPU among those it can run, or
        ``build`` (benchmarks) if this CPU can run it. ``machine`` and ``flags``: this one's unless given."""
        machine = machine or platform.machine()
        builds = [b.key for b in runnable_builds(bundle.manifest.runtimes, self.name, machine,
                                                 cpu_flags() if flags is None else flags)]
        shipped = ", ".join(f"{key} ({spec.target})" for key, spec in bundle.manifest.runtimes.items()
                            if is_build_of(key, self.name))
        if not builds:
            raise BackendError(f"dlr: no build of the model runs on this {machine} CPU (the model has {shipped})")
        if build is not None and build not in builds:
            raise BackendError(f"dlr: build {build!r} does not run on this {machine} CPU (runnable: "
                               f"{', '.join(builds)}; the model has {shipped})")
        self.variant = build or builds[0]
        runtime = bundle.runtime(self.variant)
        try:
            ensure_phone_home_disabled()
        except PhoneHomeError as exc:
            raise BackendError(f"dlr: {exc}") from exc
        # TVM sizes its thread pool from this when the first model runs in the process.
        os.environ["TVM_NUM_THREADS"] = str(threads)
        # TVM's defaults suit a machine that runs nothing else; here the cores are shared with capture
        # and the writer. Pinned threads (with one thread, the calling thread is pinned to core 0) wait
        # for their core while another is idle; idle workers spin ~300k yields between frames (measured:
        # 121 ms CPU per frame at 10 fps; 10k spins: 44 ms, same fps and latency). Operators' own win.
        os.environ.setdefault("TVM_BIND_THREADS", "0")
        os.environ.setdefault("TVM_THREAD_POOL_SPIN_COUNT", "10000")
        try:
            import dlr  # deliberately late: see dlr_privacy
        except ImportError as exc:
            raise BackendError(f"dlr: runtime not importable: {exc}") from exc
        folder = bundle.path(runtime.path)
        try:
            self._model = dlr.DLRModel(str(folder), dev_type="cpu")
        except Exception as exc:  # DLR raises bare Exception/DLRError for every load failure
            raise BackendError(f"dlr: cannot load {folder}: {exc}") from exc
        names = self._model.get_input_names()
        self._input_name = runtime.input_name or bundle.input.name or (names[0] if names else "input")
        if names and self._input_name not in names:
            raise BackendError(f"dlr: model has no input {self._input_name!r} (has {', '.join(names)})")
        self._output_names = list(self._model.get_output_names() or [])
        self._mapping = runtime.outputs
        self.threads = threads
        self._set_threads(threads)

    def _set_threads(self, threads: int) -> None:
        # DLR 1.6's C API has SetDLRNumThreads; the Python wrapper does not expose it.
        impl = getattr(self._model, "_impl", None)
        lib = getattr(impl, "_lib", None)
        setter = getattr(lib, "SetDLRNumThreads", None)
        if setter is None:
            return
        if setter(ctypes.byref(impl.handle), ctypes.c_int(threads)) != 0:
            log.warning("dlr: SetDLRNumThreads(%d) failed; TVM_NUM_THREADS applies", threads)

    def run(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        try:
            raw = self._model.run({self._input_name: tensor})
        except Exception as exc:
            raise BackendError(f"dlr: inference failed: {exc}") from exc
        return map_outputs(self.name, raw, self._output_names, self._mapping)

    def close(self) -> None:
        self._model = None
