"""`python -m model_packaging evaluate` on the shipped evaluation set: its figures agree with a separate,
plain recomputation from its raw detections, and its detections are what SsdInference's engine finds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from model_packaging.__main__ import main as model_packaging
from model_packaging.accuracy import EVAL_SET
from model_packaging.eval_images import image_source
from model_packaging.evaluate import evaluate
from smartcam.contracts import ModelEvaluation, parse
from ssd_inference import model_bundle
from ssd_inference.decoders import Selection
from ssd_inference.engine import Engine, EngineError, PreparedModel
from tests.model_packaging.bundles import onnx_bundle
from tests.ssd_inference.helpers import MODEL_DIR


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("evaluate")
    status = model_packaging(["evaluate", "--model", str(MODEL_DIR), "--labels", str(EVAL_SET), "--backend",
                              "onnxruntime", "--threads", "1", "--json", str(out / "figures.json"),
                              "--detections", str(out / "detections.json")])
    assert status == 0
    figures = parse(ModelEvaluation, json.loads((out / "figures.json").read_text()))
    return figures, json.loads((out / "detections.json").read_text())


def plain_truth() -> dict[str, list[tuple[str, list[float]]]]:
    """The manifest read with nothing but json: pixel boxes to normalized x1, y1, x2, y2."""
    truth = {}
    for line in EVAL_SET.read_text().splitlines():
        row = json.loads(line)
        size = row["persons"]["image_size"][0]
        names = row["persons-metadata"]["class-map"]
        truth[row["source-ref"]] = [
            (names[str(a["class_id"])], [a["left"] / size["width"], a["top"] / size["height"],
                                         (a["left"] + a["width"]) / size["width"],
                                         (a["top"] + a["height"]) / size["height"]])
            for a in row["persons"]["annotations"]]
    return truth


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda boxes: (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def recompute(detections, label: str, min_score: float):
    """Per image: keep the class's detections from min_score, best first; each takes the unmatched truth box it
    overlaps most if IoU >= 0.5. Then TP/FP/FN over the set, and VOC all-point AP (as in the VOC devkit)."""
    truth_by_image = plain_truth()
    scores, hits, positives = [], [], 0
    for ref, truth in truth_by_image.items():
        boxes = np.array([box for name, box in truth if name == label]).reshape(-1, 4)
        positives += len(boxes)
        found = sorted((d for d in detections[ref] if d["label"] == label and d["score"] >= min_score),
                       key=lambda d: -d["score"])
        taken = np.zeros(len(boxes), bool)
        for d in found:
            overlaps = iou_matrix(np.array([d["box"]]), boxes)[0] if len(boxes) else np.zeros(0)
            overlaps[taken] = -1
            best = int(np.argmax(overlaps)) if len(boxes) else -1
            hit = best >= 0 and overlaps[best] >= 0.5
            if hit:
                taken[best] = True
            scores.append(d["score"])
            hits.append(hit)
    order = np.argsort(-np.array(scores), kind="stable")
    tp = np.cumsum(np.array(hits, float)[order])
    fp = np.cumsum(1 - np.array(hits, float)[order])
    rec = np.concatenate([[0.0], tp / positives, [1.0]])
    prec = np.concatenate([[0.0], tp / np.maximum(tp + fp, np.finfo(float).eps), [0.0]])
    prec = np.maximum.accumulate(prec[::-1])[::-1]
    changes = np.where(rec[1:] != rec[:-1])[0]
    ap = float(np.sum((rec[changes + 1] - rec[changes]) * prec[changes + 1]))
    return int(sum(hits)), len(hits) - int(sum(hits)), positives, ap


def test_the_figures_agree_with_a_plain_recomputation_from_the_raw_detections(run):
    figures, detections = run
    (person,) = figures.classes
    assert person.label == "person" and person.truth == 227
    true_positives, false_positives, truth, _ = recompute(detections, "person", figures.protocol.score_threshold)
    assert (person.true_positives, person.false_positives, person.false_negatives) == (
        true_positives, false_positives, truth - true_positives)
    assert person.precision == pytest.approx(true_positives / (true_positives + false_positives))
    assert person.recall == pytest.approx(true_positives / truth)
    *_, ap = recompute(detections, "person", figures.protocol.ap_min_score)
    assert person.ap50 == pytest.approx(ap, abs=1e-9)
    assert person.recall > 0.5 and person.ap50 > 0.8, "the packaged model finds most people of the set"
    assert figures.model.backend == "onnxruntime" and figures.evaluation_set.images == 44
    assert figures.ms_per_frame.frames == 44 and figures.ms_per_frame.median_ms > 0


def test_the_detections_are_what_the_engine_finds_at_the_component_defaults(run):
    figures, detections = run
    ref = "s3://smartcam-eval/opencv-doc/basketball1.png"
    rgb = image_source(EVAL_SET).rgb(ref)
    engine = Engine.start(PreparedModel.load(MODEL_DIR), "onnxruntime", 1, fall_back=False)
    try:
        protocol = figures.protocol
        found = engine.postprocess(engine.infer(engine.preprocess(rgb)),
                                   Selection(protocol.score_threshold, protocol.nms_iou_threshold,
                                             protocol.max_detections)).detections
    finally:
        engine.close()
    served = [[d.score, d.box.x1, d.box.y1, d.box.x2, d.box.y2] for d in found]
    evaluated = [[d["score"], *d["box"]] for d in detections[ref] if d["score"] >= protocol.score_threshold]
    assert len(served) == len(evaluated) == 2
    assert np.allclose(served, evaluated, atol=1e-6)


def test_an_altered_bundle_is_refused_before_any_runtime_loads_it(tmp_path, monkeypatch):
    bundle = onnx_bundle(tmp_path / "model")
    data = bytearray((bundle / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size: only the sha256 can tell
    (bundle / "model.onnx").write_bytes(bytes(data))
    monkeypatch.setattr(Engine, "start", lambda *_, **__: pytest.fail("a runtime was started"))

    with pytest.raises(EngineError, match=r"model file model\.onnx is altered"):
        evaluate(bundle, EVAL_SET, backend="onnxruntime")


def test_a_truncated_bundle_is_refused_by_its_size_before_any_hashing(tmp_path, monkeypatch):
    bundle = onnx_bundle(tmp_path / "model")
    size = (bundle / "model.onnx").stat().st_size
    with (bundle / "model.onnx").open("r+b") as stream:
        stream.truncate(size - 1)
    monkeypatch.setattr(model_bundle, "sha256_file", lambda path: pytest.fail(f"{path} was hashed"))
    monkeypatch.setattr(Engine, "start", lambda *_, **__: pytest.fail("a runtime was started"))

    with pytest.raises(EngineError, match=rf"model file model\.onnx is {size - 1} bytes, model\.json says {size}"):
        evaluate(bundle, EVAL_SET, backend="onnxruntime")


def test_the_command_reports_a_bad_bundle_and_an_unknown_command(tmp_path, capsys):
    assert model_packaging(["evaluate", "--model", str(tmp_path), "--labels", str(EVAL_SET)]) == 1
    assert "has no model.json" in capsys.readouterr().err
    assert model_packaging(["no-such-command"]) == 2
    assert model_packaging([]) == 2


def test_a_local_copy_of_the_bucket_serves_the_images(tmp_path):
    labels = tmp_path / "labels.manifest"
    lines = [line for line in EVAL_SET.read_text().splitlines() if "opencv-doc/basketball" in line]
    labels.write_text("\n".join(lines) + "\n")
    mirror = tmp_path / "mirror" / "smartcam-eval" / "opencv-doc"
    mirror.mkdir(parents=True)
    for name in ("basketball1.png", "basketball2.png"):
        shutil.copy(Path("/usr/share/doc/opencv-doc/examples/data") / name, mirror / name)

    figures, _ = evaluate(MODEL_DIR, labels, backend="onnxruntime", threads=1, images=tmp_path / "mirror")

    (person,) = figures.classes
    assert (person.truth, person.true_positives, person.false_positives) == (4, 4, 0)
    assert person.ap50 == 1.0
