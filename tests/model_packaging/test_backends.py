
"""The packaged model on every backend: DLR 1.6 runs the Neo-layout artifact, and DLR, onnxruntime and LiteRT
give the same raw outputs (and the upstream graph's detections) on real photos from wheels."""

import json
from pathlib import Path

import numpy as np
import pytest

from model_packaging.model_json import load_model_json
from model_packaging.preprocess import model_input
from model_packaging.reference_decoder import decode
from model_packaging.reference_runners import (
    PhoneHomeEnabledError,
    assert_dlr_phone_home_disabled,
    dlr_phone_home_config,
    load_runner,
)
from repo_layout import REPO_ROOT

REPO = REPO_ROOT
MODEL = REPO / "components" / "SsdModelStore" / "model"
TESTDATA = Path(__file__).parent
EXPECTED = json.loads((TESTDATA / "expected_detections.json").read_text())
IMAGES = sorted(EXPECTED["images"])
# Raw outputs (box encodings and class logits) of the three compilers/runtimes differ by float rounding
# only: measured max |diff| ~3e-5; the bound below leaves room for other CPUs' kernels.
RAW_ATOL = 1e-3
# Against the upstream TF graph's own decode + NMS: same input, float rounding and TF-vs-numpy NMS differ.
SCORE_ATOL = 0.01
BOX_ATOL = 0.01


def test_dlr_phone_home_is_disabled_in_the_venv():
    config = json.loads(dlr_phone_home_config().read_text())
    assert config == {"enable_phone_home": False}


def test_phone_home_check_refuses_an_enabled_config(tmp_path, monkeypatch):
    config = tmp_path / "ccm_config.json"
    config.write_text(json.dumps({"enable_phone_home": True}))
    monkeypatch.setattr("model_packaging.reference_runners.dlr_phone_home_config", lambda: config)
    with pytest.raises(PhoneHomeEnabledError):
        assert_dlr_phone_home_disabled()


@pytest.fixture(scope="module")
def runners():
    # DLR: the AVX2 build (this machine and CI have AVX2; test_real_model runs every build the CPU has)
    return {name: load_runner(MODEL, runtime, threads=2)
            for name, runtime in (("dlr", "dlr-avx2"), ("onnxruntime", "onnxruntime"), ("litert", "litert"))}


@pytest.fixture(scope="module")
def raw_outputs(runners):
    return {
        image: {name: run(model_input(TESTDATA / "images" / image)) for name, run in runners.items()}
        for image in IMAGES
    }


def test_dlr_loads_the_neo_layout_artifact(raw_outputs):
    outputs = raw_outputs["grace_hopper.jpg"]["dlr"]
    assert outputs["box_encodings"].shape == (1, 1917, 4)
    assert outputs["class_predictions"].shape == (1, 1917, 2)
    assert np.isfinite(outputs["box_encodings"]).all()


@pytest.mark.parametrize("image", IMAGES)
@pytest.mark.parametrize("backend", ["onnxruntime", "litert"])
def test_backends_give_the_same_raw_outputs_as_dlr(raw_outputs, image, backend):
    for tensor in ("box_encodings", "class_predictions"):
        reference = raw_outputs[image]["dlr"][tensor]
        other = raw_outputs[image][backend][tensor]
        assert other.shape == reference.shape
        np.testing.assert_allclose(other, reference, rtol=0, atol=RAW_ATOL, err_msg=f"{image} {backend} {tensor}")


@pytest.mark.parametrize("image", IMAGES)
@pytest.mark.parametrize("backend", ["dlr", "onnxruntime", "litert"])
def test_decoded_detections_match_the_upstream_graph(raw_outputs, image, backend):
    document = load_model_json(MODEL)
    anchors = np.load(MODEL / "anchors.npy")
    outputs = raw_outputs[image][backend]
    found = decode(
        outputs["box_encodings"], outputs["class_predictions"], anchors, document["labels"],
        scale_factors=tuple(document["decoder"]["params"]["scale_factors"]),
        score_threshold=EXPECTED["min_score"], iou_threshold=EXPECTED["nms_iou_threshold"],
    )
    expected = EXPECTED["images"][image]["detections"]
    assert len(found) == len(expected), (image, backend, found)
    for ours, theirs in zip(found, expected, strict=True):
        assert ours["label"] == theirs["label"]
        assert ours["score"] == pytest.approx(theirs["score"], abs=SCORE_ATOL)
        np.testing.assert_allclose(ours["box"], theirs["box"], atol=BOX_ATOL)


def test_expected_detections_are_meaningful():
    people = {name: len(image["detections"]) for name, image in EXPECTED["images"].items()}
    assert people == {"grace_hopper.jpg": 1, "astronaut.png": 1, "camera.png": 1, "chelsea.png": 0}
