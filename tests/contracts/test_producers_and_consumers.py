"""Every cross-process contract: what its real producer emits round-trips through JSON and is
accepted by its real consumer. One case per contract; a new contract without a case fails."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

import smartcam.contracts as contracts
from benchmarks.pipeline import stored_times
from camera_ingest.commands import CaptureRequest, validate
from camera_ingest.motion import MotionGate, MotionSettings
from camera_ingest.replies import CaptureReplies
from camera_ingest.session import CaptureSession
from camera_ingest.settings import CameraIngestConfig, ReconnectSettings
from dynamo_writer.capture_receiver import CaptureReceiver
from dynamo_writer.capture_spool import CaptureSpool
from dynamo_writer.event_receiver import EventReceiver
from dynamo_writer.event_spool import EventSpool
from dynamo_writer.items import items_for
from dynamo_writer.receiver import Receiver
from dynamo_writer.reports import Reporter
from dynamo_writer.snapshots import SnapshotCopier
from dynamo_writer.spool import Spool, SpooledItem
from event_tracker.camera_tracks import CameraTracks
from event_tracker.capture_store import CaptureStore
from event_tracker.data_capture import DataCapturer
from event_tracker.delivery import EventDelivery
from event_tracker.settings import EventTrackerConfig
from event_tracker.snapshots import Snapshots, grab
from event_tracker.store import EventStore
from fleet import model_gate
from fleet.mqtt_client import Progress, build_command
from fleet.mqtt_client import parse_args as operator_args
from model_packaging.accuracy import EVAL_SET
from model_packaging.evaluate import evaluate
from model_packaging.model_json import load_model_json, write_model_json
from repo_layout import REPO_ROOT
from smartcam import topics
from smartcam.contracts import (
    CaptureCommand,
    CapturePredictions,
    CaptureStatus,
    Contract,
    DataCapture,
    Detections,
    DetectionSummary,
    EvaluationRecord,
    EventReceipt,
    FrameRef,
    Health,
    ModelEvaluation,
    ModelManifest,
    Receipts,
    TrackEvent,
    WriterReport,
    parse,
)
from smartcam.frames import FrameReader, FrameRing
from smartcam.handoff import Outbox, ReceiptSender, StageWatch
from smartcam.ipc import Ipc
from smartcam.telemetry import Counters, StatusReporter, Telemetry
from ssd_inference.engine import Engine, PreparedModel
from ssd_inference.frame_path import FramePath, selection_for
from ssd_inference.iot_summary import summarize
from ssd_inference.model_bundle import load_model_bundle
from tests.camera_ingest.helpers import config_dict, make_folder
from tests.dynamo_writer.helpers import config as writer_config
from tests.dynamo_writer.helpers import track_event
from tests.ssd_inference.helpers import WeakDetectionsBackend, fake_factories, frame_pixels, write_model_dir
from tests.support.fake_nucleus import FakeNucleus

THING = "contract-thing"
MODEL = REPO_ROOT / "components" / "SsdModelStore" / "model"


def iot_payloads(nucleus: FakeNucleus) -> list[bytes]:
    return [call.kwargs["payload"] for call in nucleus.client.publish_to_iot_core.call_args_list]


# --- the real producers ------------------------------------------------------------------------------

def produce_frame(tmp: Path) -> FrameRef:
    """CameraIngest's ring writes the frame and returns the reference it publishes."""
    ring = FrameRing(tmp / "frames", "cam0", capacity=4)
    return ring.write(frame_pixels(160, 120), captured_at=time.time(), captured_monotonic_ns=time.monotonic_ns(),
                      request_id="req-1")


