"""onnxruntime on the ONNX export, or on its INT8 build (``onnxruntime-int8``)."""

from __future__ import annotations

import numpy as np

from ssd_inference.backends.base import BackendError, map_outputs
from ssd_inference.model_bundle import ModelBundle


class OnnxRuntimeBackend:
    name = "onnxruntime"

    def __init__(self, bundle: ModelBundle, threads: int, *, build: str = "onnxruntime") -> None:
        """``build``: the model.json runtime to run (``onnxruntime-int8``: the quantized one)."""
        self.variant = build
        runtime = bundle.runtime(build)
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise BackendError(f"onnxruntime: not importable: {exc}") from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        path = bundle.path(runtime.path)
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types per failure
            raise BackendError(f"onnxruntime: cannot load {path}: {exc}") from exc
        inputs = [i.name for i in self._session.get_inputs()]
        self._input_name = runtime.input_name or bundle.input.name or inputs[0]
        if self._input_name not in inputs:
            raise BackendError(f"onnxruntime: model has no input {self._input_name!r} (has {', '.join(inputs)})")
        self._output_names = [o.name for o in self._session.get_outputs()]
        self._mapping = runtime.outputs
        self.threads = threads

    def run(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        try:
            raw = self._session.run(None, {self._input_name: tensor})
        except Exception as exc:
            raise BackendError(f"onnxruntime: inference failed: {exc}") from exc
        return map_outputs(self.name, raw, self._output_names, self._mapping)

    def close(self) -> None:
        self._session = None
