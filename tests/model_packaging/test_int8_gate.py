"""The accuracy gate of the INT8 build: on the hand-labeled evaluation set (persons of vtest.avi in frames the
quantizer never saw, and opencv-doc photos), its recall and precision at IoU 0.5 stay within 1 point of the
fp32 model's, both run by SsdInference's own engine (preprocessing, decoder, NMS) at the default
scoreThreshold."""

from __future__ import annotations

import pytest

from model_packaging.accuracy import EVAL_SET, GATE_POINTS, GateResult, load_eval_set, score_set
from model_packaging.eval_images import image_source
from ssd_inference.decoders import Selection
from ssd_inference.engine import Engine, PreparedModel
from tests.ssd_inference.helpers import MODEL_DIR

SCORE_THRESHOLD = 0.5  # SsdInference's default scoreThreshold: what is stored and counted
NMS_IOU = 0.45  # its default nmsIouThreshold


@pytest.fixture(scope="module")
def evaluation():
    images = load_eval_set()
    source = image_source(EVAL_SET)  # checks each file's sha256: scripts/setup-system installs opencv-doc
    frames = {image.source_ref: source.rgb(image.source_ref) for image in images}
    return frames, {image.source_ref: image.truth("person") for image in images}


def scored(backend: str, frames, truth):
    model = PreparedModel.load(MODEL_DIR)
    engine = Engine.start(model, backend, 1, fall_back=False)
    try:
        selection = Selection(SCORE_THRESHOLD, NMS_IOU, 100)

        def detect(frame: str):
            found = engine.postprocess(engine.infer(engine.preprocess(frames[frame])), selection).detections
            return [(d.score, (d.box.x1, d.box.y1, d.box.x2, d.box.y2)) for d in found]

        return engine.backend_variant, score_set(detect, truth)
    finally:
        engine.close()


def test_int8_recall_and_precision_stay_within_one_point_of_fp32(evaluation):
    frames, truth = evaluation
    _, fp32 = scored("onnxruntime", frames, truth)
    variant, int8 = scored("onnxruntime-int8", frames, truth)
    assert variant == "onnxruntime-int8"
    gate = GateResult(SCORE_THRESHOLD, fp32, int8)
    print(gate.line())
    assert fp32.true_positives > 100, "the fp32 model finds the people of the evaluation set"
    assert gate.holds, f"INT8 loses more than {GATE_POINTS} point: {gate.line()}"
