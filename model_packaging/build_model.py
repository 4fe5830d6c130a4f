"""`make model`: the reproducible offline pipeline from the upstream frozen graph to the model store folder.

Runs in model_packaging/.venv-build (see setup_build_venv.py), from the repository root:
    python -m model_packaging.build_model [--build dlr --build dlr-avx512 ...]
Each DLR build (model_card.DLR_BUILDS: baseline x86-64, AVX2+FMA, AVX-512, aarch64) is compiled from the
same TFLite export; the aarch64 one links with Debian's g++-aarch64-linux-gnu. With --build, the folder's other
DLR builds are kept as they are (kept_builds.py). A build with MetaSchedule records in model_packaging/tuning/<build>/
is compiled with them unless --untuned (tuning_records.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess  # nosec B404
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from model_packaging import model_card as card
from model_packaging import tf_export, tuning_records
from model_packaging.kept_builds import KeptBuildError, builds_to_keep, copy_kept
from model_packaging.metadata import sample_metadata, sample_runtimes
from model_packaging.model_json import write_model_json
from model_packaging.preprocess import load_rgb_resized, normalize
from model_packaging.quantize import quantize_onnx
from model_packaging.reference_decoder import decode
from model_packaging.sample_images import fetch_sample_images
from smartcam.contracts import MANIFEST_FILE

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "components" / "SsdModelStore" / "model"
DEFAULT_TESTDATA = REPO / "tests" / "model_packaging"
EXPECTED_FILE = "expected_detections.json"
MIN_SCORE = 0.3
HHB_TVM = "hhb-tvm 3.2.3 (TVM 0.16 Relay, LLVM 17), graph runtime, plain module export"
TUNED_WITH = ", MetaSchedule schedules from {folder}"


def compile_dlr(tflite_file: Path, out_dir: Path, target: str, tuning: Path | None = None) -> dict:
    """One DLR build (with the MetaSchedule records in ``tuning`` if given); returns tvm_compile's summary
    (compile seconds, records applied). A separate process: TVM's bundled LLVM and TensorFlow's do not mix in
    one process."""
    completed = subprocess.run(  # nosec B603
        [sys.executable, "-m", "model_packaging.tvm_compile", str(tflite_file), str(out_dir), "--target", target,
         *(["--tuning", str(tuning)] if tuning is not None else [])],
        check=False, capture_output=True, text=True, cwd=REPO,
    )
    if completed.returncode != 0:
        raise SystemExit(f"compiling {out_dir.name} failed:\n{completed.stderr.strip()}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def build_model_folder(upstream: object, staging: Path, scratch: Path, builds: dict[str, str],
                       tuning: dict[str, Path] | None = None, *, keep_from: Path | None = None,
                       kept: dict[str, str] | None = None) -> dict[str, dict]:
    """Writes labels, anchors, TFLite, ONNX (fp32 and INT8), each DLR build (``tuning``: the record folder of
    the builds tuned) and model.json into `staging`; ``kept``: builds copied unchanged from ``keep_from``, with
    their compiler (kept_builds.py). Returns the compile summary of each build compiled."""
    tuning = tuning or {}
    kept = kept or {}
    staging.mkdir(parents=True)
    cut = tf_export.cut_graph(upstream)
    cut_file = scratch / "cut_graph.pb"
    cut_file.write_bytes(cut.SerializeToString())
    (staging / "labels.txt").write_text("\n".join(card.LABELS) + "\n", encoding="utf-8")
    np.save(staging / "anchors.npy", tf_export.anchors_yxhw(upstream))
    tf_export.export_tflite(cut_file, staging / "model.tflite")
    tf_export.export_onnx(cut, staging / "model.onnx")
    quantize_onnx(staging / "model.onnx", staging / card.INT8_FILE)
    return compile_builds(staging, builds, tuning, keep_from=keep_from, kept=kept)


def compile_builds(staging: Path, builds: dict[str, str], tuning: dict[str, Path], *, keep_from: Path | None,
                   kept: dict[str, str]) -> dict[str, dict]:
    """Compiles each DLR build from staging/model.tflite, adds the kept ones and writes model.json."""
    compiled = {key: compile_dlr(staging / "model.tflite", staging / key, target, tuning.get(key))
                for key, target in builds.items()}
    if kept and keep_from is not None:
        copy_kept(keep_from, staging, kept)
    compilers = {key: HHB_TVM + (TUNED_WITH.format(folder=tuning[key].relative_to(REPO).as_posix())
                                 if key in tuning else "") for key in builds} | kept
    every_build = {key: target for key, target in card.DLR_BUILDS.items() if key in compilers}
    write_model_json(staging, sample_metadata(sample_runtimes(every_build, compilers)))
    return compiled


def recompile_dlr_only(out: Path, staging: Path, builds: dict[str, str], tuning: dict[str, Path],
                       kept: dict[str, str]) -> dict[str, dict]:
    """--dlr-only: the folder as it is (exports, anchors, labels, kept builds), with ``builds`` recompiled from
    its own model.tflite and model.json rewritten; no TensorFlow run, so the exports stay byte for byte."""
    shutil.copytree(out, staging, ignore=shutil.ignore_patterns(MANIFEST_FILE, *builds, *kept))
    return compile_builds(staging, builds, tuning, keep_from=out, kept=kept)


def record_expected_detections(upstream: object, model_dir: Path, testdata: Path, scratch: Path) -> dict:
    """Reference detections from the UNTOUCHED upstream graph (its own TF decode + NMS) on each image,
    cross-checked against the cut graph + anchors + numpy decoder before they are written."""
    provenance = fetch_sample_images(testdata / "images", scratch / "wheels")
    anchors = np.load(model_dir / "anchors.npy")
    cut = tf_export.cut_graph(upstream)
    images = {}
    for name, origin in provenance.items():
        rgb = load_rgb_resized(testdata / "images" / name)
        expected = tf_export.upstream_detections(upstream, rgb, MIN_SCORE)
        boxes, logits = tf_export.cut_graph_outputs(cut, normalize(rgb))
        ours = decode(boxes, logits, anchors, list(card.LABELS), score_threshold=MIN_SCORE)
        if len(ours) != len(expected):
            raise SystemExit(
                f"{name}: the cut graph + numpy decoder found {len(ours)} detections, upstream {len(expected)}"
            )
        images[name] = {**origin, "detections": expected}
    document = {
        "about": (
            "Expected detections of the packaged model on real photos from wheels: computed once by "
            "model_packaging/build_model.py from the untouched upstream TF graph (its own box decoding and NMS, "
            f"score >= {MIN_SCORE}) on the image converted to RGB and resized (PIL bilinear) to 300x300. "
            "Boxes are normalized [x1, y1, x2, y2]."
        ),
        "model": {"name": card.NAME, "version": card.VERSION},
        "min_score": MIN_SCORE,
        "nms_iou_threshold": 0.6,
        "images": images,
    }
    (testdata / EXPECTED_FILE).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return document


def _replace_folder(staging: Path, out: Path) -> None:
    previous = out.with_name(out.name + ".previous")
    shutil.rmtree(previous, ignore_errors=True)
    if out.exists():
        out.rename(previous)
    shutil.copytree(staging, out)
    shutil.rmtree(previous, ignore_errors=True)


def _reexec_with_fixed_hash_seed() -> None:
    """tf2onnx and TVM iterate sets/dicts while writing; a fixed hash seed makes rebuilds byte-identical."""
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, "-m", "model_packaging.build_model", *sys.argv[1:]])  # noqa: S606  # nosec B606


def main() -> None:
    _reexec_with_fixed_hash_seed()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", action="append", choices=sorted(card.DLR_BUILDS),
                        help="a DLR build to make (repeatable; default: every one in model_card.DLR_BUILDS)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="model folder to (re)write")
    parser.add_argument("--testdata", type=Path, default=DEFAULT_TESTDATA, help="where images + expected JSON go")
    parser.add_argument("--skip-expected", action="store_true", help="do not refresh the test images/expectations")
    parser.add_argument("--dlr-only", action="store_true",
                        help="recompile only the --build DLR builds from --out's own model.tflite (no TensorFlow; "
                        "the exports and expectations stay as they are), e.g. to apply new tuning records")
    parser.add_argument("--untuned", action="store_true",
                        help="ignore model_packaging/tuning/ (every build with TVM's default schedules)")
    args = parser.parse_args()
    logging.basicConfig(format="%(name)s: %(message)s")
    logging.getLogger("model_packaging").setLevel(logging.INFO)  # which builds get tuning records
    started = time.perf_counter()
    builds = {key: card.DLR_BUILDS[key] for key in args.build or card.DLR_BUILDS}
    try:
        tuning = tuning_records.folders_to_apply(builds, use_tuning=not args.untuned)
        kept = builds_to_keep(args.out, builds)
    except tuning_records.TuningRecordsError as exc:
        raise SystemExit(f"build_model: {exc} (or build with --untuned)") from None
    except KeptBuildError as exc:
        raise SystemExit(f"build_model: {exc}") from None
    with tempfile.TemporaryDirectory(prefix="smartcam-model-") as tmp:
        scratch = Path(tmp)
        staging = scratch / "model"
        if args.dlr_only:
            compiled = recompile_dlr_only(args.out, staging, builds, tuning, kept)
        else:
            upstream = tf_export.load_graph_def(tf_export.upstream_graph_path())
            try:
                compiled = build_model_folder(upstream, staging, scratch, builds, tuning, keep_from=args.out,
                                              kept=kept)
            except KeptBuildError as exc:
                raise SystemExit(f"build_model: {exc}") from None
            if not args.skip_expected:
                record_expected_detections(upstream, staging, args.testdata, scratch)
        _replace_folder(staging, args.out)
    sizes = {path.relative_to(args.out).as_posix(): path.stat().st_size for path in sorted(args.out.rglob("*"))
             if path.is_file()}
    print(json.dumps({
        "model_folder": str(args.out),
        "builds": builds,
        "kept": sorted(kept),
        "compile_seconds": {key: summary["compile_seconds"] for key, summary in compiled.items()},
        "tuning": {key: summary.get("tuning") for key, summary in compiled.items()},
        "total_seconds": round(time.perf_counter() - started, 1),
        "total_mb": round(sum(sizes.values()) / 1e6, 2),
        "files": sizes,
    }, indent=2))


if __name__ == "__main__":
    main()
