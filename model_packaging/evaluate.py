"""``python -m model_packaging evaluate --model <bundle> --labels <Ground Truth manifest>``: a model bundle's
precision, recall and AP@0.5 per class, and its milliseconds per frame, on a labeled set.

What is evaluated is what runs: the bundle is checked and loaded by SsdInference's own code (``PreparedModel``:
model.json's contract, every file's size, then its sha256, before any runtime sees a byte; then its backend
registry, its preprocessing, its decoder and its selection with the component's default settings).

Figures: a detection matches a truth box of its class at IoU >= 0.5 (``accuracy.matches``); precision and
recall count the detections at SsdInference's default scoreThreshold; AP is PASCAL VOC's all-point
interpolated AP over every detection scored AP_MIN_SCORE or more (at most maxDetections per image, after NMS).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from model_packaging.accuracy import IOU_MATCH, Box, average_precision, matches
from model_packaging.eval_images import ImageSource, ImageSourceError, image_source
from model_packaging.ground_truth import GroundTruthError, TruthImage, read_manifest
from smartcam.contracts import (
    ClassFigures,
    EvaluatedModel,
    EvaluationProtocol,
    EvaluationSet,
    FrameTiming,
    ModelEvaluation,
)
from ssd_inference.decoders import Selection
from ssd_inference.engine import Engine, EngineError, PreparedModel
from ssd_inference.model_loader import inference_threads
from ssd_inference.settings import SsdInferenceConfig

AP_MIN_SCORE = 0.01
_DEFAULTS = SsdInferenceConfig.model_fields


@dataclass(frozen=True)
class Found:
    label: str
    score: float
    box: Box


def default_protocol() -> EvaluationProtocol:
    return EvaluationProtocol(
        iou=IOU_MATCH,
        score_threshold=_DEFAULTS["score_threshold"].default,
        nms_iou_threshold=_DEFAULTS["nms_iou_threshold"].default,
        ap_min_score=AP_MIN_SCORE,
        max_detections=_DEFAULTS["max_detections"].default,
        ap="voc-all-point",
    )


def detect_all(engine: Engine, images: Sequence[TruthImage], source: ImageSource,
               protocol: EvaluationProtocol) -> tuple[dict[str, list[Found]], list[float]]:
    """Every image's detections down to the AP floor, and the ms each frame took (after one warm-up run)."""
    selection = Selection(protocol.ap_min_score, protocol.nms_iou_threshold, protocol.max_detections)
    found: dict[str, list[Found]] = {}
    times: list[float] = []
    for number, image in enumerate(images):
        rgb = source.rgb(image.source_ref)
        for run in range(2 if number == 0 else 1):
            start = time.perf_counter()
            result = engine.postprocess(engine.infer(engine.preprocess(rgb)), selection)
            elapsed = (time.perf_counter() - start) * 1000
            if run == 0 and number == 0:
                continue  # warm-up
            times.append(elapsed)
        found[image.source_ref] = [Found(d.label, d.score, (d.box.x1, d.box.y1, d.box.x2, d.box.y2))
                                   for d in result.detections]
    return found, times


def class_figures(label: str, images: Sequence[TruthImage], found: dict[str, list[Found]],
                  score_threshold: float) -> ClassFigures:
    scored: list[tuple[float, bool]] = []
    truth_boxes = 0
    for image in images:
        truth = image.truth(label)
        truth_boxes += len(truth)
        scored += matches([(d.score, d.box) for d in found.get(image.source_ref, []) if d.label == label], truth)
    kept = [hit for score, hit in scored if score >= score_threshold]
    true_positives = sum(kept)
    false_positives = len(kept) - true_positives
    return ClassFigures(
        label=label,
        truth=truth_boxes,
        true_positives=true_positives,
        false_positives=false_positives,
        false_negatives=truth_boxes - true_positives,
        precision=true_positives / len(kept) if kept else 1.0,
        recall=true_positives / truth_boxes if truth_boxes else 1.0,
        ap50=average_precision(scored, truth_boxes),
    )


