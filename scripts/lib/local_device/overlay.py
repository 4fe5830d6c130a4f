"""Overlay deployment documents: recipes/dev.json plus configurationUpdate merges, written into the
runtime root at run time (the documents in recipes/ stay as they are)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from repo_layout import REPO_ROOT

DEV_DOCUMENT = REPO_ROOT / "recipes" / "dev.json"
# The snapshot bucket in the local runtime's S3 stand-in (created on first use, as the tables are).
LOCAL_SNAPSHOT_BUCKET = "smartcam-snapshots-local"


def _deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def overlay(merges: dict[str, dict[str, Any]], base: Path = DEV_DOCUMENT,
            name: str | None = None, reset: Iterable[str] = ()) -> dict[str, Any]:
    """``base`` with each component's merge combined into its configurationUpdate.merge. Each
    component in ``reset`` gets its whole configuration reset first (``reset: [""]``), so on a
    device that already runs, it ends up exactly as ``base`` plus the merges would start it."""
    document = copy.deepcopy(json.loads(base.read_text()))
    for component in reset:
        if component not in document["components"]:
            raise KeyError(f"{base} does not deploy {component}")
        document["components"][component].setdefault("configurationUpdate", {})["reset"] = [""]
    for component, merge in merges.items():
        entry = document["components"].get(component)
        if entry is None:
            raise KeyError(f"{base} does not deploy {component}")
        update = entry.setdefault("configurationUpdate", {})
        existing = json.loads(update.get("merge") or "{}")
        update["merge"] = json.dumps(_deep_merge(existing, merge))
    if name:
        document["deploymentName"] = name
    return document


def write_overlay(path: Path, merges: dict[str, dict[str, Any]], base: Path = DEV_DOCUMENT,
                  name: str | None = None, reset: Iterable[str] = ()) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(overlay(merges, base, name, reset), indent=2) + "\n")
    return path


def pipeline_merges(*, camera: dict[str, Any], annotated_dir: Path | None = None,
                    score_threshold: float | None = None, pending_per_camera: int = 64,
                    account_within_s: float | None = None, store: str = "both",
                    page_port: int | None = None) -> dict[str, dict[str, Any]]:
    """The local settings every run here needs: a camera, the tables and the snapshot bucket created
    on first use, short timeouts, and every inferred frame summarised to IoT Core. (The frame ring
    needs nothing: each runtime's components derive a root of their own from its IPC socket.)

    ``account_within_s``: how long a capture's final status waits for its frames' receipts (None:
    the recipe's default); frames still without one count as ``pending`` in its accounting. ``store``:
    the writer's store mode; ``both`` (the default here) also keeps the per-frame detections, which
    the tests and benchmarks read back and count. ``page_port``: OperatorView's port (None: the
    recipe's), so runtimes side by side on one machine do not compete for one port."""
    # A queue deep enough for a whole short capture: on a busy 2-core machine inference can fall
    # behind a 5 fps camera, and the default (keep only the newest frame) would drop frames.
    inference: dict[str, Any] = {"iotSummary": {"includeEmpty": True, "minIntervalS": 0},
                                 "dropPolicy": {"pendingPerCamera": pending_per_camera}}
    if annotated_dir is not None:
        inference["annotatedOutput"] = {"enabled": True, "dir": str(annotated_dir), "keepPerCamera": 200}
    if score_threshold is not None:
        inference["scoreThreshold"] = score_threshold
    page = {} if page_port is None else {"smartcam.OperatorView": {"port": page_port}}
    return {
        **page,
        "smartcam.CameraIngest": {"cameras": [camera], "progressIntervalS": 1,
                                  **({} if account_within_s is None else {"accountWithinS": account_within_s})},
        "smartcam.SsdInference": inference,
        "smartcam.DynamoWriter": {"store": store, "createTableIfMissing": True,
                                  "snapshotBucket": LOCAL_SNAPSHOT_BUCKET, "createBucketIfMissing": True,
                                  "requestTimeoutS": 3, "backoffMaxS": 2, "flushIntervalS": 0.2, "reportIntervalS": 5},
    }