def produce_gated_frames(tmp: Path) -> list[FrameRef]:
    """CameraIngest's capture session with the camera's motion gate, on a still scene and then a box
    walking across it: the references it publishes, with the gate's verdict and the motion regions."""
    scene = [np.full((120, 160, 3), 90, np.uint8) for _ in range(4)]
    for step in range(4):
        scene[step][40:90, 20 + 15 * step:50 + 15 * step] = 220
    scene = [np.full((120, 160, 3), 90, np.uint8)] * 3 + scene
    camera = CameraIngestConfig().cameras[0]
    published: list[FrameRef] = []
    source = ListSource(scene)
    CaptureSession(
        CaptureRequest("capture", camera, "req-m", frames=len(scene), gated=True), source,
        FrameRing(tmp / "gated", "cam0", capacity=10), CaptureReplies(Ipc(FakeNucleus({}).client), THING, Counters()),
        published.append, reconnect=ReconnectSettings(), progress_interval_s=3600,
        gate=MotionGate(MotionSettings(keep_alive_s=None)),
    ).run()
    return published


class ListSource:
    """A camera delivering given frames, one per grab."""

    camera_id = "cam0"
    live = False

    def __init__(self, frames: list[np.ndarray]) -> None:
        self._frames = iter(frames)
        self._frame: np.ndarray | None = None

    def open(self) -> None:
        pass

    def grab(self) -> None:
        self._frame = next(self._frames)

    def retrieve(self) -> np.ndarray | None:
        return self._frame

    def close(self) -> None:
        pass


def produce_detections(tmp: Path) -> Detections:
    """SsdInference's per-frame path (a TF OD API model on a fake runtime) on the frame CameraIngest wrote:
    a person (0.9) and a dog (0.6), and a half-hidden person (0.3) as a candidate for the tracker."""
    runtimes = {"onnxruntime": {"path": "fake.model", "outputs": {}}}
    engine = Engine.start(PreparedModel.load(write_model_dir(tmp / "model", runtimes=runtimes)), "onnxruntime", 1,
                          fake_factories("onnxruntime", backend=WeakDetectionsBackend))
    try:
        selection = selection_for(engine, score_threshold=0.5, nms_iou_threshold=0.45, max_detections=10,
                                  tracking_score_threshold=0.1)
        return FramePath(engine, tmp / "frames", selection).process(produce_frame(tmp))
    finally:
        engine.close()


def produce_summary(tmp: Path) -> DetectionSummary:
    return summarize(produce_detections(tmp), max_boxes=1)


def produce_command(tmp: Path) -> CaptureCommand:
    """The operator's mqtt-client builds the command from its command line."""
    return build_command(operator_args([
        "--endpoint", "127.0.0.1", "--cert", "c.pem", "--key", "k.pem", "--thing", THING,
        "--camera-id", "cam0", "--frames", "3", "--fps", "5", "--request-id", "req-7", "--no-motion-gate",
    ]))


def produce_capture_status(tmp: Path) -> bytes:
    nucleus = FakeNucleus({})
    CaptureReplies(Ipc(nucleus.client), THING, Counters()).send(
        "finished", request_id="req-7", camera_id="cam0", reason="captured 3 frames (+2 gated: no motion) of 5",
        frames_captured=3, frames_requested=5, frames_gated=2,
    )
    return iot_payloads(nucleus)[-1]


def produce_problem_status(tmp: Path) -> bytes:
    nucleus = FakeNucleus({})
    StatusReporter(Ipc(nucleus.client), THING, "smartcam.SsdInference").report("modelUnusable", "no model.json")
    return iot_payloads(nucleus)[-1]


def writer_reporter(tmp: Path, nucleus: FakeNucleus) -> Reporter:
    spool = Spool(tmp / "spool.db")
    telemetry = Telemetry(Ipc(nucleus.client), "smartcam.DynamoWriter", THING)
    telemetry.count("itemsWritten", 2)
    reporter = Reporter(Ipc(nucleus.client), THING, spool, telemetry, settings=writer_config,
                        sender_state=lambda: (1, "ProvisionedThroughputExceededException"))
    items = items_for(produce_detections(tmp), THING, 30)
    reporter.record([SpooledItem(seq, i.key, i.item, time.time()) for seq, i in enumerate(items)])
    return reporter


