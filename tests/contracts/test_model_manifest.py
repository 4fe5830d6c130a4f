"""smartcam.contracts.model_manifest: ``model.json``, what a packaged model folder holds."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from smartcam.contracts import (
    DECODER_TYPES,
    MANIFEST_FILE,
    MAX_MODEL_BUNDLE_BYTES,
    MAX_MODEL_FILE_BYTES,
    MODEL_SCHEMA,
    DecoderSpec,
    InputSpec,
    ModelFile,
    ModelManifest,
    NeoJob,
    Normalization,
    RuntimeSpec,
    describe_file,
    parse,
    sha256_file,
)
from tests.contracts.messages import FILE, SHA, manifest, refusal, round_trip

NHWC = {"shape": [1, 300, 400, 3], "layout": "NHWC", "dtype": "uint8"}
NCHW = {"shape": [1, 3, 300, 400], "layout": "NCHW", "dtype": "float32"}
NEO = {"compilation_job": "job", "arn": "arn:aws:sagemaker:job", "target_device": "jetson", "framework": "mxnet"}


def test_a_manifest_round_trips_with_its_schema():
    parsed = round_trip(ModelManifest, manifest(labels=["person"], source={"url": "x"}, neo=NEO,
                                                runtime_preference={"x86_64": ["onnxruntime"]}))
    assert (MANIFEST_FILE, MODEL_SCHEMA) == ("model.json", "smartcam.model/2")
    assert parsed.to_message()["schema"] == MODEL_SCHEMA
    assert "schema" in refusal(ModelManifest, manifest(schema="smartcam.model/1"))


def test_a_schema_1_manifest_listing_bare_sha256s_is_refused():
    assert "files.labels.txt" in refusal(ModelManifest, manifest(files={"labels.txt": SHA, "model.onnx": SHA}))


def test_the_decoder_types_are_ssd_inferences_four():
    assert DECODER_TYPES == ("tf_od_api", "tflite_postprocess", "mxnet_ssd", "gluoncv")
    assert "decoder.type" in refusal(ModelManifest, manifest(decoder={"type": "yolo"}))


@pytest.mark.parametrize(("spec", "size"), [(NHWC, (300, 400, 3)), (NCHW, (300, 400, 3)),
                                            ({**NHWC, "shape": [1, 2, 5, 7]}, (2, 5, 7)),
                                            ({**NCHW, "shape": [1, 7, 2, 5]}, (2, 5, 7))])
def test_the_input_size_is_read_by_its_layout(spec, size):
    parsed = parse(InputSpec, spec)
    assert (parsed.height, parsed.width, parsed.channels) == size


def test_the_input_is_rgb_unless_told():
    assert parse(InputSpec, NHWC).color == "RGB"
    assert parse(InputSpec, {**NHWC, "color": "BGR"}).color == "BGR"
    assert "color" in refusal(InputSpec, {**NHWC, "color": "GRAY"})


@pytest.mark.parametrize("shape", [[1, 1, 1, 1], [1, 300, 300, 3]])
def test_a_shape_is_one_batch_of_positive_sizes(shape):
    assert parse(InputSpec, {**NHWC, "shape": shape}).shape == shape


@pytest.mark.parametrize("shape", [[2, 300, 300, 3], [0, 300, 300, 3], [1, 0, 300, 3], [1, 300, 300, 0],
                                   [1, 300, -300, 3], [-1, 300, 300, 3]])
def test_a_shape_with_another_batch_or_a_size_below_1_is_refused(shape):
    assert refusal(InputSpec, {**NHWC, "shape": shape}) == (
        "invalid InputSpec: shape: must be [1, ...] with positive sizes")


@pytest.mark.parametrize(("shape", "why"), [([1, 300, 300], "at least 4 items"), ([1, 3, 3, 3, 3], "at most 4 items"),
                                            ([1, 300, 300, 3.0], "whole number")])
def test_a_shape_has_four_whole_numbers(shape, why):
    assert why in refusal(InputSpec, {**NHWC, "shape": shape})


def test_a_resize_note_is_at_most_4096_characters():
    assert parse(InputSpec, {**NHWC, "resize": "r" * 4096}).resize == "r" * 4096
    assert "at most 4096 characters" in refusal(InputSpec, {**NHWC, "resize": "r" * 4097})


@pytest.mark.parametrize("std", [[1.0], [0.5, -1.0, 2.0, 0.001]])
def test_a_normalization_divides_by_nonzero_numbers(std):
    assert parse(Normalization, {"mean": [0.5] * len(std), "std": std}).std == std


@pytest.mark.parametrize("std", [[0.0], [1.0, 0.0], [0, 1.0, 1.0, 1.0]])
def test_a_normalization_dividing_by_zero_is_refused(std):
    assert refusal(Normalization, {"mean": [0.5], "std": std}) == "invalid Normalization: std: std must not contain 0"


@pytest.mark.parametrize(("over", "why"), [({"mean": []}, "mean: List should have at least 1 item"),
                                           ({"mean": [0.5] * 5}, "mean: List should have at most 4 items"),
                                           ({"std": []}, "std: List should have at least 1 item"),
                                           ({"std": [1.0] * 5}, "std: List should have at most 4 items")])
def test_a_normalization_has_1_to_4_numbers_each(over, why):
    assert why in refusal(Normalization, {"mean": [0.5, 0.5, 0.5, 0.5], "std": [1.0, 1.0, 1.0, 1.0], **over})


def test_a_decoder_names_its_anchors_file_when_it_has_one():
    assert parse(DecoderSpec, {"type": "mxnet_ssd", "params": {"anchors_file": "anchors.npy"}}).anchors_file == (
        "anchors.npy")
    assert parse(DecoderSpec, {"type": "mxnet_ssd"}).anchors_file is None
    assert parse(DecoderSpec, {"type": "mxnet_ssd", "params": {"anchors_file": ""}}).anchors_file is None


def test_the_files_a_model_needs_are_its_labels_and_anchors():
    assert parse(ModelManifest, manifest()).needed_files() == ["labels.txt"]
    with_anchors = manifest(decoder={"type": "mxnet_ssd", "params": {"anchors_file": "anchors.npy"}})
    assert parse(ModelManifest, with_anchors).needed_files() == ["labels.txt", "anchors.npy"]


@pytest.mark.parametrize(("path", "covered"), [
    ("labels.txt", True), ("model.onnx", True), ("dlr", True), ("dlr/", True), ("dlr/compiled.so", True),
    ("dl", False), ("labels", False), ("labels.txt/", False), ("model.onnx.bak", False), ("compiled.so", False),
])
def test_a_manifest_covers_its_files_and_the_folders_holding_them(path, covered):
    parsed = parse(ModelManifest, manifest(files={"labels.txt": FILE, "model.onnx": FILE, "dlr/compiled.so": FILE}))
    assert parsed.covers(path) is covered


@pytest.mark.parametrize(("over", "why"), [
    ({"runtimes": {}}, "runtimes: Dictionary should have at least 1 item"),
    ({"files": {}}, "files: Dictionary should have at least 1 item"),
    ({"files": {"labels.txt": {**FILE, "sha256": "0" * 63}}}, "should match pattern"),
    ({"files": {"labels.txt": {**FILE, "sha256": "A" * 64}}}, "should match pattern"),
    ({"files": {"": FILE}}, "at least 1 character"),
    ({"files": {"labels.txt": {"sha256": SHA}}}, "files.labels.txt.size: required"),
    ({"files": {"labels.txt": {"size": 1}}}, "files.labels.txt.sha256: required"),
    ({"files": {"labels.txt": {**FILE, "mtime": 1}}}, "files.labels.txt.mtime: unknown key"),
    ({"labels_file": ""}, "labels_file: String should have at least 1 character"),
    ({"labels_file": "l" * 1025}, "labels_file: String should have at most 1024 characters"),
    ({"version": ""}, "version: String should have at least 1 character"),
    ({"version": "v" * 65}, "version: String should have at most 64 characters"),
    ({"framework": "f" * 65}, "framework: String should have at most 64 characters"),
    ({"notes": "n" * 4097}, "notes: String should have at most 4096 characters"),
    ({"runtime_preference": {"sparc": ["onnxruntime"]}}, "runtime_preference.sparc"),
])
def test_a_manifest_out_of_bounds_is_refused(over, why):
    assert why in refusal(ModelManifest, manifest(**over))


def test_a_manifest_at_its_lower_bounds_is_accepted():
    empty = {"sha256": SHA, "size": 0}
    parsed = parse(ModelManifest, manifest(version="1", framework="", labels_file="l", files={"l": empty}))
    assert (parsed.version, parsed.framework, parsed.labels_file) == ("1", "", "l")
    assert parsed.files == {"l": ModelFile(sha256=SHA, size=0)} and parsed.total_size() == 0


def test_a_manifest_at_its_bounds_is_accepted():
    parsed = parse(ModelManifest, manifest(version="v" * 64, framework="f" * 64, notes="n" * 4096,
                                           labels_file="l" * 1024, files={"l" * 1024: {
                                               "sha256": "0123456789abcdef" * 4, "size": MAX_MODEL_FILE_BYTES}}))
    assert len(parsed.labels_file) == 1024
    assert parsed.files == {"l" * 1024: ModelFile(sha256="0123456789abcdef" * 4, size=MAX_MODEL_FILE_BYTES)}


@pytest.mark.parametrize(("size", "why"), [
    ("12", "files.labels.txt.size: must be a whole number"),
    (12.0, "files.labels.txt.size: must be a whole number"),
    (True, "files.labels.txt.size: must be a whole number"),
    (None, "files.labels.txt.size: must be a whole number"),
    (-1, "files.labels.txt.size: must be greater than or equal to 0"),
    (MAX_MODEL_FILE_BYTES + 1, f"files.labels.txt.size: must be less than or equal to {MAX_MODEL_FILE_BYTES}"),
])
def test_a_file_size_is_a_whole_number_of_bytes_within_the_bound(size, why):
    assert why in refusal(ModelManifest, manifest(files={"labels.txt": {"sha256": SHA, "size": size}}))


def test_a_bundle_is_bounded_in_total():
    at_bound = {f"part{i}": {"sha256": SHA, "size": MAX_MODEL_FILE_BYTES} for i in range(4)}
    assert MAX_MODEL_BUNDLE_BYTES == 4 * MAX_MODEL_FILE_BYTES
    assert parse(ModelManifest, manifest(files=at_bound)).total_size() == MAX_MODEL_BUNDLE_BYTES
    over = {**at_bound, "labels.txt": {"sha256": SHA, "size": 1}}
    assert f"over the {MAX_MODEL_BUNDLE_BYTES}-byte bound" in refusal(ModelManifest, manifest(files=over))


def test_a_runtime_is_a_relative_path_and_what_it_outputs():
    parsed = round_trip(RuntimeSpec, {"path": "p" * 1024, "outputs": {"boxes": 0, "scores": "out:1"}, "opset": 1,
                                      "platforms": ["aarch64", "unknown"]})
    assert parsed.outputs == {"boxes": 0, "scores": "out:1"} and parsed.opset == 1
    assert parse(RuntimeSpec, {"path": "m"}).outputs == {}
    assert "path: String should have at most 1024 characters" in refusal(RuntimeSpec, {"path": "p" * 1025})
    assert "opset: must be greater than 0" in refusal(RuntimeSpec, {"path": "m", "opset": 0})
    assert "platforms.0" in refusal(RuntimeSpec, {"path": "m", "platforms": ["i386"]})
    assert "outputs.boxes" in refusal(RuntimeSpec, {"path": "m", "outputs": {"boxes": 1.0}})


@pytest.mark.parametrize(("key", "longest"), [("compilation_job", 63), ("arn", 256), ("target_device", 64),
                                              ("framework", 32)])
def test_a_neo_job_names_are_bounded(key, longest):
    assert getattr(parse(NeoJob, {**NEO, key: "n" * longest}), key) == "n" * longest
    assert getattr(parse(NeoJob, {**NEO, key: "n"}), key) == "n"
    too_long = {**NEO, key: "n" * (longest + 1)}
    assert f"{key}: String should have at most {longest} characters" in refusal(NeoJob, too_long)
    assert f"{key}: String should have at least 1 character" in refusal(NeoJob, {**NEO, key: ""})


@pytest.mark.parametrize("size", [0, 1, 1000, (1 << 20) + 3])
def test_the_digest_of_a_file_is_its_sha256(tmp_path: Path, size: int):
    data = bytes(i % 251 for i in range(size))
    path = tmp_path / "model.bin"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    assert describe_file(path) == ModelFile(sha256=hashlib.sha256(data).hexdigest(), size=size)
