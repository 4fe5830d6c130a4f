"""smartcam.SsdInference with a mocked Greengrass IPC client: frames in, detections out."""

import dataclasses
import importlib.util
import json
import threading
import time

import cv2
import pytest

from smartcam.config import LiveConfig
from smartcam.contracts import Detections, Health, parse
from smartcam.frames import FrameRing
from ssd_inference.app import SsdInferenceApp
from ssd_inference.frame_path import FramePath
from ssd_inference.settings import SsdInferenceConfig
from tests.ssd_inference.helpers import (
    REPO,
    THING,
    FakeBackend,
    WeakDetectionsBackend,
    fake_factories,
    frame_pixels,
    refused_frame,
    write_frame,
    write_model_dir,
)
from tests.support.fake_nucleus import FakeNucleus, wait_until
from tests.support.frame_root import nucleus_frame_root

STATUS = f"smartcam/{THING}/status/smartcam.SsdInference"
SUMMARY = f"smartcam/{THING}/detections"
RUNTIMES = {"onnxruntime": {"path": "fake.model", "outputs": {}}, "litert": {"path": "fake.model", "outputs": {}}}


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_IOT_THING_NAME", THING)
    FakeBackend.calls.clear()
    # The nucleus's environment, so that main() (which derives the root) finds the same ring.
    frames = nucleus_frame_root(monkeypatch, tmp_path)
    gg = FakeNucleus({"statusMinIntervalS": 0, "healthIntervalS": 3600,
                      "scoreThreshold": 0.5, "backend": "onnxruntime"}, "smartcam.SsdInference")
    ring = FrameRing(frames, "cam1", capacity=4)
    return gg, ring, tmp_path


def start_app(gg, ring, model_dir, factories=None, **kwargs):
    app = SsdInferenceApp(gg.ipc, LiveConfig(gg.ipc, SsdInferenceConfig), model_dir=model_dir,
                          backend_factories=factories or fake_factories("onnxruntime", "litert"),
                          frame_root=ring.root, **kwargs)
    app.start_result = app.start()  # what run_component reports with UpdateState
    return app


def send_frame(gg, frame):
    gg.send("smartcam/frames", frame)


def detections_for(gg, frame):
    wait_until(lambda: any(m["frame"]["frame_id"] == frame.frame_id for m in gg.on("smartcam/detections")))
    return next(parse(Detections, m) for m in gg.on("smartcam/detections") if m["frame"]["frame_id"] == frame.frame_id)


def status_with(gg, text):
    wait_until(lambda: any(text in m["detail"] for m in gg.on_iot(STATUS)))
    return next(parse(Health, m) for m in gg.on_iot(STATUS) if text in m["detail"])


def test_frame_in_detections_out(env):
    gg, ring, tmp = env
    app = start_app(gg, ring, write_model_dir(tmp / "model", runtimes=RUNTIMES))
    try:
        frame = write_frame(ring)
        send_frame(gg, frame)
        message = detections_for(gg, frame)
        assert message.frame == frame
        assert [(d.label, round(d.score, 2)) for d in message.detections] == [("person", 0.9), ("dog", 0.6)]
        box = message.detections[0].box
        assert (box.x1, box.y1, box.x2, box.y2) == pytest.approx(FakeBackend.PERSON_BOX, abs=1e-4)
        model = message.model
        assert (model.name, model.version, model.backend) == ("test-ssd", "0.1.0", "onnxruntime")
        assert 0 <= message.latency.queue_ms < 60_000  # from the monotonic capture stamp (stages: test_frame_path)
        wait_until(lambda: gg.on_iot(SUMMARY))
        summary = gg.on_iot(SUMMARY)[0]
        assert summary["count"] == 2 and summary["labels"] == {"person": 1, "dog": 1}
        assert len(json.dumps(summary)) < 1024
        health = [parse(Health, m) for m in gg.on("smartcam/health/smartcam.SsdInference")]
        assert health and health[0].state == "ok"
        assert not gg.on_iot(STATUS)
    finally:
        app.stop()


