"""The packaged sample model (smartcam.SsdModelStore) on real photos, on every backend.

Tolerances: every backend gets the same input tensor and must give the same detections as
onnxruntime: same count and labels, IoU >= 0.9, |score difference| <= 0.02. Against the
upstream TF graph's own detections (tests/model_packaging/expected_detections.json, PIL preprocessing)
the component's OpenCV preprocessing is allowed IoU >= 0.85, |score difference| <= 0.05.
"""

import json
import os
import platform
import threading
import time

import cv2
import pytest

from smartcam.config import LiveConfig
from smartcam.contracts import Detection, Detections, parse
from smartcam.frames import FrameRing
from ssd_inference.app import SsdInferenceApp
from ssd_inference.backends import available_backends, resolve_backend
from ssd_inference.backends.cpu_variants import cpu_flags, runnable_builds
from ssd_inference.backends.dlr_backend import DlrBackend
from ssd_inference.decoders import Selection
from ssd_inference.engine import Engine, PreparedModel
from ssd_inference.preprocessing import decode_image
from ssd_inference.settings import SsdInferenceConfig
from tests.camera_ingest.motion_frames import vtest_frames
from tests.ssd_inference.helpers import MODEL_DIR, REPO, THING
from tests.support.fake_nucleus import FakeNucleus, wait_until

IMAGES = REPO / "tests" / "model_packaging" / "images"
EXPECTED = REPO / "tests" / "model_packaging" / "expected_detections.json"
BACKENDS = ["dlr", "onnxruntime", "litert"]


def iou(a: Detection, b) -> float:
    ax = (a.box.x1, a.box.y1, a.box.x2, a.box.y2)
    bx = b if isinstance(b, list) else (b.box.x1, b.box.y1, b.box.x2, b.box.y2)
    ix = max(0.0, min(ax[2], bx[2]) - max(ax[0], bx[0]))
    iy = max(0.0, min(ax[3], bx[3]) - max(ax[1], bx[1]))
    inter = ix * iy
    union = (ax[2] - ax[0]) * (ax[3] - ax[1]) + (bx[2] - bx[0]) * (bx[3] - bx[1]) - inter
    return inter / union


@pytest.fixture(scope="module")
def model():
    return PreparedModel.load(MODEL_DIR)


def runnable_dlr_builds(model) -> list:
    return runnable_builds(model.bundle.manifest.runtimes, "dlr", platform.machine(), cpu_flags())


@pytest.fixture(scope="module")
def engines(model):
    """One engine per backend, and one per DLR build this CPU can run (keyed by its runtime key)."""
    here = available_backends(model.bundle)
    if platform.machine() == "x86_64":
        assert set(here) == set(BACKENDS), "on x86_64 all three runtimes are installed"
        assert resolve_backend("auto", model.bundle)[0] == "dlr", "auto means DLR on x86_64"
    started = {name: Engine.start(model, name, 2, fall_back=False) for name in here if name != "dlr"}
    for build in runnable_dlr_builds(model) if "dlr" in here else []:
        # A CPU with exactly the build's features gets exactly that build.
        factories = {"dlr": lambda bundle, threads, needs=build.needs: DlrBackend(bundle, threads, flags=needs)}
        engine = Engine.start(model, "dlr", 2, factories, fall_back=False)
        assert engine.backend_variant == build.key
        started[build.key] = engine
    yield started
    for engine in started.values():
        engine.close()


@pytest.mark.skipif(platform.machine() != "x86_64", reason="needs an x86_64 CPU: DLR 1.6 runs models on x86_64 only")
def test_this_cpu_runs_the_baseline_and_avx2_builds_and_dlr_picks_the_most_demanding(engines, model):
    builds = [build.key for build in runnable_dlr_builds(model)]
    assert {"dlr-x86-64", "dlr-avx2"} <= set(builds) and builds[-1] == "dlr-x86-64"
    engine = Engine.start(model, "dlr", 1, fall_back=False)
    try:
        assert engine.backend_variant == builds[0]
    finally:
        engine.close()


