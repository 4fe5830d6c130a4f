"""Run a packaged model folder's raw outputs on DLR, onnxruntime or LiteRT, driven only by its model.json.

Verification tooling for the packaging tests (the inference component has its own backends). Each
runtime is imported lazily: a device without one of them can still use the others.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from model_packaging.model_json import load_model_json

Runner = Callable[[np.ndarray], dict[str, np.ndarray]]


class PhoneHomeEnabledError(RuntimeError):
    """DLR would report device data to AWS on import: the install step must disable it first."""


def dlr_phone_home_config() -> Path:
    spec = importlib.util.find_spec("dlr")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("dlr is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "counter" / "ccm_config.json"


def assert_dlr_phone_home_disabled() -> None:
    """Checked BEFORE `import dlr`: the import itself sends data when the file is absent or enabled."""
    config = dlr_phone_home_config()
    try:
        enabled = json.loads(config.read_text(encoding="utf-8")).get("enable_phone_home", True)
    except (FileNotFoundError, json.JSONDecodeError) as exc:
        raise PhoneHomeEnabledError(f"{config} is missing or invalid ({exc}); DLR would phone home") from exc
    if enabled is not False:
        raise PhoneHomeEnabledError(f"{config} has enable_phone_home={enabled!r}")


def _by_name(entry: dict, outputs: list[np.ndarray]) -> dict[str, np.ndarray]:
    return {name: outputs[index] for name, index in entry["outputs"].items()}


def dlr_runner(folder: Path, entry: dict, threads: int) -> Runner:
    assert_dlr_phone_home_disabled()
    os.environ["TVM_NUM_THREADS"] = str(threads)
    import dlr

    model = dlr.DLRModel(str(folder / entry["path"]), "cpu", 0)
    return lambda batch: _by_name(entry, model.run({entry["input_name"]: batch}))


def onnxruntime_runner(folder: Path, entry: dict, threads: int) -> Runner:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        str(folder / entry["path"]), sess_options=options, providers=["CPUExecutionProvider"]
    )
    return lambda batch: _by_name(entry, session.run(None, {entry["input_name"]: batch}))


def litert_runner(folder: Path, entry: dict, threads: int) -> Runner:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(folder / entry["path"]), num_threads=threads)
    interpreter.allocate_tensors()
    (model_input,) = [item for item in interpreter.get_input_details() if item["name"] == entry["input_name"]]
    output_details = interpreter.get_output_details()

    def run(batch: np.ndarray) -> dict[str, np.ndarray]:
        interpreter.set_tensor(model_input["index"], batch)
        interpreter.invoke()
        return _by_name(entry, [interpreter.get_tensor(item["index"]) for item in output_details])

    return run


RUNNERS = {"dlr": dlr_runner, "onnxruntime": onnxruntime_runner, "litert": litert_runner}


def load_runner(folder: Path, runtime: str, threads: int = 2) -> Runner:
    """``runtime``: a model.json runtime key; ``dlr-avx2`` and the other DLR builds run on DLR."""
    folder = Path(folder)
    entry = load_model_json(folder)["runtimes"][runtime]
    return RUNNERS[runtime.partition("-")[0]](folder, entry, threads)