def produce_writer_report(tmp: Path) -> bytes:
    nucleus = FakeNucleus({})
    writer_reporter(tmp, nucleus).report_now()
    return iot_payloads(nucleus)[-1]


def writer_receipts(tmp: Path, message: Detections, events: list[TrackEvent] | None = None) -> bytes:
    """DynamoWriter's receivers decide the frame (and the events) and its ReceiptSender publishes the
    receipts."""
    nucleus = FakeNucleus({})
    sender = ReceiptSender(Ipc(nucleus.client), "smartcam.DynamoWriter")
    spool = Spool(tmp / "receipts-spool.db")
    receiver = Receiver(spool, writer_config, Counters(), THING, wake_sender=lambda: None, receipts=sender)
    receiver.on_message("smartcam/detections", message.to_message())
    event_spool = EventSpool(tmp / "receipts-spool.db")
    event_receiver = EventReceiver(event_spool, lambda: writer_config(store="both"), Counters(), THING, lambda: None,
                                   copier=SnapshotCopier(tmp / "tracker", tmp / "writer-snapshots"), receipts=sender)
    for event in events or []:
        event_receiver.on_message("smartcam/events", event.to_message())
    sender.stop()  # sends what is batched
    event_spool.close()
    spool.close()
    (call,) = [c for c in nucleus.client.publish_to_topic.call_args_list if c.kwargs["topic"] == "smartcam/receipts"]
    return call.kwargs["publish_message"].binary_message.message


def produce_receipts(tmp: Path) -> bytes:
    """DynamoWriter's receipts for a frame and for an event, in one message."""
    return writer_receipts(tmp, produce_detections(tmp), [track_event("cam0-e1", 0)])


def produce_event_receipts(tmp: Path, events: list[TrackEvent]) -> list[Receipts]:
    """DynamoWriter's event receiver spools each event and its ReceiptSender publishes the receipts."""
    nucleus = FakeNucleus({})
    sender = ReceiptSender(Ipc(nucleus.client), "smartcam.DynamoWriter")
    spool = EventSpool(tmp / "event-receipts-spool.db")
    copier = SnapshotCopier(tmp / "tracker", tmp / "writer-snapshots")
    receiver = EventReceiver(spool, lambda: writer_config(store="events"), Counters(), THING, lambda: None,
                             copier=copier, receipts=sender)
    out = []
    for event in events:
        receiver.on_message("smartcam/events", event.to_message())
        sender.stop()  # sends what is batched; the next event's receipt goes in a message of its own
        calls = [c for c in nucleus.client.publish_to_topic.call_args_list if c.kwargs["topic"] == "smartcam/receipts"]
        out.append(parse(Receipts, calls[-1].kwargs["publish_message"].binary_message.message))
    spool.close()
    return out


def produce_manifest(tmp: Path) -> ModelManifest:
    """model_packaging's writer, on a copy of the packaged sample."""
    folder = tmp / "model"
    shutil.copytree(MODEL, folder)
    metadata = {key: value for key, value in load_model_json(folder).items() if key != "files"}
    return parse(ModelManifest, write_model_json(folder, metadata))


def produce_evaluation(tmp: Path) -> ModelEvaluation:
    """`python -m model_packaging evaluate` on the packaged model (onnxruntime), one labeled photo."""
    labels = tmp / "labels.manifest"
    labels.write_text(next(line for line in EVAL_SET.read_text().splitlines() if "opencv-doc/basketball1" in line))
    mirror = tmp / "bucket" / "smartcam-eval" / "opencv-doc"
    mirror.mkdir(parents=True)
    shutil.copy("/usr/share/doc/opencv-doc/examples/data/basketball1.png", mirror)
    evaluation, _ = evaluate(MODEL, labels, backend="onnxruntime", threads=1, images=tmp / "bucket")
    return evaluation


