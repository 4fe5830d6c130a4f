"""Two local core devices for the canary rollout test, and new SsdModelStore versions built from the
packaged model.

- :func:`model_store_version`: a new version of smartcam.SsdModelStore in a component folder of its own,
  built like `make build` (the repo's GDK build), from the committed model: only the build this CPU runs
  (so the new version runs exactly what the current one runs here, and the zip stays small), with
  ``model.json``'s version set to the component's (what every detection summary names) and every sha256
  recomputed. ``shuffle_anchors`` makes the realistic broken model: a store packaged with anchors that do
  not belong to the network (the same anchors in another order), which passes every check of the bundle,
  loads and runs, but decodes every box against the wrong anchor.
- :func:`components_dir`: the repo's built components, linked, beside those versions: the catalog the
  local runtimes deploy from, as the versions published in an account are for the cloud.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from gdk_build.build import build_all
from gdk_build.project import BUNDLED_SCHEMAS, load_schemas
from repo_layout import REPO_ROOT
from smartcam.contracts import sha256_file
from ssd_inference.engine import Engine, PreparedModel

COMPONENTS = REPO_ROOT / "components"
MODEL_STORE = COMPONENTS / "SsdModelStore"
DEPLOYED = ("Runtime", "SsdModelStore", "CameraIngest", "SsdInference", "DynamoWriter")


def runtime_here() -> str:
    """The key of ``model.json``'s runtime SsdInference picks on this machine (e.g. ``dlr-avx512``)."""
    engine = Engine.start(PreparedModel.load(MODEL_STORE / "model"), "auto", 1)
    try:
        return engine.backend_variant or engine.backend_name
    finally:
        engine.close()


def components_dir(folder: Path) -> Path:
    """``folder`` with a link to each deployed component of the repo (their builds included)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in DEPLOYED:
        link = folder / name
        if not link.is_symlink():
            link.symlink_to(COMPONENTS / name, target_is_directory=True)
    return folder


def model_store_version(components: Path, version: str, runtime: str, *, shuffle_anchors: int | None = None) -> Path:
    """Build smartcam.SsdModelStore ``version`` in ``<components>/../versions/<version>/SsdModelStore`` (GDK names
    the zip after the folder, which the recipe's artifact URI names) and link it as
    ``<components>/SsdModelStore-<version>``."""
    folder = components.parent / "versions" / version / "SsdModelStore"
    shutil.rmtree(folder, ignore_errors=True)
    model = folder / "model"
    model.mkdir(parents=True)
    for name in ("recipe.yaml", "README.md"):
        shutil.copyfile(MODEL_STORE / name, folder / name)
    config = json.loads((MODEL_STORE / "gdk-config.json").read_text())
    config["component"]["smartcam.SsdModelStore"]["version"] = version
    (folder / "gdk-config.json").write_text(json.dumps(config, indent=2))

    manifest = json.loads((MODEL_STORE / "model" / "model.json").read_text())
    spec = manifest["runtimes"][runtime]
    manifest["runtimes"] = {runtime: spec}
    manifest["version"] = version
    kept = [name for name in manifest["files"]
            if name in (manifest["labels_file"], "anchors.npy", spec["path"]) or name.startswith(spec["path"] + "/")]
    for name in kept:
        (model / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(MODEL_STORE / "model" / name, model / name)
    if shuffle_anchors is not None:
        anchors = np.load(model / "anchors.npy")
        np.random.default_rng(shuffle_anchors).shuffle(anchors)
        np.save(model / "anchors.npy", anchors)
    manifest["files"] = {name: sha256_file(model / name) for name in kept}
    (model / "model.json").write_text(json.dumps(manifest, indent=2))
    (folder.parent / "Runtime").unlink(missing_ok=True)
    (folder.parent / "Runtime").symlink_to(COMPONENTS / "Runtime", target_is_directory=True)  # its requirements
    build_all(folder.parent, load_schemas(BUNDLED_SCHEMAS), only=[folder.name])
    link = components / f"SsdModelStore-{version}"
    if not link.is_symlink():
        link.symlink_to(folder, target_is_directory=True)
    return link