def evaluate(model_dir: Path, labels: Path, *, backend: str = "auto", threads: int = 0,
             images: Path | None = None) -> tuple[ModelEvaluation, dict[str, list[Found]]]:
    """The bundle's figures on the labeled set, and its raw detections per source-ref."""
    labeled = read_manifest(labels)
    source = image_source(labels, images)
    model = PreparedModel.load(model_dir)  # verifies model.json, every file's size, then its sha256, before any load
    protocol = default_protocol()
    engine = Engine.start(model, backend, inference_threads(threads), fall_back=False)
    try:
        found, times = detect_all(engine, labeled, source, protocol)
        backend_name, variant = engine.backend_name, engine.backend_variant
    finally:
        engine.close()
    names = sorted({name for image in labeled for name, _ in image.boxes} | set(model.labels))
    bundle = model.bundle
    evaluation = ModelEvaluation(
        model=EvaluatedModel(name=bundle.name, version=bundle.version, backend=backend_name, variant=variant,
                             manifest_sha256=_sha256(bundle.path("model.json"))),
        evaluation_set=EvaluationSet(manifest=str(labels), manifest_sha256=_sha256(labels), images=len(labeled),
                                     boxes=sum(len(image.boxes) for image in labeled)),
        protocol=protocol,
        classes=[class_figures(name, labeled, found, protocol.score_threshold) for name in names],
        ms_per_frame=FrameTiming(frames=len(times), median_ms=round(statistics.median(times), 3),
                                 mean_ms=round(statistics.fmean(times), 3)),
        evaluated_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    return evaluation, found


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def figures_table(evaluation: ModelEvaluation) -> str:
    model = evaluation.model
    build = f" ({model.variant})" if model.variant else ""
    lines = [f"{model.name} {model.version} on {model.backend}{build}: {evaluation.evaluation_set.images} images, "
             f"{evaluation.evaluation_set.boxes} boxes; precision/recall at score >= "
             f"{evaluation.protocol.score_threshold}, AP@0.5 (VOC all-point) from score >= "
             f"{evaluation.protocol.ap_min_score}; {evaluation.ms_per_frame.median_ms:.1f} ms per frame (median)",
             f"{'class':<16}{'truth':>7}{'TP':>6}{'FP':>6}{'FN':>6}{'precision':>11}{'recall':>8}{'AP@0.5':>8}"]
    for c in evaluation.classes:
        ap = "-" if c.ap50 is None else f"{c.ap50:.3f}"
        lines.append(f"{c.label:<16}{c.truth:>7}{c.true_positives:>6}{c.false_positives:>6}{c.false_negatives:>6}"
                     f"{c.precision:>11.3f}{c.recall:>8.3f}{ap:>8}")
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m model_packaging evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="model bundle folder (with model.json)")
    parser.add_argument("--labels", type=Path, required=True,
                        help="Ground Truth object-detection output manifest (model_packaging/eval/persons.manifest)")
    parser.add_argument("--backend", default="auto",
                        help="as SsdInference's `backend` setting: auto, dlr, dlr-avx2, onnxruntime, onnxruntime-int8, "
                             "litert (no fallback: the one named runs or the command fails)")
    parser.add_argument("--threads", type=int, default=0, help="inference threads (0: as SsdInference picks)")
    parser.add_argument("--images", type=Path,
                        help="local copy of the bucket (<folder>/<bucket>/<key>); default: sources.json by --labels")
    parser.add_argument("--json", type=Path, help="write the figures (smartcam.evaluation/1) here")
    parser.add_argument("--detections", type=Path, help="write every detection per source-ref here (JSON)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        evaluation, found = evaluate(args.model, args.labels, backend=args.backend, threads=args.threads,
                                     images=args.images)
    except (EngineError, GroundTruthError, ImageSourceError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(figures_table(evaluation))
    if args.json:
        args.json.write_text(json.dumps(evaluation.to_message(), indent=1) + "\n", encoding="utf-8")
    if args.detections:
        raw = {ref: [{"label": d.label, "score": d.score, "box": list(d.box)} for d in items]
               for ref, items in found.items()}
        args.detections.write_text(json.dumps(raw) + "\n", encoding="utf-8")
    return 0
