"""One usable model: verified bundle + decoder + preprocessing + a loaded backend."""

from __future__ import annotations

import logging
import os
import queue
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from smartcam.contracts import Detection
from ssd_inference.backends import Backend, BackendError, load_backend, resolve_backend
from ssd_inference.backends.registry import BackendFactory
from ssd_inference.decoders import (
    Decoder,
    DecoderError,
    Selection,
    build_decoder,
    foreground_labels,
    select_with_weak,
)
from ssd_inference.decoders import to_detections as name_detections
from ssd_inference.model_bundle import ModelBundle, ModelError, load_model_bundle
from ssd_inference.preprocessing import Preprocessor

log = logging.getLogger(__name__)

MODEL_DIR_ENV = "SMARTCAM_MODEL_DIR"


class EngineError(RuntimeError):
    """Nothing can be served with this model (folder, decoder or every backend unusable)."""


def model_dir_from_env() -> Path:
    value = os.environ.get(MODEL_DIR_ENV, "")
    if not value:
        raise EngineError(f"{MODEL_DIR_ENV} is not set: the recipe points it at smartcam.SsdModelStore's model")
    return Path(value)


@dataclass(frozen=True)
class PreparedModel:
    """Everything about the model except the runtime: checked once, reused across backend reloads."""

    bundle: ModelBundle
    decoder: Decoder
    labels: tuple[str, ...]
    preprocess: Preprocessor

    @classmethod
    def load(cls, model_dir: str | os.PathLike[str]) -> PreparedModel:
        try:
            bundle = load_model_bundle(model_dir)
            spec = bundle.decoder
            decoder = build_decoder(spec.type, spec.params, bundle.anchors, (bundle.input.height, bundle.input.width))
            preprocess = Preprocessor(bundle.input)
        except (ModelError, DecoderError, ValueError) as exc:
            raise EngineError(str(exc)) from exc
        labels = foreground_labels(spec.type, spec.params, bundle.labels)
        return cls(bundle, decoder, labels, preprocess)

    @property
    def input_size(self) -> tuple[int, int]:
        """(width, height) of the model input."""
        return self.bundle.input.width, self.bundle.input.height

    def class_ids(self, names: Iterable[str]) -> frozenset[int] | None:
        """Class ids of an allow-list; None (every class) for an empty list. Unknown names match nothing."""
        wanted = set(names)
        if not wanted:
            return None
        return frozenset(i for i, label in enumerate(self.labels) if label in wanted)


@dataclass(frozen=True)
class Found:
    """What the model found in one frame: the results (``detections``, scoreThreshold and up) and the weak
    ``candidates`` below them (from trackingScoreThreshold), for a tracker only."""

    detections: list[Detection]
    candidates: list[Detection]


@dataclass
class Engine:
    """``backend`` and, for more streams, ``more`` copies of it: :meth:`infer` may be called from as many
    threads at once as there are copies, each call on a copy no other call is using."""

    model: PreparedModel
    backend: Backend
    warnings: list[str] = field(default_factory=list)  # e.g. the chosen backend failed, another serves
    more: list[Backend] = field(default_factory=list)
    _free: queue.SimpleQueue[Backend] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._free = queue.SimpleQueue()
        for backend in (self.backend, *self.more):
            self._free.put(backend)

    @property
    def streams(self) -> int:
        return 1 + len(self.more)

    @property
    def backend_name(self) -> str:
        return self.backend.name

    @property
    def backend_variant(self) -> str | None:
        """The build of the model that runs, when the backend has several (``dlr-avx512``)."""
        variant = getattr(self.backend, "variant", self.backend.name)
        return None if variant == self.backend.name else variant

    @property
    def serving(self) -> str:
        """The backend and the build that runs, for logs and health: ``dlr (dlr-avx512)``."""
        variant = self.backend_variant
        return self.backend_name if variant is None else f"{self.backend_name} ({variant})"

    @classmethod
    def start(
        cls,
        model: PreparedModel,
        choice: str,
        threads: int,
        factories: dict[str, BackendFactory] | None = None,
        *,
        fall_back: bool = True,
        streams: int = 1,
    ) -> Engine:
        """Load ``choice`` (``auto``: the best backend here); if it fails and ``fall_back``, the next
        one that works; then ``streams`` - 1 more copies of the one that loaded (a copy that fails to load
        leaves fewer streams, with a warning). EngineError when no backend loads."""
        try:
            candidates = resolve_backend(choice, model.bundle, factories)
        except BackendError as exc:
            raise EngineError(str(exc)) from exc
        if not fall_back:
            candidates = candidates[:1]
        if not candidates:
            raise EngineError(
                f"no backend can run model {model.bundle.name}: it has {', '.join(model.bundle.manifest.runtimes)}, "
                "none installed here"
            )
        failures: list[str] = []
        for name in candidates:
            try:
                backend = load_backend(name, model.bundle, threads, factories)
            except (BackendError, ModelError) as exc:
                log.error("backend %s unusable: %s", name, exc)
                failures.append(str(exc))
                continue
            more = _more_copies(name, model, threads, factories, count=streams - 1, warnings=failures)
            return cls(model, backend, failures, more)
        raise EngineError("no backend could load the model: " + "; ".join(failures))

    def preprocess(self, rgb: np.ndarray) -> np.ndarray:
        return self.model.preprocess(rgb)

    def infer(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        backend = self._free.get()
        try:
            return backend.run(tensor)
        finally:
            self._free.put(backend)

    def postprocess(self, outputs: dict[str, np.ndarray], selection: Selection) -> Found:
        """The model's outputs decoded down to the tracking threshold; the results selected from them
        exactly as if decoded at the score threshold, and the weak detections below it."""
        decoded = self.model.decoder.decode(outputs, selection.decode_threshold)
        results, weak = select_with_weak(decoded, selection)
        labels = self.model.labels
        return Found(name_detections(results, labels), name_detections(weak, labels))

    def close(self) -> None:
        for backend in (self.backend, *self.more):
            backend.close()


def _more_copies(name: str, model: PreparedModel, threads: int, factories: dict[str, BackendFactory] | None, *,
                 count: int, warnings: list[str]) -> list[Backend]:
    copies: list[Backend] = []
    for _ in range(count):
        try:
            copies.append(load_backend(name, model.bundle, threads, factories))
        except (BackendError, ModelError) as exc:
            log.error("backend %s: another stream could not load: %s", name, exc)
            warnings.append(f"only {1 + len(copies)} of {1 + count} streams of {name} loaded: {exc}")
            break
    return copies
