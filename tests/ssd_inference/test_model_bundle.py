import json
import os
import sys

import pytest

from smartcam.contracts import MAX_MODEL_BUNDLE_BYTES, MAX_MODEL_FILE_BYTES
from ssd_inference import model_bundle
from ssd_inference.backends.dlr_privacy import ensure_phone_home_disabled
from ssd_inference.model_bundle import ModelError, load_model_bundle
from tests.ssd_inference.helpers import LABELS, MODEL_DIR, write_model_dir


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
    (folder / "fake.model").write_bytes(b"not a real mod3l")  # same size: only the sha256 can tell
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
    ({"files": {"../outside": {"sha256": "0" * 64, "size": 1}}}, "outside the model folder"),
    ({"files": {"/etc/passwd": {"sha256": "0" * 64, "size": 1}}}, "outside the model folder"),
    ({"labels_file": "other.txt"}, "other.txt is used but has no sha256"),
    ({"runtimes": {"onnxruntime": {"path": "model.onnx"}}}, "onnxruntime runtime path model.onnx is not covered"),
])
def test_invalid_manifest_is_a_clear_error(tmp_path, changes, reason):
    folder = write_model_dir(tmp_path / "m")
    edit_manifest(folder, **changes)
    with pytest.raises(ModelError, match=reason):
        load_model_bundle(folder)


@pytest.fixture
def no_hashing(monkeypatch):
    """Fails the test if any file is hashed: what is refused by its size must never be read."""
    def refuse(path):
        raise AssertionError(f"{path} was hashed")
    monkeypatch.setattr(model_bundle, "sha256_file", refuse)


@pytest.mark.parametrize(("content", "actual"), [(b"not a real mode", 15), (b"not a real model!", 17)])
def test_a_file_one_byte_short_or_long_is_refused_before_any_hashing(tmp_path, no_hashing, content, actual):
    folder = write_model_dir(tmp_path / "m")
    (folder / "fake.model").write_bytes(content)
    with pytest.raises(ModelError, match=rf"fake\.model is {actual} bytes, model\.json says 16"):
        load_model_bundle(folder)


def test_every_size_is_checked_before_the_first_hash(tmp_path, monkeypatch):
    folder = write_model_dir(tmp_path / "m")
    with (folder / "labels.txt").open("ab") as stream:
        stream.write(b"x")  # the last file in 'files' order; the others would be hashed first if sizes came late
    hashed = []
    monkeypatch.setattr(model_bundle, "sha256_file", lambda path: hashed.append(path) or "0" * 64)
    with pytest.raises(ModelError, match=r"labels\.txt is \d+ bytes"):
        load_model_bundle(folder)
    assert hashed == []


def test_a_manifest_over_the_size_bounds_is_refused_before_any_hashing(tmp_path, no_hashing):
    folder = write_model_dir(tmp_path / "m")
    files = json.loads((folder / "model.json").read_text())["files"]
    edit_manifest(folder, files={**files, "fake.model": {**files["fake.model"], "size": MAX_MODEL_FILE_BYTES + 1}})
    with pytest.raises(ModelError, match=rf"files\.fake\.model\.size: .*less than or equal to {MAX_MODEL_FILE_BYTES}"):
        load_model_bundle(folder)
    huge = {f"part{i}": {"sha256": "0" * 64, "size": MAX_MODEL_FILE_BYTES} for i in range(4)}
    edit_manifest(folder, files={**files, **huge})
    with pytest.raises(ModelError, match=f"over the {MAX_MODEL_BUNDLE_BYTES}-byte bound"):
        load_model_bundle(folder)


@pytest.mark.parametrize("size", ["16", 16.0, True])
def test_a_size_that_is_not_a_json_integer_is_refused(tmp_path, size):
    folder = write_model_dir(tmp_path / "m")
    files = json.loads((folder / "model.json").read_text())["files"]
    edit_manifest(folder, files={**files, "fake.model": {**files["fake.model"], "size": size}})
    with pytest.raises(ModelError, match=r"files\.fake\.model\.size: must be a whole number"):
        load_model_bundle(folder)


def test_a_symlink_to_outside_the_folder_is_refused_before_any_hashing(tmp_path, no_hashing):
    folder = write_model_dir(tmp_path / "m")
    outside = tmp_path / "outside.model"
    os.replace(folder / "fake.model", outside)  # same bytes, same size: only the link gives it away
    (folder / "fake.model").symlink_to(outside)
    with pytest.raises(ModelError, match=r"fake\.model is reached through a symlink"):
        load_model_bundle(folder)


def test_a_symlinked_folder_inside_the_bundle_is_refused(tmp_path, no_hashing):
    folder = write_model_dir(tmp_path / "m")
    real = tmp_path / "elsewhere"
    real.mkdir()
    os.replace(folder / "fake.model", real / "fake.model")
    (folder / "sub").symlink_to(real)
    files = json.loads((folder / "model.json").read_text())["files"]
    files["sub/fake.model"] = files.pop("fake.model")
    edit_manifest(folder, files=files, runtimes={"fake": {"path": "sub/fake.model", "outputs": {}}})
    with pytest.raises(ModelError, match=r"sub/fake\.model is reached through a symlink \(sub\)"):
        load_model_bundle(folder)


def test_a_listed_folder_is_not_a_regular_file(tmp_path, no_hashing):
    folder = write_model_dir(tmp_path / "m")
    (folder / "fake.model").unlink()
    (folder / "fake.model").mkdir()
    with pytest.raises(ModelError, match=r"fake\.model is not a regular file"):
        load_model_bundle(folder)


def test_a_schema_1_folder_is_refused_by_its_schema(tmp_path):
    folder = write_model_dir(tmp_path / "m")
    edit_manifest(folder, schema="smartcam.model/1")
    with pytest.raises(ModelError, match=r"schema 'smartcam\.model/1' is not 'smartcam\.model/2'"):
        load_model_bundle(folder)


def test_the_packaged_bundle_loads():
    bundle = load_model_bundle(MODEL_DIR)
    assert bundle.labels == ("background", "person") and bundle.anchors.shape == (1917, 4)
    assert bundle.manifest.total_size() == sum(
        (MODEL_DIR / name).stat().st_size for name in bundle.manifest.files)


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
