"""Two local core devices for the canary rollout test, and new SsdModelStore versions built from the
packaged model.

- :func:`model_store_version`: a new version of smartcam.SsdModelStore in a component folder of its own,
  made from the committed model: only the build this CPU runs (so the new version runs exactly what the
  current one runs here, and the zip stays small), packaged as the store's next version by
  model_packaging (``model.json``'s version set to the component's, which every detection summary names,
  every sha256 recomputed) and built like `make build` (the repo's GDK build). ``shuffle_anchors`` makes
  the realistic broken model: a store packaged with anchors that do not belong to the network (the same
  anchors in another order), which passes every check of the bundle, loads and runs, but decodes every
  box against the wrong anchor.
- :func:`components_dir`: the repo's built components, linked, beside those versions: the catalog the
  local runtimes deploy from, as the versions published in an account are for the cloud.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from gdk_build.build import build_all
from gdk_build.project import BUNDLED_SCHEMAS, load_schemas
from model_packaging.model_json import load_model_json, write_model_json
from model_packaging.store_version import package_next_version
from repo_layout import REPO_ROOT
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
    ``<components>/SsdModelStore-<version>``. The model folder is made the store's next version by
    model_packaging (model_packaging.store_version), as a trained model is."""
    versions = components.parent / "versions" / version
    shutil.rmtree(versions, ignore_errors=True)
    model = versions / "model"
    model.mkdir(parents=True)
    metadata = load_model_json(MODEL_STORE / "model")
    spec = metadata["runtimes"][runtime]
    kept = [name for name in metadata["files"]
            if name in (metadata["labels_file"], "anchors.npy", spec["path"]) or name.startswith(spec["path"] + "/")]
    for name in kept:
        (model / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(MODEL_STORE / "model" / name, model / name)
    if shuffle_anchors is not None:
        anchors = np.load(model / "anchors.npy")
        np.random.default_rng(shuffle_anchors).shuffle(anchors)
        np.save(model / "anchors.npy", anchors)
    write_model_json(model, {**metadata, "runtimes": {runtime: spec}})

    store = versions / "SsdModelStore"
    store.mkdir()
    for name in ("recipe.yaml", "README.md", "gdk-config.json"):
        shutil.copyfile(MODEL_STORE / name, store / name)
    package_next_version(model, store=store, version=version)
    (versions / "Runtime").symlink_to(COMPONENTS / "Runtime", target_is_directory=True)  # its requirements
    build_all(versions, load_schemas(BUNDLED_SCHEMAS), only=[store.name])
    link = components / f"SsdModelStore-{version}"
    if not link.is_symlink():
        link.symlink_to(store, target_is_directory=True)
    return link