def produce_evaluation_record(tmp: Path) -> EvaluationRecord:
    """The publish gate's record of an accepted model, read back from evaluation.json."""
    folder = tmp / "SsdModelStore"
    folder.mkdir()
    model_gate.record(folder, model_gate.Verdict(produce_evaluation(tmp), None))
    return parse(EvaluationRecord, json.loads((folder / model_gate.RECORD_FILE).read_text()))


DOOR = [[0.0, 0.5], [0.5, 0.5], [0.5, 1.0], [0.0, 1.0]]


def produce_track_event(tmp: Path) -> TrackEvent:
    """EventTracker's camera tracks turn SsdInference's detections into an event (confirmed at once
    here), its snapshot copied out of the ring; the person's start message."""
    config = EventTrackerConfig.model_validate({
        "tracking": {"confirmHits": 1},
        "cameras": {"cam0": {"zones": [{"name": "door", "polygon": DOOR}], "inertia": 1}}})
    snapshots = Snapshots(tmp / "snapshots")
    reader = FrameReader(tmp / "frames")
    camera = CameraTracks("cam0", config, lambda frame, snapshot: grab(reader, frame, snapshot),
                          lambda event_id, held: snapshots.keep(event_id, held, config.snapshots))
    result = camera.on_frame(produce_detections(tmp), config, received=0.0, sent_at=time.time())
    [person] = [m for m in result.messages if m.label == "person"]
    return person


CAPTURE_POLICY = {"enabled": True, "sampleRate": 1.0}


def data_capturer(tmp: Path, nucleus: FakeNucleus) -> DataCapturer:
    return DataCapturer(Ipc(nucleus.client), CaptureStore(tmp / "captures.sqlite3"), tmp / "tracker-captures",
                        Counters(), frames=FrameReader(tmp / "frames"))


def produce_data_capture(tmp: Path) -> DataCapture:
    """EventTracker's data capture picks SsdInference's frame (a random sample of 1) and copies it out of
    the ring; what it publishes."""
    nucleus = FakeNucleus({})
    settings = EventTrackerConfig.model_validate({"dataCapture": CAPTURE_POLICY}).data_capture
    capture = data_capturer(tmp, nucleus).consider(produce_detections(tmp), settings, new_track=True)
    assert capture is not None and nucleus.parsed(DataCapture, topics.DATA_CAPTURES) == [capture]
    return capture


def writer_takes_capture(tmp: Path, capture: DataCapture) -> tuple[CaptureSpool, bytes]:
    """DynamoWriter's capture receiver spools it; the spool and the receipts message it published."""
    nucleus = FakeNucleus({})
    sender = ReceiptSender(Ipc(nucleus.client), "smartcam.DynamoWriter")
    spool = CaptureSpool(tmp / "capture-spool.db")
    receiver = CaptureReceiver(spool, lambda: writer_config(snapshotBucket="bucket-1"), Counters(), THING,
                               lambda: None, copier=SnapshotCopier(tmp / "tracker-captures", tmp / "writer-captures"),
                               receipts=sender)
    assert receiver.on_message(topics.DATA_CAPTURES, capture.to_bytes()) == "stored"
    sender.stop()
    (call,) = [c for c in nucleus.client.publish_to_topic.call_args_list if c.kwargs["topic"] == topics.RECEIPTS]
    return spool, call.kwargs["publish_message"].binary_message.message


def produce_capture_predictions(tmp: Path) -> bytes:
    """The predictions file DynamoWriter uploads beside the captured JPEG."""
    spool, _ = writer_takes_capture(tmp, produce_data_capture(tmp))
    held = spool.next_pending()
    spool.close()
    assert held is not None
    return held.predictions


