"""The accuracy gate of the INT8 build: on the hand-labeled persons of vtest.avi (frames the quantizer never
saw), its recall and precision at IoU 0.5 stay within 1 point of the fp32 model's, both run by
SsdInference's own engine (preprocessing, decoder, NMS) at the default scoreThreshold."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import pytest

from model_packaging.accuracy import GATE_POINTS, GateResult, load_eval_set, score_set
from ssd_inference.decoders import Selection
from ssd_inference.engine import Engine, PreparedModel
from tests.ssd_inference.helpers import MODEL_DIR

SCORE_THRESHOLD = 0.5  # SsdInference's default scoreThreshold: what is stored and counted
NMS_IOU = 0.45  # its default nmsIouThreshold


@pytest.fixture(scope="module")
def evaluation():
    document, truth = load_eval_set()
    video = Path(document["source"]["file"])
    assert video.is_file(), f"{video} missing: scripts/setup-system installs Debian's opencv-doc"
    assert hashlib.sha256(video.read_bytes()).hexdigest() == document["source"]["sha256"], "not the labeled video"
    capture = cv2.VideoCapture(str(video))
    frames, index = {}, 0
    while index <= max(truth):
        ok, bgr = capture.read()
        assert ok, f"{video} ends at frame {index}"
        if index in truth:
            frames[index] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        index += 1
    capture.release()
    return frames, truth


def scored(backend: str, frames, truth):
    model = PreparedModel.load(MODEL_DIR)
    engine = Engine.start(model, backend, 1, fall_back=False)
    try:
        selection = Selection(SCORE_THRESHOLD, NMS_IOU, 100)

        def detect(frame: int):
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