@pytest.fixture(scope="module")
def expected():
    return json.loads(EXPECTED.read_text())


def detect(engine, tensor, min_score=0.3, iou_threshold=0.6):
    return engine.postprocess(engine.infer(tensor), Selection(min_score, iou_threshold, 100)).detections


def test_real_model_verifies_and_names_person(model):
    assert model.labels == ("person",)
    assert model.bundle.anchors.shape == (1917, 4)
    assert set(model.bundle.manifest.runtimes) >= {"dlr-avx2", "dlr-x86-64", "onnxruntime", "litert"}


@pytest.mark.parametrize("image", ["grace_hopper.jpg", "astronaut.png", "camera.png", "chelsea.png"])
def test_backends_agree_on_real_images(engines, model, image):
    tensor = model.preprocess(decode_image((IMAGES / image).read_bytes()))
    reference = detect(engines["onnxruntime"], tensor)
    for name, engine in engines.items():
        found = detect(engine, tensor)
        assert [d.label for d in found] == [d.label for d in reference], name
        for ours, theirs in zip(found, reference, strict=True):
            assert iou(ours, theirs) >= 0.9, name
            assert abs(ours.score - theirs.score) <= 0.02, name


@pytest.mark.parametrize("image", ["grace_hopper.jpg", "astronaut.png", "camera.png", "chelsea.png"])
def test_detections_match_the_upstream_graph(engines, model, expected, image):
    want = expected["images"][image]["detections"]
    tensor = model.preprocess(decode_image((IMAGES / image).read_bytes()))
    for name, engine in engines.items():
        found = detect(engine, tensor, expected["min_score"], expected["nms_iou_threshold"])
        assert len(found) == len(want), name
        for ours, theirs in zip(found, want, strict=True):
            assert ours.label == theirs["label"]
            assert iou(ours, theirs["box"]) >= 0.85, name
            assert abs(ours.score - theirs["score"]) <= 0.05, name


@pytest.mark.parametrize("backend", BACKENDS)
def test_streams_of_one_model_infer_at_once_each_as_alone(model, backend):
    """Two copies run from two threads at once, each on its own image, many times: every result is the
    one that image gives alone (the copies share no buffers, whatever the runtime)."""
    if backend not in available_backends(model.bundle):
        pytest.skip(f"{backend} is not installed here")
    images = ["grace_hopper.jpg", "astronaut.png"]
    tensors = [model.preprocess(decode_image((IMAGES / image).read_bytes())) for image in images]
    engine = Engine.start(model, backend, 1, fall_back=False, streams=2)
    try:
        assert engine.streams == 2 and engine.more[0] is not engine.backend
        alone = [detect(engine, tensor) for tensor in tensors]
        assert alone[0] != alone[1]
        results: list[list] = [[], []]

        def run(index: int) -> None:
            for _ in range(15):
                results[index].append(detect(engine, tensors[index]))

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for index in range(2):
            assert results[index] == [alone[index]] * 15, images[index]
    finally:
        engine.close()


def test_grace_hopper_is_a_person_on_every_backend(engines, model):
    tensor = model.preprocess(decode_image((IMAGES / "grace_hopper.jpg").read_bytes()))
    for name, engine in engines.items():
        found = detect(engine, tensor, 0.5, 0.45)
        assert [d.label for d in found] == ["person"], name
        assert found[0].score > 0.9 and found[0].box.y2 - found[0].box.y1 > 0.8