PRODUCERS = {
    DataCapture: produce_data_capture,
    CapturePredictions: produce_capture_predictions,
    FrameRef: produce_frame,
    Detections: produce_detections,
    DetectionSummary: produce_summary,
    CaptureCommand: produce_command,
    CaptureStatus: produce_capture_status,
    Health: produce_problem_status,
    WriterReport: produce_writer_report,
    Receipts: produce_receipts,
    ModelManifest: produce_manifest,
    TrackEvent: produce_track_event,
    ModelEvaluation: produce_evaluation,
    EvaluationRecord: produce_evaluation_record,
}


def wire_bytes(produced: Contract | bytes) -> bytes:
    return produced if isinstance(produced, bytes) else produced.to_bytes()


def test_every_contract_with_a_schema_has_a_case():
    tagged = {
        model for name in contracts.__all__
        if isinstance(model := getattr(contracts, name), type) and issubclass(model, Contract)
        and "schema_" in model.model_fields
    }
    assert tagged == set(PRODUCERS)


@pytest.mark.parametrize("model", list(PRODUCERS), ids=lambda m: m.__name__)
def test_what_the_producer_emits_round_trips_through_json(model, tmp_path):
    data = wire_bytes(PRODUCERS[model](tmp_path))
    parsed = parse(model, data)
    assert parse(model, parsed.to_bytes()) == parsed
    assert parse(model, parsed.to_message()) == parsed
    assert parsed.to_bytes() == data  # nothing is lost or renamed on the way


# --- and each consumer accepts it -----------------------------------------------------------------

def test_ssd_inference_reads_the_frame_a_frame_ref_names(tmp_path):
    ref = parse(FrameRef, produce_frame(tmp_path).to_bytes())
    assert np.array_equal(FrameReader(tmp_path / "frames").copy(ref), frame_pixels(160, 120))


def test_detections_are_spooled_by_the_writer(tmp_path):
    message = produce_detections(tmp_path)
    counters = Counters()
    receiver = Receiver(Spool(tmp_path / "spool.db"), writer_config, counters, THING, wake_sender=lambda: None)
    admission = receiver.on_message("smartcam/detections", message.to_message())
    assert admission is not None and admission.accepted == len(message.detections) == 2
    assert counters.get("messagesInvalid") == 0


def test_the_candidates_reach_no_item_and_no_summary(tmp_path):
    """The writer's items and the IoT summary are what they are for the same message without candidates."""
    message = parse(Detections, produce_detections(tmp_path).to_bytes())
    assert [(c.label, round(c.score, 2)) for c in message.candidates] == [("person", 0.3)]
    bare = message.model_copy(update={"candidates": None})
    assert "candidates" not in bare.to_message()
    assert items_for(message, THING, 30) == items_for(bare, THING, 30) and len(items_for(message, THING, 30)) == 2
    assert summarize(message, 10) == summarize(bare, 10)


def test_the_summary_counts_every_detection_and_keeps_the_best_boxes(tmp_path):
    summary = parse(DetectionSummary, produce_summary(tmp_path).to_bytes())
    assert (summary.count, summary.labels) == (2, {"person": 1, "dog": 1})
    assert [box[0] for box in summary.boxes] == ["person"]


def test_the_operators_command_is_accepted_by_camera_ingest(tmp_path):
    settings = config_dict(make_folder(tmp_path / "in"))
    config = CameraIngestConfig.model_validate({k: v for k, v in settings.items() if k != "accessControl"})
    request = validate(produce_command(tmp_path).to_message(), config)
    assert (request.camera_id, request.frames, request.request_id, request.gated) == ("cam0", 3, "req-7", False)


