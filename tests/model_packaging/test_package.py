
"""The committed model store folder: model.json complete, checksums, anchors, labels, sample images."""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from model_packaging import model_json
from model_packaging.model_card import DLR_BUILDS
from model_packaging.model_json import (
    REQUIRED_KEYS,
    ModelFolderError,
    list_model_files,
    load_model_json,
    verify_model_folder,
    write_model_json,
)
from repo_layout import REPO_ROOT

REPO = REPO_ROOT
MODEL = REPO / "components" / "SsdModelStore" / "model"
EXPECTED = Path(__file__).parent / "expected_detections.json"


@pytest.fixture
def model_copy(tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(MODEL, copy)
    return copy


def test_model_json_has_every_contract_key():
    document = load_model_json(MODEL)
    assert set(REQUIRED_KEYS) <= set(document)
    assert document["schema"] == "smartcam.model/2"
    assert document["name"] == "ssdlite-mobilenetv2-person"
    assert document["framework"] == "tensorflow"
    assert "undocumented upstream" in document["notes"]
    spec = document["input"]
    assert spec["shape"] == [1, 300, 300, 3]
    assert (spec["layout"], spec["dtype"], spec["color"]) == ("NHWC", "float32", "RGB")
    assert spec["normalization"] == {"mean": [127.5] * 3, "std": [127.5] * 3}
    params = document["decoder"]["params"]
    assert document["decoder"]["type"] == "tf_od_api"
    assert params["scale_factors"] == [10.0, 10.0, 5.0, 5.0]
    assert (params["score_activation"], params["background_class"], params["box_order"]) == ("sigmoid", 0, "yxhw")


def test_every_runtime_names_its_file_input_and_outputs():
    document = load_model_json(MODEL)
    assert set(document["runtimes"]) == {*DLR_BUILDS, "onnxruntime", "onnxruntime-int8", "litert"}
    assert "int8" not in str(document["runtime_preference"]), "a lower precision runs only when configured"
    for name, entry in document["runtimes"].items():
        assert (MODEL / entry["path"]).exists(), name
        assert entry["input_name"] == document["input"]["name"]
        assert entry["outputs"] == {"box_encodings": 0, "class_predictions": 1}
    assert document["runtime_preference"] == {"x86_64": ["dlr", "onnxruntime", "litert"],
                                              "aarch64": ["onnxruntime", "litert", "dlr"]}


@pytest.mark.parametrize("build", sorted(DLR_BUILDS))
def test_each_dlr_build_is_in_its_own_folder_for_its_own_target(build):
    entry = load_model_json(MODEL)["runtimes"][build]
    assert entry["path"] == build
    assert entry["target"] == DLR_BUILDS[build]
    assert entry["platforms"] == ["aarch64" if "aarch64" in DLR_BUILDS[build] else "x86_64"]
    assert {"model.so", "model.params", "model.json", "model.meta"} == {p.name for p in (MODEL / build).iterdir()}
    meta = json.loads((MODEL / build / "model.meta").read_text())
    assert [output["name"] for output in meta["Model"]["Outputs"]] == ["box_encodings", "class_predictions"]
    assert meta["Compiler"]["target"] == DLR_BUILDS[build]


def test_every_file_is_listed_with_a_matching_sha256():
    document = verify_model_folder(MODEL)
    assert sorted(document["files"]) == list_model_files(MODEL)
    for name, entry in document["files"].items():
        data = (MODEL / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def test_anchors_and_labels_match_the_decoder():
    document = load_model_json(MODEL)
    anchors = np.load(MODEL / document["decoder"]["params"]["anchors_file"])
    assert anchors.shape == (1917, 4)
    assert anchors.dtype == np.float32
    assert (anchors[:, 2:] > 0).all()  # heights and widths
    assert anchors[:, :2].min() > 0 and anchors[:, :2].max() < 1  # centres inside the image
    labels = (MODEL / document["labels_file"]).read_text().splitlines()
    assert labels == document["labels"] == ["background", "person"]


def test_an_altered_file_is_detected(model_copy):
    params = model_copy / "dlr-avx2" / "model.params"
    data = bytearray(params.read_bytes())
    data[len(data) // 2] ^= 0xFF
    params.write_bytes(bytes(data))
    with pytest.raises(ModelFolderError, match=r"dlr-avx2/model\.params: sha256 differs"):
        verify_model_folder(model_copy)


def test_a_resized_file_is_detected_by_its_size_before_hashing(model_copy, monkeypatch):
    labels = model_copy / "labels.txt"
    size = labels.stat().st_size
    labels.write_bytes(labels.read_bytes() + b"x")
    monkeypatch.setattr(model_json, "sha256_file", lambda path: pytest.fail(f"{path} was hashed"))
    with pytest.raises(ModelFolderError, match=rf"labels\.txt: {size + 1} bytes, model\.json says {size}"):
        verify_model_folder(model_copy)


def test_a_symlinked_file_is_detected(model_copy, tmp_path):
    outside = tmp_path / "labels.txt"
    (model_copy / "labels.txt").rename(outside)
    (model_copy / "labels.txt").symlink_to(outside)
    with pytest.raises(ModelFolderError, match=r"labels\.txt: a symlink"):
        verify_model_folder(model_copy)


def test_a_missing_or_unlisted_file_is_detected(model_copy):
    (model_copy / "anchors.npy").unlink()
    (model_copy / "stray.bin").write_bytes(b"x")
    with pytest.raises(ModelFolderError) as caught:
        verify_model_folder(model_copy)
    assert "anchors.npy: missing" in str(caught.value)
    assert "stray.bin: not listed" in str(caught.value)


def test_a_broken_model_json_gives_a_clear_error(model_copy):
    (model_copy / "model.json").write_text("{not json")
    with pytest.raises(ModelFolderError, match="not valid JSON"):
        verify_model_folder(model_copy)
    (model_copy / "model.json").write_text(json.dumps({"schema": "smartcam.model/2"}))
    with pytest.raises(ModelFolderError, match="lacks the keys"):
        verify_model_folder(model_copy)


def test_the_writer_refuses_metadata_that_points_at_absent_files(model_copy):
    metadata = {key: value for key, value in load_model_json(model_copy).items() if key != "files"}
    rewritten = write_model_json(model_copy, metadata)
    assert rewritten["files"] == load_model_json(MODEL)["files"]
    (model_copy / "model.onnx").unlink()
    with pytest.raises(ModelFolderError, match=r"model\.onnx"):
        write_model_json(model_copy, metadata)


def test_sample_images_are_the_wheels_files():
    expected = json.loads(EXPECTED.read_text())
    assert set(expected["images"]) == {"grace_hopper.jpg", "astronaut.png", "camera.png", "chelsea.png"}
    for name, image in expected["images"].items():
        data = (EXPECTED.parent / "images" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == image["sha256"], name
    import matplotlib

    installed = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    assert hashlib.sha256(installed.read_bytes()).hexdigest() == expected["images"]["grace_hopper.jpg"]["sha256"]