def test_live_config_update_applies_without_restart(env):
    gg, ring, tmp = env
    app = start_app(gg, ring, write_model_dir(tmp / "model", runtimes=RUNTIMES))
    try:
        first = write_frame(ring)
        send_frame(gg, first)
        assert len(detections_for(gg, first).detections) == 2
        gg.update(scoreThreshold=0.7, classAllowList=["person", "dog"])
        second = write_frame(ring)
        send_frame(gg, second)
        assert [d.label for d in detections_for(gg, second).detections] == ["person"]

        gg.update(classAllowList=["dog"], scoreThreshold=0.5)
        third = write_frame(ring)
        send_frame(gg, third)
        assert [d.label for d in detections_for(gg, third).detections] == ["dog"]

        old_backend = app.engine.backend
        gg.update(backend="litert", threads=1)
        wait_until(lambda: app.engine.backend_name == "litert")
        fourth = write_frame(ring)
        send_frame(gg, fourth)
        assert detections_for(gg, fourth).model.backend == "litert"
        assert ("litert", 1) in FakeBackend.calls and old_backend.closed
    finally:
        app.stop()


def test_invalid_config_update_keeps_the_previous_one(env):
    gg, ring, tmp = env
    app = start_app(gg, ring, write_model_dir(tmp / "model", runtimes=RUNTIMES))
    try:
        gg.update(scoreThreshold=7)
        frame = write_frame(ring)
        send_frame(gg, frame)
        assert len(detections_for(gg, frame).detections) == 2
    finally:
        app.stop()


def test_backend_that_fails_to_reload_keeps_serving(env):
    gg, ring, tmp = env

    def broken(bundle, threads):
        from ssd_inference.backends import BackendError
        raise BackendError("litert: cannot load fake.model: broken on purpose")

    factories = {**fake_factories("onnxruntime"), "litert": broken}
    app = start_app(gg, ring, write_model_dir(tmp / "model", runtimes=RUNTIMES), factories)
    try:
        gg.update(backend="litert")
        assert "broken on purpose" in status_with(gg, "backendReloadFailed").detail
        frame = write_frame(ring)
        send_frame(gg, frame)
        assert detections_for(gg, frame).model.backend == "onnxruntime"
    finally:
        app.stop()


@pytest.mark.parametrize("bad, kind", [
    ({"schema": "smartcam.frame/1", "frame_id": "x"}, "invalidMessage"),
    ("recycled", "frameExpired"),
    ("slot", "badFrame"),
    ("unwritten", "badFrame"),
    ("symlinked", "frameOutsideRoot"),
])
def test_bad_input_gets_a_status_and_the_next_frame_is_served(env, bad, kind):
    gg, ring, tmp = env
    app = start_app(gg, ring, write_model_dir(tmp / "model", runtimes=RUNTIMES))
    try:
        send_frame(gg, refused_frame(ring, bad, tmp / "elsewhere") if isinstance(bad, str) else bad)
        status = status_with(gg, kind)
        assert status.state == "degraded" and status.component == "smartcam.SsdInference"
        assert app.counters[kind if kind != "invalidMessage" else "messagesInvalid"] == 1
        good = write_frame(ring)
        send_frame(gg, good)
        assert len(detections_for(gg, good).detections) == 2
        assert "ERRORED" not in [str(s) for s in gg.states()]
    finally:
        app.stop()


@pytest.mark.parametrize("breakage, reason", [
    ("altered", "anchors.npy is altered"),
    ("missing", "labels.txt is missing"),
    ("decoder", "decoder.type: must be 'tf_od_api'"),
])
def test_unusable_model_reports_errored_and_keeps_running(env, breakage, reason):
    gg, ring, tmp = env
    folder = write_model_dir(tmp / "model", runtimes=RUNTIMES,
                             decoder={"type": "yolo9", "params": {}} if breakage == "decoder" else None)
    if breakage == "altered":
        anchors = bytearray((folder / "anchors.npy").read_bytes())
        anchors[-1] ^= 0xFF  # same size: only the sha256 can tell
        (folder / "anchors.npy").write_bytes(bytes(anchors))
    elif breakage == "missing":
        (folder / "labels.txt").unlink()
    app = start_app(gg, ring, folder)
    try:
        status = status_with(gg, reason)
        assert status.state == "errored"
        assert app.start_result == "ERRORED"
        frame = write_frame(ring)
        send_frame(gg, frame)
        wait_until(lambda: app.counters["framesRefused"] == 1)
        assert not gg.on("smartcam/detections")
        assert app._worker.is_alive()
    finally:
        app.stop()


