"""Loading the model, retrying an unusable one, and reloading the backend in place.

Used from the inference worker thread only; what goes wrong is reported on the status topic.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from smartcam.telemetry import HealthState, StatusReporter
from ssd_inference.backends.registry import BackendFactory
from ssd_inference.engine import Engine, EngineError, PreparedModel, model_dir_from_env
from ssd_inference.settings import SsdInferenceConfig

log = logging.getLogger(__name__)

MODEL_RETRY_S = 30.0  # an unusable model folder is re-checked this often


def inference_threads(configured: int, cores: int | None = None, streams: int = 1) -> int:
    """``threads`` as configured, or for 0 the cores this process may use (its CPU affinity: a container's
    or a cgroup's cpuset counts) minus one for capture, IPC and the writer, shared among ``streams``
    copies of the model, at least 1 each."""
    if configured > 0:
        return configured
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, (cores - 1) // streams)


class ModelLoader:
    """The served engine, or why there is none."""

    def __init__(self, status: StatusReporter, model_dir: Path | None = None,
                 backend_factories: dict[str, BackendFactory] | None = None) -> None:
        self._status = status
        self._model_dir = model_dir
        self._factories = backend_factories
        self._model: PreparedModel | None = None
        self.engine: Engine | None = None
        self.problem: str | None = None
        self._next_retry = 0.0

    def retry_due(self) -> bool:
        return self.engine is None and time.monotonic() >= self._next_retry

    def load(self, config: SsdInferenceConfig) -> bool:
        """Verify the model folder (once) and start a backend; False (reported) when nothing can serve."""
        self._next_retry = time.monotonic() + MODEL_RETRY_S
        try:
            self._model = self._model or PreparedModel.load(self._model_dir or model_dir_from_env())
            self.engine = Engine.start(self._model, config.backend,
                                       inference_threads(config.threads, streams=config.streams), self._factories,
                                       streams=config.streams)
        except EngineError as exc:
            self._model = None
            self.problem = str(exc)
            self._status.report("modelUnusable", str(exc), "errored")
            return False
        self.problem = None
        for warning in self.engine.warnings:
            self._status.report("backendFallback", f"{warning}; serving with {self.engine.serving}")
        bundle = self._model.bundle
        log.info("model %s %s ready on %s (%d threads, %d streams)", bundle.name, bundle.version,
                 self.engine.serving, self.engine.backend.threads, self.engine.streams)
        return True

    def reload(self, config: SsdInferenceConfig) -> bool:
        """Start the configured backend and close the old one; on failure the old one keeps serving.
        True when the backend was replaced."""
        if self._model is None or self.engine is None:
            return False  # loading from scratch applies the new settings anyway
        try:
            engine = Engine.start(self._model, config.backend,
                                  inference_threads(config.threads, streams=config.streams), self._factories,
                                  fall_back=False, streams=config.streams)
        except EngineError as exc:
            self._status.report("backendReloadFailed", f"{exc}; still serving with {self.engine.serving}")
            return False
        old, self.engine = self.engine, engine
        old.close()
        log.info("backend reloaded: %s with %d threads, %d streams", engine.serving, engine.backend.threads,
                 engine.streams)
        return True

    def health(self, config: SsdInferenceConfig) -> tuple[HealthState, str]:
        """The component's state as far as the model goes, and a line saying why."""
        if self.engine is None:
            return "errored", f"model unusable: {self.problem}"
        bundle = self.engine.model.bundle
        chosen = config.backend in ("auto", self.engine.backend_name, self.engine.backend_variant)
        threads, streams = self.engine.backend.threads, self.engine.streams
        detail = f"{bundle.name} {bundle.version} on {self.engine.serving}, {threads} thread{'s' * (threads > 1)}"
        if streams > 1:
            detail += f" x {streams} streams"
        return ("ok", detail) if chosen else ("degraded", f"{detail} (configured: {config.backend})")

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