def test_the_gated_frames_references_reach_inference_and_the_writer(tmp_path):
    """The gate's verdict and regions ride with the reference through SsdInference into Detections,
    which the writer accepts; what was gated was never written."""
    refs = [parse(FrameRef, ref.to_bytes()) for ref in produce_gated_frames(tmp_path)]
    assert [ref.gate for ref in refs] == ["start", "motion", "motion", "motion", "motion"]
    moving = refs[1]
    assert moving.motion is not None and len(moving.motion) >= 1
    assert FrameReader(tmp_path / "gated").copy(moving).shape == (moving.height, moving.width, 3)  # it reads the frame
    message = produce_detections(tmp_path).model_copy(update={"frame": moving})
    counters = Counters()
    receiver = Receiver(Spool(tmp_path / "gated-spool.db"), writer_config, counters, THING, wake_sender=lambda: None)
    admission = receiver.on_message("smartcam/detections", parse(Detections, message.to_bytes()).to_message())
    assert admission is not None and admission.accepted == 2 and counters.get("messagesInvalid") == 0


def test_the_capture_status_ends_the_operators_wait(tmp_path):
    progress = Progress("req-7", [THING], None)
    progress.observe(THING, parse(CaptureStatus, produce_capture_status(tmp_path)))
    assert progress.done and progress.exit_status() == 0


def test_a_problem_status_is_a_health_message(tmp_path):
    status = parse(Health, produce_problem_status(tmp_path))
    assert (status.component, status.state) == ("smartcam.SsdInference", "degraded")
    assert status.detail == "modelUnusable: no model.json"


def test_the_bench_reads_the_stored_times_from_the_writer_report(tmp_path):
    stored = stored_times(produce_writer_report(tmp_path))
    assert len(stored) == 2 and all(at > 0 for at in stored.values())
    report = parse(WriterReport, produce_writer_report(tmp_path))
    assert report.last_error == "ProvisionedThroughputExceededException"
    assert report.to_message()["spool"]["oldestAgeS"] is None  # the report states its nulls


def test_the_writer_health_parses(tmp_path):
    _, health = writer_reporter(tmp_path, FakeNucleus({})).build()
    assert parse(Health, health.to_bytes()).state == "degraded"


def test_the_writers_receipts_settle_the_producers_outbox(tmp_path):
    """SsdInference keeps each Detections in its outbox until DynamoWriter's receipt for the frame."""
    message = produce_detections(tmp_path)
    outbox = Outbox(Detections, capacity=10, first_resend_s=5.0, max_resend_s=60.0)
    outbox.add(message.frame.frame_id, message)
    receipts = parse(Receipts, writer_receipts(tmp_path, message))
    assert StageWatch().restarted(receipts)  # a writer run not heard from before
    assert [(r.outcome, r.items, r.request_id) for r in receipts.receipts] == [("stored", 2, "req-1")]
    assert outbox.settle(r.frame_id for r in receipts.receipts) == [message]
    assert len(outbox) == 0


def test_the_writers_event_receipts_settle_the_trackers_outbox_only_when_they_cover_the_latest(tmp_path):
    """EventTracker keeps the latest whole message of each event (Outbox.replace) until DynamoWriter's
    receipt covers it: a receipt for an older sequence settles nothing."""
    start, update = track_event("cam0-e1", 0), track_event("cam0-e1", 1)
    outbox = Outbox(TrackEvent, capacity=10, first_resend_s=5.0, max_resend_s=60.0)
    outbox.replace(start.event_id, start)
    outbox.replace(update.event_id, update)  # the start is still unreceipted when the update goes out

    def covers(receipts: Receipts):
        held = {r.event_id: r.sequence for r in receipts.events or []}
        return lambda key, message: held.get(key, -1) >= message.sequence

    first, second = produce_event_receipts(tmp_path, [start, update])
    assert first.receipts == [] and [(r.event_id, r.sequence, r.outcome) for r in first.events] == [
        ("cam0-e1", 0, "stored")]
    assert outbox.settle([r.event_id for r in first.events], covers=covers(first)) == []
    assert [(r.sequence, r.outcome) for r in second.events] == [(1, "stored")]
    assert outbox.settle([r.event_id for r in second.events], covers=covers(second)) == [update]
    assert len(outbox) == 0


