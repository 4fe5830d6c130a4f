"""smartcam.SsdInference: frame references in, detections out. This module schedules the work.

Threads: the IPC executor parses frame messages and hands them to :class:`PendingFrames` (never
blocks); one worker thread owns the model (infer, postprocess, backend reloads, health), so a copy
of the runtime is never used concurrently. While it infers one frame, a prefetch thread reads, decodes and
preprocesses the next pending one, and a delivery thread publishes the one before (and writes its
annotated copy), in order. With ``streams`` > 1 the worker prepares frames itself and hands each to a
stream thread, up to one per copy of the model, and concludes them in the order it took them.
What is done to a frame is :class:`~ssd_inference.frame_path.FramePath`;
loading the model is :class:`~ssd_inference.model_loader.ModelLoader`; counters, health and status
are :class:`smartcam.telemetry.Telemetry`.

Every frame received ends in exactly one of: its detections published (kept in the
:class:`~ssd_inference.detections_outbox.DetectionsOutbox` until the writer's receipt), or a receipt
decided here (``dropped``, ``expired``, ``refused``, ``lost``) through the
:class:`~ssd_inference.frame_ledger.FrameLedger`, which also keeps a frame sent again from being
served twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from smartcam import topics
from smartcam.component import State as LifecycleState
from smartcam.config import LiveConfig
from smartcam.contracts import ContractError, Detections, FrameRef, Receipts, parse
from smartcam.device import thing_name
from smartcam.frames import FrameError, FrameExpired, pipeline_frame_root
from smartcam.handoff import ReceiptSender
from smartcam.ipc import Ipc
from smartcam.metrics import Metrics
from smartcam.telemetry import Counters, Telemetry
from ssd_inference.annotate import write_annotated
from ssd_inference.backends.registry import BackendFactory
from ssd_inference.decoders import Selection
from ssd_inference.detections_outbox import DetectionsOutbox
from ssd_inference.engine import Engine
from ssd_inference.frame_ledger import Decision, FrameLedger
from ssd_inference.frame_path import FramePath, FrameRefused, Inferred, Prepared, selection_for
from ssd_inference.iot_summary import summarize
from ssd_inference.model_loader import ModelLoader
from ssd_inference.pending import Dropped, PendingFrames
from ssd_inference.settings import MAX_STREAMS, SsdInferenceConfig

log = logging.getLogger(__name__)

COMPONENT = "smartcam.SsdInference"

FramePathFactory = Callable[[Engine, Path, Selection], FramePath]
OutboxFactory = Callable[..., DetectionsOutbox]  # (ipc, counters, on_lost): tests inject a clock or timing

# The counter of each receipt this stage decides.
DECISION_COUNTERS: dict[Decision, str] = {
    "dropped": "framesDropped", "expired": "framesExpired", "refused": "framesRefused", "lost": "framesLost",
}
# CloudWatch metric -> the counter it publishes the increase of (smartcam.metrics).
METRIC_COUNTERS = {"FramesIn": "framesReceived", "FramesInferred": "framesInferred", "FramesDropped": "framesDropped",
                   "FramesExpired": "framesExpired", "FramesRefused": "framesRefused"}


class SsdInferenceApp:
    def __init__(
        self,
        ipc: Ipc,
        config: LiveConfig[SsdInferenceConfig],
        *,
        model_dir: str | Path | None = None,
        backend_factories: dict[str, BackendFactory] | None = None,
        frame_path_factory: FramePathFactory = FramePath,
        frame_root: Path | None = None,
        outbox_factory: OutboxFactory = DetectionsOutbox,
    ) -> None:
        self._ipc = ipc
        self._config = config
        # Frames outside the pipeline's root are refused; ``frame_root`` is for tests only.
        self._frame_root = frame_root if frame_root is not None else pipeline_frame_root()
        self._thing = thing_name()
        self._telemetry = Telemetry(ipc, COMPONENT, self._thing)
        self._telemetry.add_note(lambda: config.refused)
        self._models = ModelLoader(self._telemetry.status, Path(model_dir) if model_dir is not None else None,
                                   backend_factories)
        self._frame_path_factory = frame_path_factory
        self._path: FramePath | None = None
        self._path_lock = threading.Lock()  # the IPC thread (configuration) and the worker (reloads) rebuild it
        self._receipts = ReceiptSender(ipc, COMPONENT, on_failure=lambda _: self._telemetry.count("publishErrors"))
        self._outbox = outbox_factory(ipc, self._telemetry.counters, self._lost)
        self._ledger = FrameLedger(self._receipts, handed_over=self._outbox)
        self._pending = PendingFrames()
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._worker: threading.Thread | None = None
        self._prefetch = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ssd-prefetch")
        self._delivery = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ssd-delivery")
        # With more than one stream the model runs here, one thread per copy in use (made when first needed).
        self._streams = ThreadPoolExecutor(max_workers=MAX_STREAMS, thread_name_prefix="ssd-stream")
        self._last_infer_s = self._last_prepare_s = 0.0
        self._next_health = 0.0
        self._dropped_reported = 0
        # Per camera: frames inferred since its last summary went out (only the delivery thread touches it).
        self._unsummarized: dict[str, int] = {}
        self._summarized_at: dict[str, float] = {}  # per camera: monotonic time of its last summary
        self._apply_config(config.current)
        config.on_change(self._on_config_change)
        self._metrics = Metrics(ipc, self._telemetry, self._thing, lambda: config.current.metrics)
        for metric, counter in METRIC_COUNTERS.items():
            self._metrics.counter(metric, counter)

    # lifecycle ------------------------------------------------------------------------------
    def start(self) -> LifecycleState:
        # The model is loaded here so RUNNING means "serving"; an unusable model is reported as
        # ERRORED (the nucleus then restarts the component and, if it stays unusable, marks it BROKEN).
        served = self._load_model()
        self._ipc.subscribe(topics.RECEIPTS, self._on_receipts_message)
        self._ipc.subscribe(topics.FRAMES, self._on_frame_message)
        # Announced only once both subscriptions are up: CameraIngest answers the announcement of a new
        # run by sending every frame it has no receipt for, and none of them may fall on deaf ears.
        self._receipts.start()
        self._outbox.start()
        self._worker = threading.Thread(target=self._run, name="ssd-inference", daemon=True)
        self._worker.start()
        self._metrics.start()
        return "RUNNING" if served else "ERRORED"

    def stop(self) -> None:
        self._stop.set()
        self._metrics.stop()
        self._pending.wake()
        if self._worker is not None:
            self._worker.join(timeout=10)
        self._prefetch.shutdown(wait=True, cancel_futures=True)
        self._streams.shutdown(wait=True)
        self._delivery.shutdown(wait=True)  # what was inferred is still published
        self._outbox.stop()
        self._receipts.stop()  # sends the receipts still batched
        self._models.close()

    @property
    def engine(self) -> Engine | None:
        return self._models.engine

    @property
    def counters(self) -> Counters:
        return self._telemetry.counters

    # IPC side ---------------------------------------------------------------------------------
    def _on_frame_message(self, topic: str, payload: Any) -> None:
        self._telemetry.count("framesReceived")
        try:
            frame = parse(FrameRef, payload)
        except ContractError as exc:
            self._telemetry.count("messagesInvalid")
            self._telemetry.status.report("invalidMessage", f"frame message on {topic} refused: {exc}")
            return
        admission = self._ledger.admit(frame)
        if admission == "in_flight":
            self._telemetry.count("framesResentInFlight")
            return
        if admission == "decided":  # the ledger sent its receipt again
            self._telemetry.count("framesResentDecided")
            return
        self._drop(self._pending.put(frame))

    def _on_receipts_message(self, topic: str, payload: Any) -> None:
        try:
            receipts = parse(Receipts, payload)
        except ContractError as exc:
            self._telemetry.count("messagesInvalid")
            self._telemetry.status.report("invalidMessage", f"receipts message on {topic} refused: {exc}")
            return
        self._outbox.on_receipts(receipts)

    def _on_config_change(self, old: SsdInferenceConfig, new: SsdInferenceConfig) -> None:
        self._apply_config(new)
        if (old.backend, old.threads, old.streams, old.cpu_affinity) != (
                new.backend, new.threads, new.streams, new.cpu_affinity):
            self._reload.set()
            self._pending.wake()

    def _apply_config(self, config: SsdInferenceConfig) -> None:
        self._drop(self._pending.configure(config.drop_policy.pending_per_camera, config.drop_policy.max_cameras))
        self._telemetry.status.min_interval_s = config.status_min_interval_s
        self._rebuild_path()

    def _rebuild_path(self) -> None:
        """A new frame path for the current engine and configuration; frames from the next one on use it."""
        with self._path_lock:
            engine, config = self._models.engine, self._config.current
            if engine is None:
                self._path = None
                return
            selection = selection_for(
                engine, score_threshold=config.score_threshold, nms_iou_threshold=config.nms_iou_threshold,
                max_detections=config.max_detections, class_allow_list=config.class_allow_list,
                min_box_area=config.min_box_area, tracking_score_threshold=config.tracking_score_threshold)
            self._path = self._frame_path_factory(engine, self._frame_root, selection)

    # worker -----------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:  # the worker must survive anything a frame or a runtime throws
                log.exception("inference worker: unexpected error; continuing with the next frame")
                self._telemetry.count("internalErrors")
                self._stop.wait(0.1)

    def _tick(self) -> None:
        if self._reload.is_set():
            self._reload.clear()
            if self._models.reload(self._config.current):
                self._rebuild_path()
                self._telemetry.count("backendReloads")
        if self._models.retry_due() and self._load_model():
            self._ipc.report_state("RUNNING")
        if time.monotonic() >= self._next_health:
            self._publish_health()
        frame = self._pending.get(timeout=max(0.05, min(self._next_health - time.monotonic(), 1.0)))
        if frame is not None:
            self._handle(frame)

    def _load_model(self) -> bool:
        loaded = self._models.load(self._config.current)
        self._rebuild_path()
        return loaded

    def _handle(self, frame: FrameRef) -> None:
        """Infer ``frame`` and then, as long as frames keep coming, the next one, each prepared (read,
        decoded, preprocessed) on the prefetch thread while the model runs the one before: under load
        the model never waits for a JPEG decoder. The prefetch thread takes the newest pending frame
        just in time (when the model is about one preparation away from being free), so the drop policy
        still picks the freshest frame. A burst ends for health reports, a backend reload, stop, or when
        no frame came by the time the model was free."""
        if self._path is None:
            self._no_model(frame)
            return
        engine = self._models.engine
        if engine is not None and engine.streams > 1:
            self._handle_streams(frame, engine.streams)
            return
        prepared = self._prepare(frame)
        while prepared is not None:
            ahead = self._prefetch.submit(self._prepare_next, time.monotonic() + self._last_infer_s) \
                if self._burst_may_go_on() else None
            self._infer(prepared)
            prepared = ahead.result() if ahead is not None else None

    def _handle_streams(self, frame: FrameRef, streams: int) -> None:
        """Like :meth:`_handle` with ``streams`` copies of the model: up to that many frames infer at once
        on the stream threads while this thread prepares the next; each frame is concluded (and handed to the
        delivery thread) in the order it was taken, whichever stream finishes first. Each frame takes the frame
        path in force when it goes to a stream (a configuration change applies from the next frame on, as in
        :meth:`_handle`). A burst ends as in :meth:`_handle`, after every frame in flight is concluded, so a
        reload never closes a copy in use."""
        in_flight: deque[tuple[Prepared, FramePath, Future[Inferred]]] = deque()
        next_frame: FrameRef | None = frame
        while True:
            if next_frame is not None:
                self._submit_to_stream(next_frame, in_flight)
            while in_flight and (in_flight[0][2].done() or len(in_flight) >= streams):
                done, path, running = in_flight.popleft()
                self._conclude(done, path, running.result)
            if not in_flight:
                return
            if not self._burst_may_go_on():
                while in_flight:
                    done, path, running = in_flight.popleft()
                    self._conclude(done, path, running.result)
                return
            # A new frame, or None once a stream finished (its done callback wakes this wait).
            next_frame = self._pending.get(timeout=max(0.001, self._last_infer_s))

    def _submit_to_stream(self, frame: FrameRef,
                          in_flight: deque[tuple[Prepared, FramePath, Future[Inferred]]]) -> None:
        path = self._path
        if path is None:
            self._no_model(frame)
            return
        prepared = self._prepare(frame)
        if prepared is None:
            return
        running = self._streams.submit(path.infer, prepared)
        running.add_done_callback(lambda _: self._pending.wake())
        in_flight.append((prepared, path, running))

    def _prepare_next(self, model_free_at: float) -> Prepared | None:
        take_at = model_free_at - self._last_prepare_s
        if self._stop.wait(max(0.0, take_at - time.monotonic())):
            return None
        frame = self._pending.get(timeout=max(0.0, model_free_at - time.monotonic()))
        return self._prepare(frame) if frame is not None else None

    def _burst_may_go_on(self) -> bool:
        return not (self._stop.is_set() or self._reload.is_set() or time.monotonic() >= self._next_health)

    def _prepare(self, frame: FrameRef) -> Prepared | None:
        """The model input for ``frame``; None (receipted, counted and reported) for a frame that cannot
        be used."""
        path = self._path
        if path is None:
            self._no_model(frame)
            return None
        try:
            prepared = path.prepare(frame)
        except FrameRefused as refused:
            self._refuse(frame, refused)
            return None
        except Exception as exc:  # noqa: BLE001 - logged there; the frame still gets its receipt
            self._internal_error(frame, "preparing it", exc)
            return None
        self._last_prepare_s = prepared.seconds
        return prepared

    def _infer(self, prepared: Prepared) -> None:
        path = self._path
        if path is None:
            self._no_model(prepared.frame)
            return
        self._conclude(prepared, path, lambda: path.infer(prepared))

    def _conclude(self, prepared: Prepared, path: FramePath, inference: Callable[[], Inferred]) -> None:
        """What ``inference`` (``path`` running the model on ``prepared``, or the result of having run it)
        gives: detections handed to the delivery thread, or the frame's receipt."""
        frame = prepared.frame
        try:
            inferred = inference()
        except FrameRefused as refused:
            self._refuse(frame, refused)
            return
        except Exception as exc:  # noqa: BLE001 - logged there; a runtime may throw anything
            self._internal_error(frame, "inferring it", exc)
            return
        self._last_infer_s = inferred.infer_ms / 1000.0
        self._telemetry.count("framesInferred")
        # Building and sending the messages (~3 ms of Python per frame) and the annotated JPEG happen on
        # the delivery thread, in order, while the model runs the next frame.
        self._delivery.submit(self._deliver, path, inferred, self._config.current)

    def _deliver(self, path: FramePath, inferred: Inferred, config: SsdInferenceConfig) -> None:
        frame = inferred.prepared.frame
        handed_over = False
        try:
            message = path.finish(inferred)
            for stage, ms in message.latency.model_dump(exclude_none=True).items():
                self._metrics.observe(stage.removesuffix("_ms"), ms)
            self._outbox.publish(message)  # kept until the writer's receipt
            self._ledger.handed_over(frame.frame_id)
            handed_over = True
            self._send_summary(message, config)
            if config.annotated_output.enabled:
                self._annotate(path, message, config)
        except Exception as exc:  # the delivery thread must survive anything, like the worker
            if handed_over:
                log.exception("after publishing the detections of frame %s", frame.frame_id)
                self._telemetry.count("internalErrors")
            elif frame.frame_id in self._outbox:  # it goes out (again) from there
                log.exception("publishing the detections of frame %s", frame.frame_id)
                self._telemetry.count("internalErrors")
                self._ledger.handed_over(frame.frame_id)
            else:
                self._internal_error(frame, "delivering its detections", exc)

    # what becomes of a frame --------------------------------------------------------------------
    def _drop(self, dropped: list[Dropped]) -> None:
        for each in dropped:
            self._decide(each.frame, "dropped", each.reason)

    def _refuse(self, frame: FrameRef, refused: FrameRefused) -> None:
        self._telemetry.problem(refused.kind, refused.detail)
        self._decide(frame, refused.outcome, f"{refused.kind}: {refused.detail}")

    def _no_model(self, frame: FrameRef) -> None:
        detail = f"frame {frame.frame_id} not served: {self._models.problem or 'no usable model'}"
        self._telemetry.status.report("modelUnusable", detail, "errored")
        self._decide(frame, "refused", f"modelUnusable: {detail}")

    def _internal_error(self, frame: FrameRef, doing: str, exc: BaseException) -> None:
        log.error("frame %s: unexpected error %s", frame.frame_id, doing, exc_info=exc)
        self._telemetry.count("internalErrors")
        self._decide(frame, "refused", f"internal error {doing}: {exc!r}")

    def _lost(self, frame: FrameRef, detail: str) -> None:
        self._telemetry.status.report("detectionsOutboxFull", f"frame {frame.frame_id}: {detail}")
        self._decide(frame, "lost", detail)

    def _decide(self, frame: FrameRef, outcome: Decision, detail: str) -> None:
        self._ledger.decide(frame, outcome, detail)
        self._telemetry.count(DECISION_COUNTERS[outcome])

    # output -----------------------------------------------------------------------------------
    def _send_summary(self, message: Detections, config: SsdInferenceConfig) -> None:
        frame = message.frame
        summary_cfg = config.iot_summary
        if frame.camera_id not in self._unsummarized and len(self._unsummarized) >= config.drop_policy.max_cameras:
            self._unsummarized.clear()  # bounded like the pending frames; a count restarts at worst
            self._summarized_at.clear()
        frames = self._unsummarized.get(frame.camera_id, 0) + 1
        self._unsummarized[frame.camera_id] = frames
        now = time.monotonic()
        last = self._summarized_at.get(frame.camera_id)
        due = last is None or now - last >= summary_cfg.min_interval_s
        if summary_cfg.enabled and due and (message.detections or summary_cfg.include_empty):
            self._unsummarized[frame.camera_id] = 0
            self._summarized_at[frame.camera_id] = now
            try:
                self._ipc.publish_iot(topics.iot_detection_summary(self._thing),
                                      summarize(message, summary_cfg.max_boxes, frames), qos=0)
            except Exception:
                log.exception("sending the detection summary of frame %s to IoT Core failed", frame.frame_id)
                self._telemetry.count("publishErrors")

    def _annotate(self, path: FramePath, message: Detections, config: SsdInferenceConfig) -> None:
        """The frame read out of the ring again, whole size (the model saw a small copy), boxes drawn, as JPEG."""
        out = config.annotated_output
        try:
            pixels = path.reader.copy(message.frame)
        except FrameExpired:
            self._telemetry.count("annotationsExpired")  # the ring reused the slot first: no picture to draw on
            return
        except (FrameError, OSError) as exc:
            self._telemetry.problem("annotatedOutputFailed", f"frame {message.frame.frame_id}: {exc}")
            return
        try:
            write_annotated(pixels, message.detections, out.folder(), message.frame, keep=out.keep_per_camera)
        except (FrameError, OSError) as exc:
            self._telemetry.problem("annotatedOutputFailed", f"{out.dir}: {exc}")

    def _publish_health(self) -> None:
        config = self._config.current
        self._next_health = time.monotonic() + config.health_interval_s
        dropped = self._pending.dropped
        if dropped > self._dropped_reported:
            log.warning(
                "%d frames dropped since the last health report (inference slower than the frames arrive; "
                "only the newest %d per camera are kept)", dropped - self._dropped_reported,
                config.drop_policy.pending_per_camera,
            )
            self._dropped_reported = dropped
        state, detail = self._models.health(config)
        self._telemetry.publish_health(self._telemetry.health(state, detail))