def test_annotated_frames_are_written_and_bounded(env):
    gg, ring, tmp = env
    out = tmp / "annotated"
    gg.configuration["annotatedOutput"] = {"enabled": True, "dir": str(out), "keepPerCamera": 2}
    app = start_app(gg, ring, write_model_dir(tmp / "model", runtimes=RUNTIMES))
    try:
        frames = [write_frame(ring) for _ in range(3)]
        for frame in frames:
            send_frame(gg, frame)
            detections_for(gg, frame)
        kept = sorted(f"{f.frame_id}.jpg" for f in frames[1:])

        def written() -> list[str]:
            return sorted(p.name for p in (out / "cam1").iterdir()) if (out / "cam1").is_dir() else []

        # The newest file is written before the oldest is pruned: wait for both, then look again.
        wait_until(lambda: written() == kept)
        assert written() == kept
        # drawn on the whole frame read out of the ring again (the model saw a 64x64 copy)
        assert cv2.imread(str(out / "cam1" / kept[-1])).shape == (120, 160, 3)
    finally:
        app.stop()


def load_inference_main():
    # Every component has a main.py; load this one by path.
    spec = importlib.util.spec_from_file_location("ssd_inference_main", REPO / "components/SsdInference/main.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_main_runs_the_component_and_reports_running(env, monkeypatch):
    inference_main = load_inference_main()
    gg, ring, tmp = env
    model = write_model_dir(tmp / "model", runtimes=RUNTIMES)
    monkeypatch.setenv("SMARTCAM_MODEL_DIR", str(model))
    monkeypatch.setattr("ssd_inference.backends.registry.BACKENDS", fake_factories("onnxruntime", "litert"))
    monkeypatch.setattr("ssd_inference.backends.registry._installed", lambda name, machine: True)
    stop = threading.Event()
    runner = threading.Thread(target=lambda: inference_main.main(gg.client, stop))
    runner.start()
    try:
        wait_until(lambda: "RUNNING" in gg.states() and "smartcam/frames" in gg.topic_handlers)
        frame = write_frame(ring)
        send_frame(gg, frame)
        assert detections_for(gg, frame).model.backend == "onnxruntime"
    finally:
        stop.set()
        runner.join(timeout=30)
    assert not runner.is_alive()
    gg.client.close.assert_called()


def test_chosen_backend_failing_at_start_falls_back_and_says_so(env):
    gg, ring, tmp = env

    def broken(bundle, threads):
        from ssd_inference.backends import BackendError
        raise BackendError("onnxruntime: cannot load fake.model: broken on purpose")

    factories = {"onnxruntime": broken, **fake_factories("litert")}
    app = start_app(gg, ring, write_model_dir(tmp / "model", runtimes=RUNTIMES), factories)
    try:
        assert "serving with litert" in status_with(gg, "backendFallback").detail
        frame = write_frame(ring)
        send_frame(gg, frame)
        assert detections_for(gg, frame).model.backend == "litert"
        health = parse(Health, gg.on("smartcam/health/smartcam.SsdInference")[0])
        assert health.state == "degraded" and "configured: onnxruntime" in health.detail
        assert "ERRORED" not in gg.states()
    finally:
        app.stop()


def test_annotated_output_defaults_to_the_work_folder(env, monkeypatch):
    gg, ring, tmp = env
    work = tmp / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    gg.configuration["annotatedOutput"] = {"enabled": True}
    app = start_app(gg, ring, write_model_dir(tmp / "model", runtimes=RUNTIMES))
    try:
        frame = write_frame(ring)
        send_frame(gg, frame)
        wait_until((work / "annotated" / "cam1" / f"{frame.frame_id}.jpg").is_file)
    finally:
        app.stop()


def test_when_inference_is_behind_only_the_newest_frame_waits(env):
    gg, ring, tmp = env
    gate = threading.Event()
    started = threading.Event()

    class SlowBackend(FakeBackend):
        def run(self, tensor):
            started.set()
            gate.wait(60)
            return super().run(tensor)

    factories = {"onnxruntime": lambda bundle, threads: SlowBackend("onnxruntime", bundle, threads)}
    gg.configuration["healthIntervalS"] = 0.2
    ring = FrameRing(tmp / "frames", "cam1", capacity=64)
    app = start_app(gg, ring, write_model_dir(tmp / "model", runtimes=RUNTIMES), factories)
    try:
        first = write_frame(ring)
        send_frame(gg, first)
        assert started.wait(60)
        later = [write_frame(ring) for _ in range(30)]
        for frame in later:
            send_frame(gg, frame)
        gate.set()
        detections_for(gg, later[-1])
        served = {m["frame"]["frame_id"] for m in gg.on("smartcam/detections")}
        assert served == {first.frame_id, later[-1].frame_id}

        def dropped():
            reports = [m for m in gg.on("smartcam/health/smartcam.SsdInference")]
            return reports and reports[-1]["counters"].get("framesDropped") == 29
        wait_until(dropped)
    finally:
        gate.set()
        app.stop()


def test_the_next_frame_is_prepared_while_the_model_runs(env):
    """Under load, reading and decoding frame n+1 overlaps inference of frame n (prefetch thread)."""
    gg, ring, tmp = env
    events = []  # (what, frame id or None, thread name, time)
    lock = threading.Lock()

    def note(what, path=None):
        with lock:
            events.append((what, path, threading.current_thread().name, time.monotonic()))

    class SlowPreparation(FramePath):  # a big frame: preparing it takes half as long as inference
        def prepare(self, frame):
            note("read", frame.frame_id)
            time.sleep(0.1)
            prepared = super().prepare(frame)
            return dataclasses.replace(prepared, preprocess_ms=prepared.preprocess_ms + 100.0)  # what it took

    class SlowBackend(FakeBackend):
        def run(self, tensor):
            note("infer-start")
            time.sleep(0.2)
            note("infer-end")
            return super().run(tensor)

    gg.configuration["dropPolicy"] = {"pendingPerCamera": 8}
    factories = {"onnxruntime": lambda bundle, threads: SlowBackend("onnxruntime", bundle, threads)}
    ring = FrameRing(tmp / "frames", "cam1", capacity=64)
    app = start_app(gg, ring, write_model_dir(tmp / "model", runtimes=RUNTIMES), factories,
                    frame_path_factory=SlowPreparation)
    try:
        frames = [write_frame(ring) for _ in range(4)]
        for frame in frames:
            send_frame(gg, frame)
        detections_for(gg, frames[-1])
        served = [m["frame"]["frame_id"] for m in gg.on("smartcam/detections")]
        assert served == [f.frame_id for f in frames]  # in order, none lost
    finally:
        app.stop()
    reads = [e for e in events if e[0] == "read"]
    ends = [e[3] for e in events if e[0] == "infer-end"]
    assert len(reads) == 4 and len(ends) == 4
    prefetched = [e for e in reads if e[2].startswith("ssd-prefetch")]
    assert len(prefetched) >= 2
    for _, path, _, at in prefetched:
        index = [f.frame_id for f in frames].index(path)
        # Taken about one preparation (0.1 s) before the model was free: preparing overlapped inference.
        assert at < ends[index - 1] - 0.03


def test_main_with_an_altered_model_ends_errored_without_exiting(env, monkeypatch):
    gg, _ring, tmp = env
    model = write_model_dir(tmp / "model", runtimes=RUNTIMES)
    (model / "fake.model").write_bytes(b"not a real mod3l")  # the same size as the original
    monkeypatch.setenv("SMARTCAM_MODEL_DIR", str(model))
    monkeypatch.setattr("ssd_inference.backends.registry.BACKENDS", fake_factories("onnxruntime", "litert"))
    monkeypatch.setattr("ssd_inference.backends.registry._installed", lambda name, machine: True)
    stop = threading.Event()
    exit_codes = []
    runner = threading.Thread(target=lambda: exit_codes.append(load_inference_main().main(gg.client, stop)))
    runner.start()
    try:
        wait_until(lambda: gg.states() == ["ERRORED"])
        assert "fake.model is altered" in status_with(gg, "modelUnusable").detail
        assert runner.is_alive()
    finally:
        stop.set()
        runner.join(timeout=30)
    assert exit_codes == [0]


@pytest.mark.parametrize(("key", "value"), [("threads", "3"), ("threads", True), ("scoreThreshold", "0.5")])
def test_a_string_or_bool_for_a_number_is_refused_and_the_previous_config_stays(env, key, value):
    gg, ring, tmp = env
    app = start_app(gg, ring, write_model_dir(tmp / "model", runtimes=RUNTIMES))
    try:
        before = app._config.current
        gg.update(**{key: value})
        assert app._config.current == before
        assert app._config.refused is not None and f"{key}: must be a" in app._config.refused
        frame = write_frame(ring)
        send_frame(gg, frame)
        assert len(detections_for(gg, frame).detections) == 2
    finally:
        app.stop()


def test_candidates_are_published_but_neither_summarised_nor_drawn(env):
    """With trackingScoreThreshold (0.1 by default) the message carries the half-hidden person as a
    candidate; the results, the IoT summary and the annotated JPEG are exactly what they are without it."""
    gg, ring, tmp = env
    out = tmp / "annotated"
    gg.configuration["annotatedOutput"] = {"enabled": True, "dir": str(out), "keepPerCamera": 10}
    gg.configuration["iotSummary"] = {"minIntervalS": 0}  # both frames summarized
    app = start_app(gg, ring, write_model_dir(tmp / "model", runtimes=RUNTIMES),
                    fake_factories("onnxruntime", "litert", backend=WeakDetectionsBackend))
    pixels = frame_pixels()
    try:
        with_candidates = write_frame(ring, pixels)
        send_frame(gg, with_candidates)
        message = detections_for(gg, with_candidates)
        assert [round(d.score, 2) for d in message.candidates] == [0.3]
        gg.update(trackingScoreThreshold=0.5)
        without_candidates = write_frame(ring, pixels)
        send_frame(gg, without_candidates)
        plain = detections_for(gg, without_candidates)
        assert plain.candidates is None and plain.detections == message.detections

        wait_until(lambda: len(gg.on_iot(SUMMARY)) == 2)
        summaries = gg.on_iot(SUMMARY)
        for summary in summaries:
            del summary["frame_id"], summary["captured_at"], summary["infer_ms"]
        assert summaries[0] == summaries[1] and summaries[0]["count"] == 2

        def annotated(frame):
            return out / "cam1" / f"{frame.frame_id}.jpg"

        wait_until(lambda: annotated(without_candidates).is_file())
        assert annotated(with_candidates).read_bytes() == annotated(without_candidates).read_bytes()
    finally:
        app.stop()


def test_status_min_interval_s_rate_limits_the_status_from_the_start_and_after_an_update(env):
    gg, ring, tmp = env  # statusMinIntervalS 0: every report goes out
    app = start_app(gg, ring, write_model_dir(tmp / "model", runtimes=RUNTIMES))
    try:
        def refused() -> list[str]:
            return [m["detail"] for m in gg.on_iot(STATUS) if m["detail"].startswith("invalidMessage:")]

        for _ in range(2):
            gg.send("smartcam/receipts", {"not": "receipts"})
        assert len(refused()) == 2
        gg.update(statusMinIntervalS=3600)
        for _ in range(2):
            gg.send("smartcam/receipts", {"not": "receipts"})
        assert len(refused()) == 2  # within the hour after the last one sent: suppressed
        assert app._telemetry.counters["messagesInvalid"] == 4
    finally:
        app.stop()


def start_streams(gg, tmp, backend_class, streams=2):
    """The component with ``streams`` copies of ``backend_class`` and room for every frame sent (a deep queue)."""
    gg.configuration["streams"] = streams
    gg.configuration["dropPolicy"] = {"pendingPerCamera": 8}
    factories = {"onnxruntime": lambda bundle, threads: backend_class("onnxruntime", bundle, threads)}
    ring = FrameRing(tmp / "frames", "cam1", capacity=64)
    return ring, start_app(gg, ring, write_model_dir(tmp / "model", runtimes=RUNTIMES), factories)


def test_streams_infer_frames_at_once_and_publish_them_in_the_order_taken(env):
    """Two copies of the model: the first frame's inference is slow, the second's fast, so the second
    finishes first; both ran at once, and the detections still go out first, second, third..."""
    gg, ring, tmp = env
    lock = threading.Lock()
    running, most_at_once, calls = [0], [0], [0]

    class UnevenBackend(FakeBackend):
        def run(self, tensor):
            with lock:
                calls[0] += 1
                slow = calls[0] == 1
                running[0] += 1
                most_at_once[0] = max(most_at_once[0], running[0])
            time.sleep(0.4 if slow else 0.02)
            with lock:
                running[0] -= 1
            return super().run(tensor)

    ring, app = start_streams(gg, tmp, UnevenBackend)
    try:
        assert app.engine is not None and app.engine.streams == 2
        assert len(FakeBackend.calls) == 2  # two copies loaded
        frames = [write_frame(ring) for _ in range(5)]
        for frame in frames:
            send_frame(gg, frame)
        detections_for(gg, frames[-1])
        served = [m["frame"]["frame_id"] for m in gg.on("smartcam/detections")]
        assert served == [f.frame_id for f in frames]
        assert most_at_once[0] == 2
        gg.update(healthIntervalS=0.2)
        wait_until(lambda: any("x 2 streams" in m["detail"] for m in gg.on("smartcam/health/smartcam.SsdInference")))
    finally:
        app.stop()


def test_a_stream_that_fails_refuses_its_frame_and_the_others_go_on_in_order(env):
    gg, ring, tmp = env
    lock = threading.Lock()
    calls = [0]

    class SecondCallFails(FakeBackend):
        def run(self, tensor):
            with lock:
                calls[0] += 1
                this = calls[0]
            if this == 2:
                raise RuntimeError("the runtime broke on this frame")
            time.sleep(0.05)
            return super().run(tensor)

    ring, app = start_streams(gg, tmp, SecondCallFails)
    try:
        frames = [write_frame(ring) for _ in range(4)]
        for frame in frames:
            send_frame(gg, frame)
        detections_for(gg, frames[-1])
        served = [m["frame"]["frame_id"] for m in gg.on("smartcam/detections")]
        assert served == [frames[0].frame_id, frames[2].frame_id, frames[3].frame_id]

        def refused_receipt():
            return [r for m in gg.on("smartcam/receipts") for r in m.get("receipts", [])
                    if r["frame_id"] == frames[1].frame_id and r["outcome"] == "refused"]
        wait_until(refused_receipt)
        assert "the runtime broke on this frame" in refused_receipt()[0]["detail"]
    finally:
        app.stop()


def test_a_streams_change_reloads_with_that_many_copies_and_closes_the_old_ones(env):
    gg, ring, tmp = env
    app = start_app(gg, ring, write_model_dir(tmp / "model", runtimes=RUNTIMES))
    try:
        first = app.engine
        assert first is not None and first.streams == 1
        gg.update(streams=3)
        wait_until(lambda: app.engine is not first)
        assert app.engine.streams == 3 and first.backend.closed
        frame = write_frame(ring)
        send_frame(gg, frame)
        assert detections_for(gg, frame).frame == frame
    finally:
        app.stop()
    assert all(b.closed for b in (app.engine.backend, *app.engine.more))


def test_with_streams_a_configuration_change_applies_from_the_next_frame_even_mid_burst(env):
    gg, ring, tmp = env
    first_running, release = threading.Event(), threading.Event()

    class HoldsTheFirst(FakeBackend):
        def run(self, tensor):
            if not first_running.is_set():
                first_running.set()
                release.wait(30)
            return super().run(tensor)

    ring, app = start_streams(gg, tmp, HoldsTheFirst)
    try:
        first = write_frame(ring)
        send_frame(gg, first)
        assert first_running.wait(30)
        gg.update(scoreThreshold=0.95)  # above both fake detections: the next frame has none
        second = write_frame(ring)
        send_frame(gg, second)
        release.set()
        assert [d.label for d in detections_for(gg, first).detections] == ["person", "dog"]
        assert detections_for(gg, second).detections == []
    finally:
        release.set()
        app.stop()
