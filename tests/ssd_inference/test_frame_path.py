"""The per-frame path on its own: a frame in a real ring in, a Detections message out (no IPC, no threads)."""

import cv2
import numpy as np
import pytest

from smartcam.contracts import Detections, parse
from smartcam.frames import FrameRing
from ssd_inference import frame_path as frame_path_module
from ssd_inference import preprocessing
from ssd_inference.backends import BackendError
from ssd_inference.engine import Engine, PreparedModel
from ssd_inference.frame_path import FramePath, FrameRefused, selection_for
from tests.ssd_inference.helpers import (
    FakeBackend,
    WeakDetectionsBackend,
    fake_factories,
    frame_pixels,
    refused_frame,
    write_frame,
    write_model_dir,
)


@pytest.fixture
def engine(tmp_path):
    runtimes = {"onnxruntime": {"path": "fake.model", "outputs": {}}}
    model = PreparedModel.load(write_model_dir(tmp_path / "model", runtimes=runtimes))
    started = Engine.start(model, "onnxruntime", 1, fake_factories("onnxruntime"))
    yield started
    started.close()


@pytest.fixture
def ring(tmp_path):
    return FrameRing(tmp_path / "frames", "cam1", capacity=4)


def frame_path(engine, ring, **selection):
    chosen = {"score_threshold": 0.5, "nms_iou_threshold": 0.45, "max_detections": 10} | selection
    return FramePath(engine, ring.directory.parent, selection_for(engine, **chosen))


def write(ring, pixels=None):
    return write_frame(ring, pixels)


def test_process_turns_a_frame_into_a_detections_message_with_stage_latencies(engine, ring):
    frame = write(ring)
    message = frame_path(engine, ring).process(frame)
    assert parse(Detections, message.to_message()) == message
    assert message.frame == frame
    assert [(d.label, round(d.score, 2)) for d in message.detections] == [("person", 0.9), ("dog", 0.6)]
    box = message.detections[0].box
    assert (box.x1, box.y1, box.x2, box.y2) == pytest.approx(FakeBackend.PERSON_BOX, abs=1e-4)
    assert (message.model.name, message.model.version, message.model.backend) == ("test-ssd", "0.1.0", "onnxruntime")
    assert 0 <= message.latency.queue_ms < 60_000  # on the capture's monotonic clock, not the wall clock


class SteppedTime:
    """Stands in for the frame path's ``time``: perf_counter returns the given readings in turn, the
    monotonic clock reads ``monotonic_ns``, the wall clock ``wall``."""

    def __init__(self, perf_counter: list[float], monotonic_ns: int, wall: float) -> None:
        self._readings = iter(perf_counter)
        self._monotonic_ns = monotonic_ns
        self._wall = wall

    def perf_counter(self) -> float:
        return next(self._readings)

    def monotonic_ns(self) -> int:
        return self._monotonic_ns

    def time(self) -> float:
        return self._wall


def test_each_stage_is_timed_on_its_own(engine, ring, monkeypatch):
    frame = ring.write(frame_pixels(), captured_at=1_700_000_000.0, captured_monotonic_ns=5_000_000_000)
    # read 2 ms, preprocess 5 ms | 3 ms between the stages | inference 13.5 ms, postprocess 1.25 ms
    clock = SteppedTime([10.0, 10.002, 10.007, 10.010, 10.0235, 10.02475], monotonic_ns=5_042_500_000,
                        wall=1_700_000_000.5)
    monkeypatch.setattr(frame_path_module, "time", clock)
    message = frame_path(engine, ring).process(frame)
    latency = message.latency
    assert (latency.queue_ms, latency.read_ms, latency.preprocess_ms, latency.infer_ms, latency.postprocess_ms) == (
        42.5, 2.0, 5.0, 13.5, 1.25)
    assert message.inferred_at == 1_700_000_000.5


def test_a_frame_stamped_after_now_has_no_queue_time(engine, ring, monkeypatch):
    # by another boot's clock, say
    frame = ring.write(frame_pixels(), captured_at=1_700_000_000.0, captured_monotonic_ns=5_000_000_000)
    monkeypatch.setattr(frame_path_module, "time", SteppedTime([0.0] * 6, monotonic_ns=4_000_000_000, wall=1.0))
    assert frame_path(engine, ring).process(frame).latency.queue_ms is None


def test_the_steps_compose_to_process(engine, ring):
    path = frame_path(engine, ring, class_allow_list=["dog"])
    prepared = path.prepare(write(ring))
    assert prepared.tensor.shape == (1, 64, 64, 3) and prepared.image.shape == (64, 64, 3)  # resized once, read
    inferred = path.infer(prepared)
    assert [d.label for d in inferred.detections] == ["dog"]
    message = path.finish(inferred)
    assert message.detections == inferred.detections
    assert message.latency.infer_ms == inferred.infer_ms and message.latency.read_ms == prepared.read_ms


