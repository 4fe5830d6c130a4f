"""smartcam.SsdInference: frame references in, detections out. This module schedules the work.

Threads: the IPC executor parses frame messages and hands them to :class:`PendingFrames` (never
blocks); one worker thread owns the model (infer, postprocess, backend reloads, health), so the
runtime is never used concurrently. While it infers one frame, a prefetch thread reads, decodes and
preprocesses the next pending one, and a delivery thread publishes the one before (and writes its
annotated copy), in order. What is done to a frame is :class:`~ssd_inference.frame_path.FramePath`;
loading the model is :class:`~ssd_inference.model_loader.ModelLoader`; counters, health and status
are :class:`smartcam.telemetry.Telemetry`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from smartcam import topics
from smartcam.component import State as LifecycleState
from smartcam.config import LiveConfig
from smartcam.contracts import ContractError, Detections, FrameRef, parse
from smartcam.device import thing_name
from smartcam.frames import pipeline_frame_root
from smartcam.ipc import Ipc
from smartcam.telemetry import Counters, Telemetry
from ssd_inference.annotate import write_annotated
from ssd_inference.backends.registry import BackendFactory
from ssd_inference.decoders import Selection
from ssd_inference.engine import Engine
from ssd_inference.frame_path import FramePath, FrameRefused, Inferred, Prepared, selection_for
from ssd_inference.iot_summary import summarize
from ssd_inference.model_loader import ModelLoader
from ssd_inference.pending import PendingFrames
from ssd_inference.settings import SsdInferenceConfig

log = logging.getLogger(__name__)

COMPONENT = "smartcam.SsdInference"

FramePathFactory = Callable[[Engine, Path, Selection], FramePath]


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
        self._pending = PendingFrames()
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._worker: threading.Thread | None = None
        self._prefetch = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ssd-prefetch")
        self._delivery = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ssd-delivery")
        self._last_infer_s = self._last_prepare_s = 0.0
        self._next_health = 0.0
        self._dropped_reported = 0
        self._apply_config(config.current)
        config.on_change(self._on_config_change)

    # lifecycle ------------------------------------------------------------------------------
    def start(self) -> LifecycleState:
        # The model is loaded here so RUNNING means "serving"; an unusable model is reported as
        # ERRORED (the nucleus then restarts the component and, if it stays unusable, marks it BROKEN).
        served = self._load_model()
        self._ipc.subscribe(topics.FRAMES, self._on_frame_message)
        self._worker = threading.Thread(target=self._run, name="ssd-inference", daemon=True)
        self._worker.start()
        return "RUNNING" if served else "ERRORED"

    def stop(self) -> None:
        self._stop.set()
        self._pending.wake()
        if self._worker is not None:
            self._worker.join(timeout=10)
        self._prefetch.shutdown(wait=True, cancel_futures=True)
        self._delivery.shutdown(wait=True)  # what was inferred is still published
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
        before = self._pending.dropped
        self._pending.put(frame)
        if self._pending.dropped != before:
            log.debug("inference behind: %d frames dropped so far", self._pending.dropped)

    def _on_config_change(self, old: SsdInferenceConfig, new: SsdInferenceConfig) -> None:
        self._apply_config(new)
        if (old.backend, old.threads) != (new.backend, new.threads):
            self._reload.set()
            self._pending.wake()

    def _apply_config(self, config: SsdInferenceConfig) -> None:
        self._pending.configure(config.drop_policy.pending_per_camera, config.drop_policy.max_cameras)
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
                min_box_area=config.min_box_area)
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
            self._telemetry.count("framesRefused")
            detail = f"frame {frame.frame_id} not served: {self._models.problem}"
            self._telemetry.status.report("modelUnusable", detail, "errored")
            return
        prepared = self._prepare(frame)
        while prepared is not None:
            ahead = self._prefetch.submit(self._prepare_next, time.monotonic() + self._last_infer_s) \
                if self._burst_may_go_on() else None
            self._infer(prepared)
            prepared = ahead.result() if ahead is not None else None

    def _prepare_next(self, model_free_at: float) -> Prepared | None:
        take_at = model_free_at - self._last_prepare_s
        if self._stop.wait(max(0.0, take_at - time.monotonic())):
            return None
        frame = self._pending.get(timeout=max(0.0, model_free_at - time.monotonic()))
        return self._prepare(frame) if frame is not None else None

    def _burst_may_go_on(self) -> bool:
        return not (self._stop.is_set() or self._reload.is_set() or time.monotonic() >= self._next_health)

    def _prepare(self, frame: FrameRef) -> Prepared | None:
        """The model input for ``frame``; None (counted and reported) for a frame that cannot be used."""
        path = self._path
        if path is None:
            return None
        try:
            prepared = path.prepare(frame)
        except FrameRefused as refused:
            self._telemetry.problem(refused.kind, refused.detail)
            return None
        self._last_prepare_s = prepared.seconds
        return prepared

    def _infer(self, prepared: Prepared) -> None:
        path = self._path
        if path is None:
            return
        try:
            inferred = path.infer(prepared)
        except FrameRefused as refused:
            self._telemetry.problem(refused.kind, refused.detail)
            return
        self._last_infer_s = inferred.infer_ms / 1000.0
        self._telemetry.count("framesInferred")
        # Building and sending the messages (~3 ms of Python per frame) and the annotated JPEG happen on
        # the delivery thread, in order, while the model runs the next frame.
        self._delivery.submit(self._deliver, path, inferred, self._config.current)

    def _deliver(self, path: FramePath, inferred: Inferred, config: SsdInferenceConfig) -> None:
        try:
            message = path.finish(inferred)
            self._publish(message, config)
            if config.annotated_output.enabled:
                self._annotate(inferred.prepared.rgb, message, config)
        except Exception:  # the delivery thread must survive anything, like the worker
            log.exception("delivering the detections of frame %s failed", inferred.prepared.frame.frame_id)
            self._telemetry.count("internalErrors")

    # output -----------------------------------------------------------------------------------
    def _publish(self, message: Detections, config: SsdInferenceConfig) -> None:
        frame = message.frame
        try:
            self._ipc.publish_nowait(topics.DETECTIONS, message, lambda error: self._publish_failed(frame, error))
            self._telemetry.count("detectionsPublished")
        except Exception:
            log.exception("publishing detections of frame %s failed", frame.frame_id)
            self._telemetry.count("publishErrors")
        summary_cfg = config.iot_summary
        if summary_cfg.enabled and (message.detections or summary_cfg.include_empty):
            try:
                self._ipc.publish_iot(
                    topics.iot_detection_summary(self._thing), summarize(message, summary_cfg.max_boxes), qos=0
                )
            except Exception:
                log.exception("sending the detection summary of frame %s to IoT Core failed", frame.frame_id)
                self._telemetry.count("publishErrors")

    def _publish_failed(self, frame: FrameRef, error: BaseException) -> None:
        log.error("publishing detections of frame %s failed: %s", frame.frame_id, error)
        self._telemetry.count("publishErrors")

    def _annotate(self, rgb: Any, message: Detections, config: SsdInferenceConfig) -> None:
        out = config.annotated_output
        try:
            write_annotated(rgb, message.detections, out.folder(), message.frame, keep=out.keep_per_camera)
        except OSError as exc:
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
        self._telemetry.counters.raise_to("framesDropped", dropped)
        state, detail = self._models.health(config)
        self._telemetry.publish_health(self._telemetry.health(state, detail))

