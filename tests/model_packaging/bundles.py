"""Small copies of the packaged model for tests: only its ONNX build, optionally with other anchors."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

from tests.ssd_inference.helpers import MODEL_DIR

ONNX_FILES = ("anchors.npy", "labels.txt", "model.onnx")


def onnx_bundle(folder: Path, *, version: str = "1.0.0", shuffle_anchors_seed: int | None = None) -> Path:
    """The packaged model with only its onnxruntime runtime (model.json rewritten, every sha256 true); with a
    seed, its anchors shuffled: the same weights decoding every box against another anchor, a broken model."""
    folder.mkdir(parents=True)
    for name in ONNX_FILES:
        shutil.copy(MODEL_DIR / name, folder / name)
    if shuffle_anchors_seed is not None:
        anchors = np.load(folder / "anchors.npy")
        np.save(folder / "anchors.npy", np.random.default_rng(shuffle_anchors_seed).permutation(anchors))
    manifest = json.loads((MODEL_DIR / "model.json").read_text())
    manifest["version"] = version
    manifest["runtimes"] = {"onnxruntime": manifest["runtimes"]["onnxruntime"]}
    manifest["runtime_preference"] = None
    manifest["files"] = {name: {"sha256": hashlib.sha256((folder / name).read_bytes()).hexdigest(),
                                "size": (folder / name).stat().st_size} for name in ONNX_FILES}
    (folder / "model.json").write_text(json.dumps(manifest, indent=2))
    return folder
