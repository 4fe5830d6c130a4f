"""LiteRT (ai-edge-litert) on the TFLite export."""

from __future__ import annotations

import numpy as np

from ssd_inference.backends.base import BackendError, map_outputs
from ssd_inference.model_bundle import ModelBundle


class LiteRtBackend:
    name = "litert"
    variant = "litert"  # one build

    def __init__(self, bundle: ModelBundle, threads: int) -> None:
        runtime = bundle.runtime(self.name)
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise BackendError(f"litert: not importable: {exc}") from exc
        path = bundle.path(runtime.path)
        try:
            self._interpreter = Interpreter(model_path=str(path), num_threads=threads)
            self._interpreter.allocate_tensors()
        except Exception as exc:  # LiteRT raises ValueError/RuntimeError depending on the failure
            raise BackendError(f"litert: cannot load {path}: {exc}") from exc
        inputs = self._interpreter.get_input_details()
        by_name = {d["name"]: d["index"] for d in inputs}
        wanted = runtime.input_name or bundle.input.name or inputs[0]["name"]
        if wanted not in by_name:
            raise BackendError(f"litert: model has no input {wanted!r} (has {', '.join(by_name)})")
        self._input_index = by_name[wanted]
        outputs = self._interpreter.get_output_details()
        self._output_indices = [d["index"] for d in outputs]
        self._output_names = [d["name"] for d in outputs]
        self._mapping = runtime.outputs
        self.threads = threads

    def run(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        try:
            self._interpreter.set_tensor(self._input_index, tensor)
            self._interpreter.invoke()
            raw = [self._interpreter.get_tensor(i) for i in self._output_indices]
        except Exception as exc:
            raise BackendError(f"litert: inference failed: {exc}") from exc
        return map_outputs(self.name, raw, self._output_names, self._mapping)

    def close(self) -> None:
        self._interpreter = None
