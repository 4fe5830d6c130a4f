#!/usr/bin/env python3
"""CPU that smartcam.SsdInference spends per frame outside the model, step by step (issue 15).

    .venv/bin/python -m benchmarks.inference_cpu [--frames 300] [--repeats 5] [--engine dlr|fake]
                                                 [--size 640x480] [--opencv-threads 0] [--out FILE]

Runs, on one thread, every step the component takes for a frame, with the component's own objects: the
frame message parsed as it arrives over IPC and admitted (ledger, pending frames), the ring slot read and
resized, the model input tensor built, the model (the packaged DLR build SsdInference picks here, or a fake
engine that returns the same outputs at once), postprocess, the Detections message built, the per-stage
latency metrics, the outbox publish through :class:`smartcam.ipc.Ipc` with a client that serialises the
request like awsiotsdk does (shape payload, base64, JSON) without a socket, the IoT summary, and the writer's
receipts parsed and settled (one receipts message per 9 frames, ~0.1 s at 90 fps). Each step is timed with
``time.process_time_ns`` (CPU of the process, OpenCV's threads included, not wall time); reports the median per
step over ``--frames`` frames, the median of ``--repeats`` such runs, in microseconds. Not in it: thread hand-offs
(the component's scheduling, see ``scripts/bench.py pipeline``) and the IPC client's own work on its threads
(``benchmarks.ipc_client_cpu``).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from awsiot.greengrasscoreipc.model import PublishToIoTCoreRequest, PublishToTopicRequest

from benchmarks.inference import IMAGES, MODEL_DIR
from local_device.video import VTEST
from smartcam import topics
from smartcam.contracts import FrameReceipt, FrameRef, Receipts, parse
from smartcam.frames import FrameRing, frame_base
from smartcam.ipc import Ipc
from smartcam.metrics import Metrics
from smartcam.telemetry import Counters
from ssd_inference.backends.cpu_variants import cpu_flags, runnable_builds
from ssd_inference.detections_outbox import WRITER_STAGE, DetectionsOutbox
from ssd_inference.engine import Engine, PreparedModel
from ssd_inference.frame_ledger import FrameLedger
from ssd_inference.frame_path import FramePath, Inferred, Prepared, selection_for
from ssd_inference.iot_summary import summarize
from ssd_inference.pending import PendingFrames

STEPS = ("ipc_in", "read", "tensor", "infer", "postprocess", "finish", "metrics", "publish", "ledger", "summary",
         "receipts")
OVERHEAD = tuple(s for s in STEPS if s != "infer")
RECEIPTS_EVERY = 9


class SdkSerializingClient:
    """What GreengrassCoreIPCClientV2.publish_to_topic_async does in Python before the socket."""

    def publish_to_topic_async(self, *, topic: str, publish_message: Any) -> Future[None]:
        request = PublishToTopicRequest(topic=topic, publish_message=publish_message)
        json.dumps(request._to_payload()).encode()
        done: Future[None] = Future()
        done.set_result(None)
        return done

    def publish_to_iot_core(self, *, topic_name: str, qos: Any, payload: bytes) -> None:
        request = PublishToIoTCoreRequest(topic_name=topic_name, qos=qos, payload=payload)
        json.dumps(request._to_payload()).encode()


class FakeEngine:
    """Stands for the model: the outputs the real one gave for the same frame, at once."""

    def __init__(self, engine: Engine, outputs: dict[int, Any]) -> None:
        self._engine = engine
        self._outputs = outputs
        self.model = engine.model
        self.backend_name = engine.backend_name
        self.backend_variant = engine.backend_variant
        self.current: int = 0

    def infer(self, tensor: np.ndarray) -> Any:
        return self._outputs[self.current]

    def postprocess(self, outputs: Any, selection: Any) -> Any:
        return self._engine.postprocess(outputs, selection)


def start_engine() -> Engine:
    model = PreparedModel.load(MODEL_DIR)
    builds = runnable_builds(model.bundle.manifest.runtimes, "dlr", platform.machine(), cpu_flags())
    if not builds:
        return Engine.start(model, "onnxruntime", 1, fall_back=False)
    from functools import partial

    from ssd_inference.backends.dlr_backend import DlrBackend

    return Engine.start(model, "dlr", 1, {"dlr": partial(DlrBackend, build=builds[0].key)}, fall_back=False)


def load_images(count: int = 60) -> list[np.ndarray]:
    """vtest.avi's first frames (a crowd: several detections a frame) or, without it, the test photos."""
    images: list[np.ndarray] = []
    video = cv2.VideoCapture(str(VTEST)) if VTEST.exists() else None
    while video is not None and len(images) < count:
        ok, image = video.read()
        if not ok:
            break
        images.append(image)
    if video is not None:
        video.release()
    if not images:
        images = [image for p in sorted(IMAGES.iterdir())
                  if (image := cv2.imread(str(p), cv2.IMREAD_COLOR)) is not None]
    return images


def receipts_for(frames: list[FrameRef], instance: str) -> bytes:
    message = Receipts(stage=WRITER_STAGE, instance=instance, at=time.time(), receipts=[
        FrameReceipt(frame_id=f.frame_id, camera_id=f.camera_id, outcome="stored", items=1) for f in frames])
    return message.to_bytes()