@pytest.mark.parametrize("case, kind", [
    ("recycled", "frameExpired"),
    ("slot", "badFrame"),
    ("unwritten", "badFrame"),
    ("symlinked", "frameOutsideRoot"),
])
def test_a_frame_that_cannot_be_served_is_refused_with_its_kind(engine, ring, tmp_path, case, kind):
    frame = refused_frame(ring, case, tmp_path / "elsewhere")
    with pytest.raises(FrameRefused) as refused:
        frame_path(engine, ring).process(frame)
    assert refused.value.kind == kind
    assert refused.value.detail


def test_the_model_sees_the_slot_resized_once_in_its_colour_order(engine, ring):
    pixels = frame_pixels()
    prepared = frame_path(engine, ring).prepare(write(ring, pixels))
    resized = cv2.resize(pixels, (64, 64), interpolation=cv2.INTER_LINEAR)
    assert np.array_equal(prepared.image, cv2.cvtColor(resized, cv2.COLOR_BGR2RGB))  # the test model wants RGB
    assert np.array_equal(prepared.tensor, engine.model.preprocess.tensor(prepared.image))


def test_a_frame_overwritten_while_it_is_resized_is_refused_as_expired_and_counted(engine, ring, monkeypatch):
    frame = write(ring)
    real_resize = cv2.resize

    def camera_goes_round_meanwhile(*args, **kwargs):
        for _ in range(ring.slots):
            write(ring)  # same size as the ring's: copied, not resized
        return real_resize(*args, **kwargs)

    path = frame_path(engine, ring)
    monkeypatch.setattr(preprocessing.cv2, "resize", camera_goes_round_meanwhile)
    with pytest.raises(FrameRefused) as refused:
        path.prepare(frame)
    assert (refused.value.kind, refused.value.outcome) == ("frameOverwritten", "expired")
    assert path.reader.overwritten == 1


def test_a_backend_failure_is_refused_as_inference_failed(engine, ring):
    class Broken(FakeBackend):
        def run(self, tensor):
            raise BackendError("runtime crashed")

    broken = Engine(engine.model, Broken("onnxruntime", engine.model.bundle, 1))
    with pytest.raises(FrameRefused) as refused:
        frame_path(broken, ring).process(write(ring))
    assert refused.value.kind == "inferenceFailed" and "runtime crashed" in refused.value.detail


@pytest.fixture
def weak_engine(tmp_path):
    runtimes = {"onnxruntime": {"path": "fake.model", "outputs": {}}}
    model = PreparedModel.load(write_model_dir(tmp_path / "weak-model", runtimes=runtimes))
    started = Engine.start(model, "onnxruntime", 1, fake_factories("onnxruntime", backend=WeakDetectionsBackend))
    yield started
    started.close()


def test_candidates_ride_below_the_results_which_stay_exactly_as_without_them(weak_engine, ring):
    frame = write(ring)
    without = frame_path(weak_engine, ring).process(frame)
    message = frame_path(weak_engine, ring, tracking_score_threshold=0.1).process(frame)
    assert message.detections == without.detections
    assert [(d.label, round(d.score, 2)) for d in message.detections] == [("person", 0.9), ("dog", 0.6)]
    # the half-hidden person; the echo of the visible one is suppressed by it, the faint one is below 0.1
    [hidden] = message.candidates
    assert (hidden.label, round(hidden.score, 2)) == ("person", 0.3)
    box = hidden.box
    assert (box.x1, box.y1, box.x2, box.y2) == pytest.approx(WeakDetectionsBackend.HIDDEN_BOX, abs=1e-4)
    assert parse(Detections, message.to_bytes()) == message
    assert without.candidates is None and "candidates" not in without.to_message()


def test_a_tracking_threshold_at_the_score_threshold_sends_no_candidates(weak_engine, ring):
    message = frame_path(weak_engine, ring, tracking_score_threshold=0.5).process(write(ring))
    assert len(message.detections) == 2 and message.candidates is None
    assert "candidates" not in message.to_message()  # the message is what it was before candidates existed
    lower = frame_path(weak_engine, ring, tracking_score_threshold=0.15).process(write(ring))
    assert [round(d.score, 2) for d in lower.candidates] == [0.3]
    everything = frame_path(weak_engine, ring, tracking_score_threshold=0.0, nms_iou_threshold=1.0).process(write(ring))
    # no NMS (IoU never above 1): the echo too, and every background anchor (0.001) down to 0, capped at 10
    assert len(everything.candidates) == 10 and [round(d.score, 2) for d in everything.candidates[:2]] == [0.3, 0.2]
