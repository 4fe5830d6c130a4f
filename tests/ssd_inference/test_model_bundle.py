import json
import sys

import pytest

from ssd_inference.backends.dlr_privacy import ensure_phone_home_disabled
from ssd_inference.model_bundle import ModelError, load_model_bundle
from tests.ssd_inference.helpers import LABELS, write_model_dir


def test_valid_folder_loads_labels_anchors_and_runtimes(tmp_path):
    bundle = load_model_bundle(write_model_dir(tmp_path / "m"))
    assert bundle.name == "test-ssd" and bundle.labels == LABELS
    assert bundle.anchors.shape == (200, 4)
    assert (bundle.input.height, bundle.input.width, bundle.input.channels) == (64, 64, 3)
    assert bundle.runtime("fake").path == "fake.model"
    with pytest.raises(ModelError, match="has no dlr runtime"):
        bundle.runtime("dlr")


def test_missing_file_is_named(tmp_path):
    folder = write_model_dir(tmp_path / "m")
    (folder / "anchors.npy").unlink()
    with pytest.raises(ModelError, match=r"anchors\.npy is missing"):
        load_model_bundle(folder)


def test_altered_file_is_named_with_both_checksums(tmp_path):
    folder = write_model_dir(tmp_path / "m")
    (folder / "fake.model").write_bytes(b"tampered")
    with pytest.raises(ModelError, match=r"fake\.model is altered: sha256 [0-9a-f]{64} != [0-9a-f]{64}"):
        load_model_bundle(folder)


def edit_manifest(folder, **changes):
    manifest = json.loads((folder / "model.json").read_text())
    manifest.update(changes)
    (folder / "model.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("changes, reason", [
    ({"schema": "other/2"}, "schema 'other/2'"),
    ({"input": {"shape": [1, 3], "layout": "NHWC", "dtype": "float32"}}, "input.shape"),
    ({"runtimes": {}}, "runtimes"),
    ({"files": {"../outside": "0" * 64}}, "outside the model folder"),
    ({"labels_file": "other.txt"}, "other.txt is used but has no sha256"),
    ({"runtimes": {"onnxruntime": {"path": "model.onnx"}}}, "onnxruntime runtime path model.onnx is not covered"),
])
def test_invalid_manifest_is_a_clear_error(tmp_path, changes, reason):
    folder = write_model_dir(tmp_path / "m")
    edit_manifest(folder, **changes)
    with pytest.raises(ModelError, match=reason):
        load_model_bundle(folder)


def test_absent_folder_and_broken_json(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_model_bundle(tmp_path / "nowhere")
    folder = write_model_dir(tmp_path / "m")
    (folder / "model.json").write_text("{broken")
    with pytest.raises(ModelError, match="unreadable"):
        load_model_bundle(folder)


def fake_dlr_package(root):
    counter = root / "dlr" / "counter"
    counter.mkdir(parents=True)
    (root / "dlr" / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
    return counter / "ccm_config.json"


@pytest.mark.parametrize("existing", [None, '{"enable_phone_home": true, "enable_device_info": true}', "garbage"])
def test_phone_home_is_switched_off_without_importing_dlr(tmp_path, monkeypatch, existing):
    config = fake_dlr_package(tmp_path)
    if existing is not None:
        config.write_text(existing)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "dlr", raising=False)
    ensure_phone_home_disabled()
    assert json.loads(config.read_text())["enable_phone_home"] is False
    assert "dlr" not in sys.modules