@dataclass
class Subject:
    """One component's per-frame objects, fresh for each timed run."""

    path: FramePath
    ring: FrameRing
    images: list[np.ndarray]
    size: tuple[int, int]
    fake: FakeEngine | None
    ipc: Ipc = field(default_factory=lambda: Ipc(SdkSerializingClient()))  # type: ignore[arg-type]
    instance: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        self.outbox = DetectionsOutbox(self.ipc, Counters(), lambda frame, detail: None)
        self.ledger = FrameLedger(_NullSink(), handed_over=self.outbox)
        self.pending = PendingFrames()
        self.metrics = Metrics(self.ipc, _NoTelemetry(), "bench-thing", lambda: None)  # type: ignore[arg-type]
        self.unreceipted: list[FrameRef] = []

    def run(self, count: int) -> dict[str, list[int]]:
        samples: dict[str, list[int]] = {s: [] for s in STEPS}
        for i in range(count):
            marks, receipts_ns = self.frame(i)
            for step, a, b in zip(STEPS[:-1], marks[:-1], marks[1:], strict=True):
                samples[step].append(b - a)
            samples["receipts"].append(receipts_ns)
        return samples

    def frame(self, i: int) -> tuple[list[int], int]:
        """The i-th frame's way through the component, as SsdInferenceApp takes it; the CPU clock before and
        after each step, and the CPU of the receipts message when one came."""
        path, clock = self.path, time.process_time_ns  # OpenCV may resize on its own threads: the process counts
        wire = self.ring.write(self.images[i % len(self.images)], size=self.size, captured_at=time.time(),
                               captured_monotonic_ns=time.monotonic_ns()).to_bytes()
        marks = [clock()]
        frame = parse(FrameRef, wire)  # SsdInferenceApp._on_frame_message
        self.ledger.admit(frame)
        self.pending.put(frame)
        frame = self.pending.get(timeout=0)
        marks.append(clock())
        image = path.reader.read(frame, path.engine.model.preprocess.resize)
        marks.append(clock())
        tensor = path.engine.model.preprocess.tensor(image)
        marks.append(clock())
        if self.fake is not None:
            self.fake.current = i % len(self.images)
        outputs = path.engine.infer(tensor)
        marks.append(clock())
        found = path.engine.postprocess(outputs, path.selection)
        marks.append(clock())
        prepared = Prepared(frame, image, tensor, 1.0, 0.2, 0.3)
        message = path.finish(Inferred(prepared, found.detections, 11.0, 0.4, found.candidates))
        marks.append(clock())
        for stage, ms in message.latency.model_dump(exclude_none=True).items():  # SsdInferenceApp._deliver
            self.metrics.observe(stage.removesuffix("_ms"), ms)
        marks.append(clock())
        self.outbox.publish(message)
        marks.append(clock())
        self.ledger.handed_over(frame.frame_id)
        marks.append(clock())
        if message.detections:
            self.ipc.publish_iot(topics.iot_detection_summary("bench-thing"), summarize(message, 10, 1), qos=0)
        marks.append(clock())
        return marks, self.receipts(frame)

    def receipts(self, frame: FrameRef) -> int:
        """The writer's receipts, one message per RECEIPTS_EVERY frames (built outside the timing)."""
        self.unreceipted.append(frame)
        if len(self.unreceipted) < RECEIPTS_EVERY:
            return 0
        payload = receipts_for(self.unreceipted, self.instance)
        self.unreceipted.clear()
        start = time.process_time_ns()
        self.outbox.on_receipts(parse(Receipts, payload))  # SsdInferenceApp._on_receipts_message
        return time.process_time_ns() - start


class _NullSink:
    def add(self, receipt: FrameReceipt) -> None:
        pass


class _NoTelemetry:
    counters = Counters()
    component = "smartcam.SsdInference"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--engine", choices=("dlr", "fake"), default="dlr")
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--opencv-threads", type=int, default=0,
                        help="0: OpenCV's default (a thread per core), as the component runs")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.opencv_threads:
        cv2.setNumThreads(args.opencv_threads)
    width, height = (int(v) for v in args.size.lower().split("x"))
    engine = start_engine()
    with tempfile.TemporaryDirectory(prefix="bench-inference-cpu-", dir=frame_base()) as tmp:
        root = Path(tmp)
        ring = FrameRing(root, "bench", capacity=64)
        images = load_images()
        selection = selection_for(engine, score_threshold=0.5, nms_iou_threshold=0.45, max_detections=20,
                                  tracking_score_threshold=0.1)
        fake: FakeEngine | None = None
        if args.engine == "fake":
            real = FramePath(engine, root, selection)
            outputs = {}
            for i, image in enumerate(images):
                frame = ring.write(image, size=(width, height), captured_at=time.time(),
                                   captured_monotonic_ns=time.monotonic_ns())
                outputs[i] = engine.infer(real.prepare(frame).tensor)
            fake = FakeEngine(engine, outputs)
        path = FramePath(fake or engine, root, selection)  # type: ignore[arg-type]
        Subject(path, ring, images, (width, height), fake).run(min(args.frames, 50))  # warm-up
        runs = [Subject(path, ring, images, (width, height), fake).run(args.frames) for _ in range(args.repeats)]
    # receipts come one message per RECEIPTS_EVERY frames: their mean is their share of a frame
    per_step = {s: statistics.median((statistics.fmean if s == "receipts" else statistics.median)(r[s]) for r in runs)
                / 1000 for s in STEPS}
    overhead = sum(per_step[s] for s in OVERHEAD)
    result: dict[str, Any] = {"engine": args.engine, "opencv_threads": cv2.getNumThreads(),
                              "frames": args.frames, "repeats": args.repeats,
                              "size": args.size, "cpu_us_per_frame": {s: round(v, 1) for s, v in per_step.items()},
                              "overhead_us_per_frame": round(overhead, 1)}
    for step, value in per_step.items():
        print(f"{step:<12} {value:9.1f} us")
    print(f"{'overhead':<12} {overhead:9.1f} us  (all but infer: the sum of the steps' medians)")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
