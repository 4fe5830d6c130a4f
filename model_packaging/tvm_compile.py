"""Compile the TFLite export with hhb-tvm (TVM 0.16 Relay) into the SageMaker Neo / DLR 1.6 layout.

Runs in the build venv, in its own process (TVM's LLVM and TensorFlow's do not share a process well):
    python -m model_packaging.tvm_compile MODEL.tflite OUT_DIR [--target TARGET] [--tuning RECORDS_DIR]
Writes OUT_DIR/model.so, model.json, model.params and model.meta (output names, read by DLR). With --tuning, the
operators that folder has MetaSchedule records of (model_packaging/tuning/<build>/, made by tvm_tune.py) get the
tuned schedules, the others TVM's defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import time
from pathlib import Path

import numpy as np
import tflite

# TVM's ARM schedules fetch reference tuning logs (TopHub) from GitHub while building: offline and
# reproducible builds use the schedules' own defaults instead (x86 builds never found any either).
os.environ.setdefault("TOPHUB_LOCATION", "NONE")
import tvm
from tvm import meta_schedule as ms
from tvm import relay

from model_packaging import model_card as card
from model_packaging import tuning_database, tuning_records

LIBRARY = "model.so"
GRAPH = "model.json"
PARAMS = "model.params"
META = "model.meta"
INPUT_SHAPE = (1, card.INPUT_SIZE, card.INPUT_SIZE, 3)
_NDARRAY_LIST_MAGIC = 0xF7E58D4F05049CB7
_NDARRAY_MAGIC = 0xDD5E40F096B4A13F
# numpy dtype -> DLPack (type code, bits): 0 int, 1 uint, 2 float
_DTYPES = {"f4": (2, 32), "f8": (2, 64), "f2": (2, 16), "i4": (0, 32), "i8": (0, 64), "i1": (0, 8), "u1": (1, 8)}


def serialize_params(params: dict[str, np.ndarray]) -> bytes:
    """TVM's NDArray-list format (what relay.save_param_dict writes and DLR reads), names sorted:
    relay.save_param_dict goes through a tvm Map whose order changes from run to run."""
    out = bytearray(struct.pack("<QQQ", _NDARRAY_LIST_MAGIC, 0, len(params)))
    for name in sorted(params):
        encoded = name.encode()
        out += struct.pack("<Q", len(encoded)) + encoded
    out += struct.pack("<Q", len(params))
    for name in sorted(params):
        array = np.ascontiguousarray(params[name])
        code, bits = _DTYPES[array.dtype.str.lstrip("<=|")]
        out += struct.pack("<QQiii", _NDARRAY_MAGIC, 0, 1, 0, array.ndim)  # kDLCPU, device 0
        out += struct.pack("<BBH", code, bits, 1)
        out += struct.pack(f"<{array.ndim}q", *array.shape)
        data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        out += struct.pack("<q", len(data)) + data
    return bytes(out)


# Target triple -> the C++ driver that links a shared library for it (Debian: g++-aarch64-linux-gnu).
CROSS_LINKERS = {"aarch64-linux-gnu": "aarch64-linux-gnu-g++"}


def linker_for(target: str) -> str | None:
    """The cross linker a target needs, or None for this machine's own."""
    for triple, linker in CROSS_LINKERS.items():
        if f"-mtriple={triple}" in target:
            return linker
    return None


def relay_module(tflite_file: Path) -> tuple[tvm.IRModule, dict]:
    """The TFLite export as Relay, convolutions in NCHW: what every build compiles and what tuning tunes."""
    model = tflite.Model.GetRootAsModel(tflite_file.read_bytes(), 0)
    module, params = relay.frontend.from_tflite(
        model, shape_dict={card.INPUT_TENSOR: INPUT_SHAPE}, dtype_dict={card.INPUT_TENSOR: "float32"}
    )
    with tvm.transform.PassContext(opt_level=3):
        # The TFLite frontend keeps NHWC; TVM's x86 schedules are tuned for NCHW (several times faster).
        module = tvm.transform.Sequential([
            relay.transform.ConvertLayout({"nn.conv2d": ["NCHW", "default"]}),
        ])(module)
    return module, params


def build(module: tvm.IRModule, params: dict, target: str, tuning: Path | None = None) -> tuple[object, dict | None]:
    """relay.build at opt level 3; with ``tuning`` (a MetaSchedule record folder, tuning_records.py) the operators
    it has records of get the tuned schedules, the others TVM's defaults. Returns the GraphExecutorFactory and
    what the records covered (None untuned); TuningRecordsError if the folder is broken or matches nothing."""
    if tuning is None:
        with tvm.transform.PassContext(opt_level=3):
            return relay.build(module, target=tvm.target.Target(target), params=params), None
    database = tuning_database.CountingDatabase(tuning_database.load(tuning))
    factory = ms.relay_integration.compile_relay(database, module, tvm.target.Target(target), params)
    if not database.found:
        raise tuning_records.TuningRecordsError(
            f"{tuning}: no record matches any of the model's {len(database.missing)} operators "
            "(made for another model, target or TVM version?): retune, or compile without them")
    return factory, {"records": str(tuning), "operators_tuned": len(database.found),
                     "operators": len(database.found | database.missing)}


def compile_tflite(tflite_file: Path, out_dir: Path, target: str, tuning: Path | None = None) -> dict:
    """``tuning``: a MetaSchedule record folder to apply (see build); None compiles with TVM's defaults."""
    module, params = relay_module(tflite_file)
    started = time.perf_counter()
    factory, applied = build(module, params, target, tuning)
    seconds = time.perf_counter() - started
    out_dir.mkdir(parents=True, exist_ok=True)
    # Export the plain module, not the GraphExecutorFactory: DLR 1.6 cannot load the factory.
    linker = linker_for(target)
    factory.get_lib().export_library(str(out_dir / LIBRARY), **({"cc": linker} if linker else {}))
    (out_dir / GRAPH).write_text(factory.get_graph_json(), encoding="utf-8")
    compiled_params = {name: value.numpy() for name, value in factory.get_params().items()}
    (out_dir / PARAMS).write_bytes(serialize_params(compiled_params))
    meta = {
        "Model": {
            "Inputs": [{"name": card.INPUT_TENSOR, "shape": list(INPUT_SHAPE), "dtype": "float32"}],
            "Outputs": [
                {"name": card.BOX_ENCODINGS, "dtype": "float32"},
                {"name": card.CLASS_PREDICTIONS, "dtype": "float32"},
            ],
        },
        "Compiler": {"name": "hhb-tvm", "tvm_version": tvm.__version__, "target": target},
    }
    (out_dir / META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return {"compile_seconds": round(seconds, 1), "tvm_version": tvm.__version__, "target": target,
            "tuning": applied}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tflite_file", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--target", default=card.DEFAULT_TARGET)
    parser.add_argument("--tuning", type=Path, help="a MetaSchedule record folder to apply (tuning_records.py)")
    args = parser.parse_args()
    try:
        result = compile_tflite(args.tflite_file, args.out_dir, args.target, args.tuning)
    except tuning_records.TuningRecordsError as exc:
        raise SystemExit(f"tvm_compile: {exc}") from None
    print(json.dumps(result))


if __name__ == "__main__":
    main()
