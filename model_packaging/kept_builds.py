"""`make model BUILDS="..."`: a partial rebuild keeps the model folder's other DLR builds instead of dropping them.

A kept build was compiled from the folder's current TFLite export; it stays only while the rebuild's export is
byte-identical to that one (the rebuild is reproducible, so it is unless the upstream or the cut changed).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from model_packaging import model_card as card
from model_packaging.model_json import ModelFolderError, verify_model_folder
from smartcam.contracts import MANIFEST_FILE, sha256_file

TFLITE = "model.tflite"


class KeptBuildError(Exception):
    pass


def builds_to_keep(out: Path, rebuilt: Iterable[str]) -> dict[str, str]:
    """Each DLR build of ``out`` (its files checked against its model.json) that is not rebuilt -> the compiler
    its model.json entry names; nothing when ``out`` has no model.json yet."""
    if not (out / MANIFEST_FILE).is_file():
        return {}
    try:
        document = verify_model_folder(out)
    except ModelFolderError as exc:
        raise KeptBuildError(f"cannot keep the other builds of {out}: {exc}") from None
    rebuilt = set(rebuilt)
    return {key: entry["compiler"] for key, entry in document["runtimes"].items()
            if key in card.DLR_BUILDS and key not in rebuilt}


def copy_kept(out: Path, staging: Path, kept: Iterable[str]) -> None:
    """Copies the kept builds' folders into ``staging``, whose TFLite export must be the one they came from."""
    kept = list(kept)
    if not kept:
        return
    before = verify_model_folder(out)["files"][TFLITE]["sha256"]
    if sha256_file(staging / TFLITE) != before:
        raise KeptBuildError(f"the TFLite export changed, so {', '.join(kept)} would no longer match it: rebuild "
                             "every DLR build (make model without BUILDS)")
    for key in kept:
        shutil.copytree(out / key, staging / key)
