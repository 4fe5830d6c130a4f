"""smartcam.SsdInference: frame references in, detections out.

Threads: the IPC executor parses frame messages and hands them to :class:`PendingFrames` (never
blocks); one worker thread owns the model (infer, postprocess, backend reloads, health), so the
runtime is never used concurrently. While it infers one frame, a prefetch thread reads, decodes and
preprocesses the next pending one, and a delivery thread publishes the one before (and writes its
annotated copy), in order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from smartcam import topics
from smartcam.component import State as LifecycleState
from smartcam.config import LiveConfig
from smartcam.contracts import ContractError, Detection, Detections, FrameRef, Health, ModelInfo, StageLatency, parse
from smartcam.device import thing_name
from smartcam.frames import FrameError as RingFrameError
from smartcam.frames import FrameExpired, FrameOutsideRoot, read_frame, resolve_frame_root
from smartcam.ipc import Ipc
from ssd_inference.annotate import write_annotated
from ssd_inference.backends import BackendError
from ssd_inference.backends.registry import BackendFactory
from ssd_inference.decoders import DecoderError, Selection
from ssd_inference.engine import Engine, EngineError, PreparedModel, model_dir_from_env
from ssd_inference.iot_summary import summarize
from ssd_inference.pending import PendingFrames
from ssd_inference.preprocessing import FrameError, decode_image
from ssd_inference.settings import SsdInferenceConfig
from ssd_inference.status import State, StatusReporter

log = logging.getLogger(__name__)

COMPONENT = "smartcam.SsdInference"
MODEL_RETRY_S = 30.0  # an unusable model folder is re-checked this often


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000.0, 3)


@dataclass(frozen=True)
class Prepared:
    """A frame made ready for the model, with what it took to get there."""

    frame: FrameRef
    rgb: np.ndarray
    tensor: np.ndarray
    queue_ms: float | None  # capture -> start of preparation
    read_ms: float
    preprocess_ms: float


class SsdInferenceApp:
    def __init__(
        self,
        ipc: Ipc,
        config: LiveConfig[SsdInferenceConfig],
        *,
        model_dir: str | Path | None = None,
        backend_factories: dict[str, BackendFactory] | None = None,
    ) -> None:
        self._ipc = ipc
        self._config = config
        self._thing = thing_name()
        self._model_dir = Path(model_dir) if model_dir is not None else None
        self._factories = backend_factories
        self._status = StatusReporter(ipc, self._thing, COMPONENT)
        self._pending = PendingFrames()
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._worker: threading.Thread | None = None
        self._prefetch = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ssd-prefetch")
        self._delivery = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ssd-delivery")
        self._last_infer_s = self._last_prepare_s = 0.0
        self._model: PreparedModel | None = None
        self._engine: Engine | None = None
        self._model_problem: str | None = None
        self._next_model_retry = 0.0
        self._next_health = 0.0
        self.counters: Counter[str] = Counter()
        self._counters_lock = threading.Lock()  # the IPC thread and the worker both count
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
        if self._engine is not None:
            self._engine.close()

    @property
    def engine(self) -> Engine | None:
        return self._engine

    # IPC side ---------------------------------------------------------------------------------
    def _on_frame_message(self, topic: str, payload: Any) -> None:
        self._count("frames_received")
        try:
            frame = parse(FrameRef, payload)
        except ContractError as exc:
            self._count("messages_invalid")
            self._status.report("invalid_message", f"frame message on {topic} refused: {exc}")
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
        self._status.min_interval_s = config.status_min_interval_s

    # worker -----------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:  # the worker must survive anything a frame or a runtime throws
                log.exception("inference worker: unexpected error; continuing with the next frame")
                self._count("internal_errors")
                self._stop.wait(0.1)

    def _tick(self) -> None:
        if self._reload.is_set():
            self._reload.clear()
            self._reload_backend()
        now = time.monotonic()
        if self._engine is None and now >= self._next_model_retry and self._load_model():
            self._ipc.report_state("RUNNING")
        if now >= self._next_health:
            self._publish_health()
        frame = self._pending.get(timeout=max(0.05, min(self._next_health - time.monotonic(), 1.0)))
        if frame is not None:
            self._handle(frame)

    def _load_model(self) -> bool:
        config = self._config.current
        self._next_model_retry = time.monotonic() + MODEL_RETRY_S
        try:
            self._model = self._model or PreparedModel.load(self._model_dir or model_dir_from_env())
            self._engine = Engine.start(self._model, config.backend, config.threads, self._factories)
        except EngineError as exc:
            self._model = None
            self._model_problem = str(exc)
            self._status.report("model_unusable", str(exc), "errored")
            return False
        self._model_problem = None
        for warning in self._engine.warnings:
            self._status.report("backend_fallback", f"{warning}; serving with {self._engine.backend_name}")
        bundle = self._model.bundle
        log.info(
            "model %s %s ready on %s (%d threads)", bundle.name, bundle.version, self._engine.backend_name,
            config.threads,
        )
        return True

    def _reload_backend(self) -> None:
        config = self._config.current
        if self._model is None or self._engine is None:
            return  # loading from scratch applies the new settings anyway
        try:
            engine = Engine.start(self._model, config.backend, config.threads, self._factories, fall_back=False)
        except EngineError as exc:
            self._status.report(
                "backend_reload_failed", f"{exc}; still serving with {self._engine.backend_name}"
            )
            return
        old, self._engine = self._engine, engine
        old.close()
        self._count("backend_reloads")
        log.info("backend reloaded: %s with %d threads", engine.backend_name, config.threads)

    def _handle(self, frame: FrameRef) -> None:
        """Infer ``frame`` and then, as long as frames keep coming, the next one, each prepared (read,
        decoded, preprocessed) on the prefetch thread while the model runs the one before: under load
        the model never waits for a JPEG decoder. The prefetch thread takes the newest pending frame
        just in time (when the model is about one preparation away from being free), so the drop policy
        still picks the freshest frame. A burst ends for health reports, a backend reload, stop, or when
        no frame came by the time the model was free."""
        engine = self._engine
        if engine is None:
            self._count("frames_refused")
            detail = f"frame {frame.frame_id} not served: {self._model_problem}"
            self._status.report("model_unusable", detail, "errored")
            return
        prepared = self._prepare(frame, engine)
        while prepared is not None:
            ahead = self._prefetch.submit(self._prepare_next, engine, time.monotonic() + self._last_infer_s) \
                if self._burst_may_go_on() else None
            self._finish(prepared, engine)
            prepared = ahead.result() if ahead is not None else None

    def _prepare_next(self, engine: Engine, model_free_at: float) -> Prepared | None:
        take_at = model_free_at - self._last_prepare_s
        if self._stop.wait(max(0.0, take_at - time.monotonic())):
            return None
        frame = self._pending.get(timeout=max(0.0, model_free_at - time.monotonic()))
        return self._prepare(frame, engine) if frame is not None else None

    def _burst_may_go_on(self) -> bool:
        return not (self._stop.is_set() or self._reload.is_set() or time.monotonic() >= self._next_health)

    def _prepare(self, frame: FrameRef, engine: Engine) -> Prepared | None:
        """The model input for ``frame``; None (reported) for a frame that cannot be used."""
        config = self._config.current
        t0 = time.perf_counter()
        # Both clocks are the same host's CLOCK_MONOTONIC: ingest stamped the frame with it.
        queued_ns = time.monotonic_ns() - frame.captured_monotonic_ns
        try:
            data = read_frame(frame, resolve_frame_root(config.frame_root))
            t1 = time.perf_counter()
            rgb = decode_image(data, (frame.width, frame.height), engine.model.input_size)
            tensor = engine.preprocess(rgb)
            t2 = time.perf_counter()
            self._last_prepare_s = t2 - t0
        except FrameExpired as exc:
            self._refuse("frame_expired", str(exc))
        except FrameOutsideRoot as exc:
            self._refuse("frame_refused", str(exc))
        except (RingFrameError, FrameError) as exc:
            self._refuse("bad_frame", f"frame {frame.frame_id}: {exc}")
        except OSError as exc:
            self._refuse("unreadable_frame", f"frame {frame.frame_id}: {frame.path}: {exc}")
        else:
            queue_ms = round(queued_ns / 1e6, 3) if queued_ns >= 0 else None
            return Prepared(frame, rgb, tensor, queue_ms, _ms(t0, t1), _ms(t1, t2))
        return None

    def _finish(self, prepared: Prepared, engine: Engine) -> None:
        config = self._config.current
        frame = prepared.frame
        t0 = time.perf_counter()
        try:
            outputs = engine.infer(prepared.tensor)
            t1 = time.perf_counter()
            self._last_infer_s = t1 - t0
            detections = engine.postprocess(outputs, self._selection(config, engine))
            t2 = time.perf_counter()
        except (BackendError, DecoderError) as exc:
            self._refuse("inference_failed", f"frame {frame.frame_id}: {exc}")
            return
        latency = StageLatency(queue_ms=prepared.queue_ms, read_ms=prepared.read_ms,
                               preprocess_ms=prepared.preprocess_ms, infer_ms=_ms(t0, t1), postprocess_ms=_ms(t1, t2))
        self._count("frames_inferred")
        # Building and sending the messages (~3 ms of Python per frame) and the annotated JPEG happen on
        # the delivery thread, in order, while the model runs the next frame.
        self._delivery.submit(self._deliver, prepared, detections, engine, latency, config)

    def _deliver(
        self, prepared: Prepared, detections: list[Detection], engine: Engine, latency: StageLatency,
        config: SsdInferenceConfig,
    ) -> None:
        try:
            self._publish(prepared.frame, detections, engine, latency, config)
            if config.annotated_output.enabled:
                self._annotate(prepared.rgb, detections, prepared.frame, config)
        except Exception:  # the delivery thread must survive anything, like the worker
            log.exception("delivering the detections of frame %s failed", prepared.frame.frame_id)
            self._count("internal_errors")

    def _count(self, key: str) -> None:
        with self._counters_lock:
            self.counters[key] += 1

    def _refuse(self, kind: str, detail: str) -> None:
        self._count(kind)
        self._status.report(kind, detail)

    def _selection(self, config: SsdInferenceConfig, engine: Engine) -> Selection:
        return Selection(
            score_threshold=config.score_threshold,
            nms_iou_threshold=config.nms_iou_threshold,
            max_detections=config.max_detections,
            allowed_class_ids=engine.model.class_ids(config.class_allow_list),
            min_box_area=config.min_box_area,
        )

    # output -----------------------------------------------------------------------------------
    def _publish(
        self, frame: FrameRef, detections: list[Detection], engine: Engine, latency: StageLatency,
        config: SsdInferenceConfig,
    ) -> None:
        bundle = engine.model.bundle
        message = Detections(
            frame=frame,
            detections=detections,
            model=ModelInfo(name=bundle.name, version=bundle.version, backend=engine.backend_name),
            latency=latency,
            inferred_at=time.time(),
        )
        try:
            self._ipc.publish_nowait(topics.DETECTIONS, message, lambda error: self._publish_failed(frame, error))
            self._count("detections_published")
        except Exception:
            log.exception("publishing detections of frame %s failed", frame.frame_id)
            self._count("publish_errors")
        summary_cfg = config.iot_summary
        if summary_cfg.enabled and (detections or summary_cfg.include_empty):
            try:
                self._ipc.publish_iot(
                    topics.iot_detection_summary(self._thing), summarize(message, summary_cfg.max_boxes), qos=0
                )
            except Exception:
                log.exception("sending the detection summary of frame %s to IoT Core failed", frame.frame_id)
                self._count("publish_errors")

    def _publish_failed(self, frame: FrameRef, error: BaseException) -> None:
        log.error("publishing detections of frame %s failed: %s", frame.frame_id, error)
        self._count("publish_errors")

    def _annotate(self, rgb: Any, detections: list[Detection], frame: FrameRef, config: SsdInferenceConfig) -> None:
        out = config.annotated_output
        try:
            write_annotated(rgb, detections, out.folder(), frame, keep=out.keep_per_camera)
        except OSError as exc:
            self._refuse("annotated_output_failed", f"{out.dir}: {exc}")

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
        with self._counters_lock:
            self.counters["frames_dropped"] = dropped
            counters = dict(self.counters)
        state: State
        if self._engine is None:
            state, detail = "errored", f"model unusable: {self._model_problem}"
        else:
            bundle = self._engine.model.bundle
            chosen = config.backend in ("auto", self._engine.backend_name)
            state = "ok" if chosen else "degraded"
            detail = f"{bundle.name} {bundle.version} on {self._engine.backend_name}" + (
                "" if chosen else f" (configured: {config.backend})"
            )
        try:
            self._ipc.publish(
                topics.health(COMPONENT),
                Health(component=COMPONENT, state=state, detail=detail, counters=counters, at=time.time()),
            )
        except Exception:
            log.exception("publishing health failed")