@pytest.mark.parametrize("backend", ["auto", "onnxruntime", "litert"])
def test_component_detects_grace_hopper_with_the_real_model(tmp_path, monkeypatch, backend):
    monkeypatch.setenv("AWS_IOT_THING_NAME", THING)
    monkeypatch.setenv("SMARTCAM_MODEL_DIR", str(MODEL_DIR))
    gg = FakeNucleus({"backend": backend, "threads": 2}, "smartcam.SsdInference")
    ring = FrameRing(tmp_path, "cam1", capacity=4)
    app = SsdInferenceApp(gg.ipc, LiveConfig(gg.ipc, SsdInferenceConfig), frame_root=tmp_path)
    app.start()
    try:
        frame = ring.write(cv2.imread(str(IMAGES / "grace_hopper.jpg")), captured_at=time.time(),
                           captured_monotonic_ns=time.monotonic_ns())
        assert (frame.width, frame.height) == (512, 600)
        gg.send("smartcam/frames", frame)
        wait_until(lambda: gg.on("smartcam/detections"), timeout=120)
        message = parse(Detections, gg.on("smartcam/detections")[0])
        assert [d.label for d in message.detections] == ["person"]
        assert message.model.name == "ssdlite-mobilenetv2-person"
        # auto: the packaged model's preference (DLR first on x86_64, where PyPI's DLR runs; onnxruntime elsewhere)
        auto = "dlr" if platform.machine() == "x86_64" else "onnxruntime"
        assert message.model.backend == (auto if backend == "auto" else backend)
        if message.model.backend == "dlr":  # every stored item says which build ran
            assert message.model.variant == runnable_dlr_builds(PreparedModel.load(MODEL_DIR))[0].key
        else:
            assert message.model.variant is None
        assert message.latency.infer_ms > 0
    finally:
        app.stop()


@pytest.mark.skipif(platform.machine() != "x86_64", reason="needs an x86_64 CPU: DLR 1.6 runs models on x86_64 only")
def test_dlr_leaves_threads_unpinned_and_keeps_an_operator_setting(model, monkeypatch):
    """TVM would pin the calling thread to one core with a single thread (and so everything the
    process starts later); the component shares its cores with capture and the writer."""
    monkeypatch.delenv("TVM_BIND_THREADS", raising=False)
    monkeypatch.setenv("TVM_THREAD_POOL_SPIN_COUNT", "123")
    cores = os.sched_getaffinity(0)
    engine = Engine.start(model, "dlr", 1, fall_back=False)
    try:
        image = decode_image((IMAGES / "grace_hopper.jpg").read_bytes())
        engine.infer(engine.preprocess(image))
        assert os.environ["TVM_BIND_THREADS"] == "0"
        assert os.environ["TVM_THREAD_POOL_SPIN_COUNT"] == "123"
        assert os.sched_getaffinity(0) == cores
    finally:
        engine.close()
        os.sched_setaffinity(0, cores)


def test_on_real_video_the_candidates_leave_the_results_exactly_as_they_were(engines, model):
    """Every 40th frame of OpenCV's pedestrian video (vtest.avi) as CameraIngest sends it (640x480): the
    results with candidates are those without, and the candidates lie between the thresholds, clear of
    the results of their class."""
    plain = Selection(0.5, 0.45, 20)
    hinted = Selection(0.5, 0.45, 20, tracking_score_threshold=0.1)
    engine = engines["onnxruntime"]
    candidates = 0
    for start in range(0, 795, 40):
        [picture] = vtest_frames(start, 1)
        in_the_ring = cv2.resize(picture, (640, 480), interpolation=cv2.INTER_AREA)
        outputs = engine.infer(model.preprocess.tensor(model.preprocess.resize(in_the_ring)))
        found = engine.postprocess(outputs, hinted)
        assert found.detections == engine.postprocess(outputs, plain).detections
        assert all(0.1 <= c.score < 0.5 for c in found.candidates) and len(found.candidates) <= 20
        assert all(iou(c, d) <= 0.45 for c in found.candidates for d in found.detections)
        candidates += len(found.candidates)
    assert candidates >= 20  # people half hidden in the crowd: weak detections the tracker can use
