"""smartcam.SsdInference in the restart-proof hand-offs, on the fake nucleus: what it does with a frame
sent again, the receipts it decides, and its detections outbox towards the writer."""

import threading
import time

import pytest

from smartcam.config import LiveConfig
from smartcam.contracts import Detections, FrameReceipt, Receipts, parse
from smartcam.frames import FrameRing
from ssd_inference.app import SsdInferenceApp
from ssd_inference.detections_outbox import FIRST_RESEND_S, WRITER_STAGE, DetectionsOutbox
from ssd_inference.frame_path import FramePath
from ssd_inference.settings import SsdInferenceConfig
from tests.ssd_inference.helpers import THING, fake_factories, frame_pixels, refused_frame, write_model_dir
from tests.support.fake_nucleus import FakeNucleus, wait_until

STAGE = "smartcam.SsdInference"
RUNTIMES = {"onnxruntime": {"path": "fake.model", "outputs": {}}}
W1, W2, W3 = "1" * 32, "2" * 32, "3" * 32


class Clock:
    """The outbox's clock: time moves only when a test says so."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Gate:
    """Holds the worker in the preparation of the first frame until the test opens it: meanwhile
    nothing else is taken from the pending frames, so what the drop policy does is exact."""

    def __init__(self):
        self.open = threading.Event()
        self.started = threading.Event()

    def frame_path(self, *args):
        gate = self

        class Gated(FramePath):
            def prepare(self, frame):
                gate.started.set()
                gate.open.wait(60)
                return super().prepare(frame)

        return Gated(*args)


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_IOT_THING_NAME", THING)
    # Room for a burst of frames: only the tests of the drop policy let it drop any.
    gg = FakeNucleus({"statusMinIntervalS": 0, "healthIntervalS": 3600, "backend": "onnxruntime",
                      "dropPolicy": {"pendingPerCamera": 8}}, STAGE)
    ring = FrameRing(tmp_path / "frames", "cam1", capacity=64)
    apps = []

    def start(*, clock=None, capacity=None, model=True, **kwargs):
        def outbox(ipc, counters, on_lost):
            extra = {"capacity": capacity} if capacity else {}
            return DetectionsOutbox(ipc, counters, on_lost, clock=clock or Clock(), **extra)

        folder = write_model_dir(tmp_path / "model", runtimes=RUNTIMES) if model else tmp_path / "no-model"
        app = SsdInferenceApp(gg.ipc, LiveConfig(gg.ipc, SsdInferenceConfig), model_dir=folder,
                              backend_factories=fake_factories("onnxruntime"),
                              frame_root=ring.root, outbox_factory=outbox, **kwargs)
        app.start()
        apps.append(app)
        return app

    yield gg, ring, start
    for app in apps:
        app.stop()


def write_frame(ring, data=None):
    return ring.write(frame_pixels() if data is None else data, captured_at=time.time(),
                      captured_monotonic_ns=time.monotonic_ns(), request_id="req-9")


def receipts_from(gg, stage=STAGE):
    return [r for m in gg.parsed(Receipts, "smartcam/receipts") if m.stage == stage for r in m.receipts]


def receipts_for(gg, frame):
    return [r for r in receipts_from(gg) if r.frame_id == frame.frame_id]


def receipt_of(gg, frame):
    wait_until(lambda: receipts_for(gg, frame), what=f"a receipt for {frame.frame_id}")
    return receipts_for(gg, frame)[0]


def detected(gg):
    return [m["frame"]["frame_id"] for m in gg.on("smartcam/detections")]


def wait_detected(gg, *frames):
    wait_until(lambda: {f.frame_id for f in frames} <= set(detected(gg)), what="their detections")


def writer(gg, instance, *frames):
    gg.send("smartcam/receipts", Receipts(stage=WRITER_STAGE, instance=instance, at=time.time(), receipts=[
        FrameReceipt(frame_id=f.frame_id, camera_id=f.camera_id, outcome="stored", items=2) for f in frames]))


def test_it_subscribes_before_it_announces_its_run_and_flushes_receipts_at_stop(env):
    gg, ring, start = env
    app = start(model=False)  # every frame refused: receipts without a model
    calls = [(c[0], c.kwargs.get("topic")) for c in gg.client.mock_calls
             if c[0] in ("subscribe_to_topic", "publish_to_topic")]
    assert calls[:3] == [("subscribe_to_topic", "smartcam/receipts"), ("subscribe_to_topic", "smartcam/frames"),
                         ("publish_to_topic", "smartcam/receipts")]
    hello = parse(Receipts, gg.on("smartcam/receipts")[0])
    assert (hello.stage, hello.receipts) == (STAGE, [])
    frames = [write_frame(ring) for _ in range(3)]
    for frame in frames:
        gg.send("smartcam/frames", frame)
    wait_until(lambda: app.counters["framesRefused"] == 3)
    app.stop()
    assert [r.frame_id for r in receipts_from(gg)] == [f.frame_id for f in frames]  # nothing left in the batch
    assert {r.instance for r in gg.parsed(Receipts, "smartcam/receipts")} == {hello.instance}


def test_a_frame_sent_again_while_in_flight_is_ignored(env):
    gg, ring, start = env
    gate = Gate()
    app = start(frame_path_factory=gate.frame_path)
    being_inferred, pending = write_frame(ring), write_frame(ring)
    gg.send("smartcam/frames", being_inferred)
    assert gate.started.wait(60)
    gg.send("smartcam/frames", pending)
    gg.send("smartcam/frames", being_inferred)
    gg.send("smartcam/frames", pending)
    assert app.counters["framesResentInFlight"] == 2 and app.counters["framesDropped"] == 0
    gate.open.set()
    wait_detected(gg, being_inferred, pending)
    gg.send("smartcam/frames", pending)  # waiting for the writer's receipt in the outbox: still in flight
    assert app.counters["framesResentInFlight"] == 3
    later = write_frame(ring)
    gg.send("smartcam/frames", later)
    wait_detected(gg, later)  # frames are served in order: a resend let through would have come first
    assert detected(gg) == [being_inferred.frame_id, pending.frame_id, later.frame_id]
    assert receipts_from(gg) == [] and app.counters["framesInferred"] == 3


def test_frames_the_drop_policy_lets_go_are_receipted_dropped_and_answered_again(env):
    gg, ring, start = env
    gg.configuration["dropPolicy"] = {"pendingPerCamera": 1}
    gate = Gate()
    app = start(frame_path_factory=gate.frame_path)
    first = write_frame(ring)
    gg.send("smartcam/frames", first)
    assert gate.started.wait(60)
    later = [write_frame(ring) for _ in range(10)]
    for frame in later:
        gg.send("smartcam/frames", frame)
    wait_until(lambda: len(receipts_from(gg)) == 9, what="9 receipts")
    dropped = receipts_from(gg)
    assert [r.frame_id for r in dropped] == [f.frame_id for f in later[:9]]
    assert {(r.outcome, r.camera_id, r.request_id) for r in dropped} == {("dropped", "cam1", "req-9")}
    assert all("pendingPerCamera = 1" in r.detail for r in dropped)
    assert app.counters["framesDropped"] == 9

    gg.send("smartcam/frames", later[0])  # CameraIngest did not hear the receipt and sends it again
    assert app.counters["framesResentDecided"] == 1
    wait_until(lambda: len(receipts_for(gg, later[0])) == 2)
    assert receipts_for(gg, later[0])[1] == dropped[0]
    gate.open.set()
    wait_detected(gg, later[-1])
    assert detected(gg) == [first.frame_id, later[-1].frame_id] and app.counters["framesInferred"] == 2


def test_a_lower_pending_limit_receipts_the_frames_it_drops(env):
    gg, ring, start = env
    gg.configuration["dropPolicy"] = {"pendingPerCamera": 4}
    gate = Gate()
    start(frame_path_factory=gate.frame_path)
    busy = write_frame(ring)
    gg.send("smartcam/frames", busy)
    assert gate.started.wait(60)
    waiting = [write_frame(ring) for _ in range(4)]
    for frame in waiting:
        gg.send("smartcam/frames", frame)
    gg.update(dropPolicy={"pendingPerCamera": 1})
    wait_until(lambda: len(receipts_from(gg)) == 3)
    assert [(r.frame_id, r.outcome) for r in receipts_from(gg)] == [(f.frame_id, "dropped") for f in waiting[:3]]
    gate.open.set()
    wait_detected(gg, waiting[-1])


def test_a_frame_the_ring_recycled_is_receipted_expired(env, tmp_path):
    gg, _, start = env
    small = FrameRing(tmp_path / "frames", "cam2", capacity=2)
    app = start()
    gone = write_frame(small)
    for _ in range(2):
        write_frame(small)  # the ring recycles it
    gg.send("smartcam/frames", gone)
    receipt = receipt_of(gg, gone)
    assert (receipt.outcome, receipt.camera_id) == ("expired", "cam2") and receipt.detail.startswith("frameExpired:")
    assert app.counters["framesExpired"] == 1 and app.counters["frameExpired"] == 1
    gg.send("smartcam/frames", gone)  # answered from memory, not read again
    wait_until(lambda: len(receipts_for(gg, gone)) == 2)
    assert receipts_for(gg, gone) == [receipt, receipt] and app.counters["frameExpired"] == 1
    assert app.counters["framesResentDecided"] == 1


@pytest.mark.parametrize("bad, reason", [
    ("symlinked", "frameOutsideRoot: "),
    ("slot", "badFrame: "),
    ("no_model", "modelUnusable: "),
])
def test_an_unusable_frame_is_receipted_refused_with_the_reason(env, tmp_path, bad, reason):
    gg, ring, start = env
    app = start(model=bad != "no_model")
    frame = refused_frame(ring, bad, tmp_path / "elsewhere") if bad != "no_model" else write_frame(ring)
    gg.send("smartcam/frames", frame)
    receipt = receipt_of(gg, frame)
    assert receipt.outcome == "refused" and receipt.detail.startswith(reason)
    assert app.counters["framesRefused"] == 1 and not detected(gg)


def test_a_frame_that_breaks_the_code_is_refused_and_the_next_one_served(env):
    gg, ring, start = env
    broken = write_frame(ring)

    class Breaks(FramePath):
        def prepare(self, frame):
            if frame.frame_id == broken.frame_id:
                raise KeyError("a bug")
            return super().prepare(frame)

    app = start(frame_path_factory=Breaks)
    gg.send("smartcam/frames", broken)
    receipt = receipt_of(gg, broken)
    assert receipt.outcome == "refused" and receipt.detail == "internal error preparing it: KeyError('a bug')"
    good = write_frame(ring)
    gg.send("smartcam/frames", good)
    wait_detected(gg, good)
    assert app.counters["internalErrors"] == 1 and len(app._ledger) == 0


def test_a_new_writer_run_gets_every_unreceipted_detection_again(env):
    gg, ring, start = env
    app = start()
    writer(gg, W1)  # the writer's hello
    frames = [write_frame(ring) for _ in range(3)]
    for frame in frames:
        gg.send("smartcam/frames", frame)
    wait_detected(gg, *frames)
    writer(gg, W1, frames[0])
    assert frames[0].frame_id not in app._outbox and frames[1].frame_id in app._outbox
    writer(gg, W2)  # the writer restarted
    wait_until(lambda: len(detected(gg)) == 5, what="the two unreceipted detections again")
    assert detected(gg)[3:] == [frames[1].frame_id, frames[2].frame_id]
    assert app.counters["detectionsResent"] == 2
    writer(gg, W2, frames[1], frames[2])
    assert len(app._outbox) == 0
    writer(gg, W3)
    assert len(app._outbox) == 0 and app.counters["detectionsResent"] == 2


def test_due_detections_are_sent_again_from_the_resend_thread(env):
    gg, ring, start = env
    clock = Clock()
    threads = []
    publish = gg.client.publish_to_topic_async.side_effect

    def noting_thread(**kwargs):
        if kwargs["topic"] == "smartcam/detections":
            threads.append(threading.current_thread().name)
        return publish(**kwargs)

    gg.client.publish_to_topic_async.side_effect = noting_thread
    app = start(clock=clock)
    writer(gg, W1)
    frame = write_frame(ring)
    gg.send("smartcam/frames", frame)
    wait_detected(gg, frame)
    clock.now += FIRST_RESEND_S
    wait_until(lambda: len(detected(gg)) == 2, what="the resend")
    assert threads == ["ssd-delivery_0", "ssd-outbox"] and app.counters["detectionsResent"] == 1
    writer(gg, W1, frame)
    clock.now += 3600
    assert app._outbox.resend_due() == 0 and detected(gg) == [frame.frame_id] * 2


def test_a_full_outbox_gives_up_the_oldest_frame_with_a_lost_receipt(env):
    gg, ring, start = env
    app = start(capacity=2)
    frames = [write_frame(ring) for _ in range(3)]
    for frame in frames:
        gg.send("smartcam/frames", frame)
    wait_detected(gg, *frames)
    receipt = receipt_of(gg, frames[0])
    assert receipt.outcome == "lost" and "outbox of 2 frames was full" in receipt.detail
    assert app.counters["framesLost"] == 1 and [r.frame_id for r in receipts_from(gg)] == [frames[0].frame_id]
    gg.send("smartcam/frames", frames[0])
    assert app.counters["framesResentDecided"] == 1


def test_every_frame_ends_in_detections_or_exactly_one_receipt(env, tmp_path):
    gg, ring, start = env
    gg.configuration["dropPolicy"] = {"pendingPerCamera": 2, "maxCameras": 2}
    app = start()
    rings = [ring, FrameRing(tmp_path / "frames", "cam2", capacity=3), FrameRing(tmp_path / "frames", "cam3",
                                                                               capacity=64)]
    sent = []
    for i in range(60):
        frame = write_frame(rings[i % 3])
        if i % 7 == 0:  # a reference that does not fit its ring: refused
            frame = frame.model_copy(update={"slot": frame.slot + 64})
        sent.append(frame)
        gg.send("smartcam/frames", frame)
        if i % 5 == 0:
            gg.send("smartcam/frames", sent[i // 2])  # some resends, in flight or decided by now
    ids = {f.frame_id for f in sent}

    def accounted():
        return set(detected(gg)) | {r.frame_id for r in receipts_from(gg)}

    wait_until(lambda: accounted() == ids and len(app._ledger) == 0, what="every frame accounted for")
    first_receipts = {}
    for receipt in receipts_from(gg):
        assert first_receipts.setdefault(receipt.frame_id, receipt) == receipt  # resends: the same receipt
    assert not set(first_receipts) & set(detected(gg))
    assert len(detected(gg)) == len(set(detected(gg)))  # no frame inferred twice
    assert {r.outcome for r in first_receipts.values()} <= {"dropped", "expired", "refused"}
    assert any(r.outcome == "refused" for r in first_receipts.values())


def test_frames_sent_again_are_served_from_a_backlog_instead_of_dropped(env, tmp_path):
    gg, ring, start = env
    gg.configuration["dropPolicy"] = {"pendingPerCamera": 1}
    gate = Gate()
    app = start(frame_path_factory=gate.frame_path)
    busy = write_frame(ring)
    gg.send("smartcam/frames", busy)
    assert gate.started.wait(60)
    small = FrameRing(tmp_path / "frames", "cam2", capacity=1)
    gone = write_frame(small).model_copy(update={"resent": True})
    write_frame(small)  # the ring recycled it before the resend came
    backlog = [write_frame(ring).model_copy(update={"resent": True}) for _ in range(5)]
    live = [write_frame(ring) for _ in range(2)]
    for frame in [*backlog, gone, *live]:
        gg.send("smartcam/frames", frame)
    gate.open.set()
    wait_detected(gg, *backlog, live[-1])
    assert receipt_of(gg, gone).outcome == "expired"
    assert [(r.frame_id, r.outcome) for r in receipts_from(gg) if r.frame_id != gone.frame_id] == [
        (live[0].frame_id, "dropped")]  # only the live frame a newer one replaced
    assert detected(gg) == [busy.frame_id, live[-1].frame_id, *(f.frame_id for f in backlog)]
    assert [parse(Detections, m).frame.resent for m in gg.on("smartcam/detections")] == [None] * 2 + [True] * 5
    assert app.counters["framesInferred"] == 7 and len(app._ledger) == 0