def test_frame_receipts_beside_event_receipts_still_settle_the_frames(tmp_path):
    receipts = parse(Receipts, produce_receipts(tmp_path))
    assert [(r.outcome, r.items) for r in receipts.receipts] == [("stored", 2)]
    assert [(r.event_id, r.outcome) for r in receipts.events] == [("cam0-e1", "stored")]


def test_the_trackers_outbox_keeps_an_event_through_a_restart_until_the_writers_receipt_covers_it(tmp_path):
    """The event as EventTracker publishes it, kept in its durable outbox (the parse there is the
    consumer until DynamoWriter reads events) and settled by an EventReceipt from the writer's sender."""
    message = produce_track_event(tmp_path)
    assert message.kind == "start" and [z.zone for z in message.zones] == ["door"]
    assert message.snapshot is not None and Path(message.snapshot.crop_path).is_file()
    nucleus = FakeNucleus({})
    delivery = EventDelivery(Ipc(nucleus.client), EventStore(tmp_path / "events.sqlite3"), Counters(), THING,
                             iot_enabled=lambda: True)
    delivery.send(message)
    assert nucleus.parsed(TrackEvent, topics.EVENTS) == [message]
    assert nucleus.iot_payloads(topics.iot_events(THING)) == [message.to_bytes()]

    restarted = FakeNucleus({})
    after = EventDelivery(Ipc(restarted.client), EventStore(tmp_path / "events.sqlite3"), Counters(), THING,
                          iot_enabled=lambda: True)
    assert after.restore() == 1 and restarted.parsed(TrackEvent, topics.EVENTS) == [message]

    writer = FakeNucleus({})
    sender = ReceiptSender(Ipc(writer.client), "smartcam.DynamoWriter")
    sender.add_event(EventReceipt(event_id=message.event_id, sequence=message.sequence, outcome="stored"))
    sender.stop()
    [receipts] = writer.parsed(Receipts, topics.RECEIPTS)
    assert after.on_receipts(receipts) == [message] and after.awaiting() == 0


def test_a_data_capture_is_spooled_by_the_writer_and_its_receipt_settles_the_trackers_outbox(tmp_path):
    """DataCapture from EventTracker's capturer to DynamoWriter's capture receiver; the CaptureReceipt in
    the writer's Receipts back to the capturer, which forgets the capture and deletes its JPEG."""
    nucleus = FakeNucleus({})
    capturer = data_capturer(tmp_path, nucleus)
    settings = EventTrackerConfig.model_validate({"dataCapture": CAPTURE_POLICY}).data_capture
    capture = capturer.consider(produce_detections(tmp_path), settings, new_track=False)
    assert capture is not None and capture.reasons == ["random"]
    assert [d.label for d in capture.detections] == ["person", "dog"] and capture.candidates  # the weak person
    spool, receipts_message = writer_takes_capture(tmp_path, capture)
    held = spool.next_pending()
    assert held is not None and held.image_copy is not None
    assert held.image_copy.read_bytes() == Path(capture.path).read_bytes()
    assert parse(CapturePredictions, held.predictions).candidates == capture.candidates
    spool.close()
    receipts = parse(Receipts, receipts_message)
    assert receipts.receipts == [] and [(r.frame_id, r.outcome) for r in receipts.captures] == [
        (capture.frame_id, "stored")]
    assert capturer.on_receipts(receipts) == [capture] and capturer.awaiting() == 0
    assert not Path(capture.path).exists()


def test_the_packaged_manifest_loads_in_ssd_inference(tmp_path):
    written = produce_manifest(tmp_path)
    bundle = load_model_bundle(tmp_path / "model")
    assert bundle.manifest == written
    assert bundle.labels == ("background", "person")


def test_the_publish_gate_reads_the_record_it_wrote_and_compares_its_figures(tmp_path):
    written = produce_evaluation_record(tmp_path)
    assert model_gate.load_record(tmp_path / "SsdModelStore") == written
    assert model_gate.compare(written.current, written.current, {"ap50": 0.0, "recall": 0.0}) == []
