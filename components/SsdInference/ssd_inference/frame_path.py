"""The per-frame path of smartcam.SsdInference: a frame reference in, a Detections message out.

A plain object, no threads and no IPC: the component's scheduler, the benchmarks and the tests call
the same code. The three steps are separate so the scheduler can overlap them (prepare frame n+1
while the model runs frame n, finish frame n-1 on the delivery thread); :meth:`FramePath.process`
runs them one after the other.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np

from smartcam.contracts import Detection, Detections, FrameRef, ModelInfo, StageLatency
from smartcam.frames import FrameError as RingFrameError
from smartcam.frames import FrameExpired, FrameOutsideRoot, FrameOverwritten, FrameReader
from ssd_inference.backends import BackendError
from ssd_inference.decoders import DecoderError, Selection
from ssd_inference.engine import Engine


class FrameRefused(Exception):
    """A frame this path cannot serve; ``kind`` is the counter and status kind (camelCase)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail

    @property
    def outcome(self) -> Literal["expired", "refused"]:
        """The frame's receipt: ``expired`` when the ring recycled it before it was read or while it was
        read (capture outran the ring, not a fault of the frame), ``refused`` for every other reason."""
        return "expired" if self.kind in ("frameExpired", "frameOverwritten") else "refused"


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000.0, 3)


@dataclass(frozen=True)
class Prepared:
    """A frame made ready for the model, with what it took to get there."""

    frame: FrameRef
    image: np.ndarray  # the frame at the model's input size, in its colour order
    tensor: np.ndarray
    queue_ms: float | None  # capture -> start of preparation
    read_ms: float  # the frame read out of its ring slot, resized to the model's input on the way
    preprocess_ms: float  # normalize and layout

    @property
    def seconds(self) -> float:
        return (self.read_ms + self.preprocess_ms) / 1000.0


@dataclass(frozen=True)
class Inferred:
    """A frame the model ran on, with its detections (the results) and the weak candidates below them."""

    prepared: Prepared
    detections: list[Detection]
    infer_ms: float
    postprocess_ms: float
    candidates: list[Detection] = field(default_factory=list)


class FramePath:
    """Frame ref -> Detections with one engine, frame root and selection (rebuild it when they change)."""

    def __init__(self, engine: Engine, frame_root: Path, selection: Selection) -> None:
        self.engine = engine
        self.frame_root = frame_root
        self.selection = selection
        self.reader = FrameReader(frame_root)

    @cached_property
    def model_info(self) -> ModelInfo:
        """What served, the same for every frame of this path: validated once, not per message (a model
        it refuses still fails each frame in :meth:`finish`, as a message it cannot build)."""
        bundle = self.engine.model.bundle
        return ModelInfo(name=bundle.name, version=bundle.version, backend=self.engine.backend_name,
                         variant=self.engine.backend_variant)

    def process(self, frame: FrameRef) -> Detections:
        """The whole path; FrameRefused for a frame that cannot be served."""
        return self.finish(self.infer(self.prepare(frame)))

    def prepare(self, frame: FrameRef) -> Prepared:
        """Read the frame from its ring slot, resized to the model's input on the way, and preprocess it."""
        t0 = time.perf_counter()
        # Both clocks are the same host's CLOCK_MONOTONIC: ingest stamped the frame with it.
        queued_ns = time.monotonic_ns() - frame.captured_monotonic_ns
        preprocess = self.engine.model.preprocess
        try:
            image = self.reader.read(frame, preprocess.resize)
            t1 = time.perf_counter()
            tensor = preprocess.tensor(image)
            t2 = time.perf_counter()
        except FrameOverwritten as exc:
            raise FrameRefused("frameOverwritten", str(exc)) from exc
        except FrameExpired as exc:
            raise FrameRefused("frameExpired", str(exc)) from exc
        except FrameOutsideRoot as exc:
            raise FrameRefused("frameOutsideRoot", str(exc)) from exc
        except RingFrameError as exc:
            raise FrameRefused("badFrame", f"frame {frame.frame_id}: {exc}") from exc
        except OSError as exc:
            raise FrameRefused("unreadableFrame", f"frame {frame.frame_id} of camera {frame.camera_id}: {exc}") from exc
        queue_ms = round(queued_ns / 1e6, 3) if queued_ns >= 0 else None
        return Prepared(frame, image, tensor, queue_ms, _ms(t0, t1), _ms(t1, t2))

    def infer(self, prepared: Prepared) -> Inferred:
        """Run the model and decode its outputs into detections."""
        t0 = time.perf_counter()
        try:
            outputs = self.engine.infer(prepared.tensor)
            t1 = time.perf_counter()
            found = self.engine.postprocess(outputs, self.selection)
            t2 = time.perf_counter()
        except (BackendError, DecoderError) as exc:
            raise FrameRefused("inferenceFailed", f"frame {prepared.frame.frame_id}: {exc}") from exc
        return Inferred(prepared, found.detections, _ms(t0, t1), _ms(t1, t2), found.candidates)

    def finish(self, inferred: Inferred) -> Detections:
        """The detections message, with the time each stage took."""
        prepared = inferred.prepared
        return Detections(
            frame=prepared.frame,
            detections=inferred.detections,
            candidates=inferred.candidates or None,
            model=self.model_info,
            latency=StageLatency(queue_ms=prepared.queue_ms, read_ms=prepared.read_ms,
                                 preprocess_ms=prepared.preprocess_ms, infer_ms=inferred.infer_ms,
                                 postprocess_ms=inferred.postprocess_ms),
            inferred_at=time.time(),
        )


def selection_for(engine: Engine, *, score_threshold: float, nms_iou_threshold: float, max_detections: int,
                  class_allow_list: list[str] | tuple[str, ...] = (), min_box_area: float = 0.0,
                  tracking_score_threshold: float | None = None) -> Selection:
    """Which detections to keep, with the allow-list's labels turned into this model's class ids
    (``tracking_score_threshold``: where the weak candidates start; None: no candidates)."""
    return Selection(
        score_threshold=score_threshold,
        nms_iou_threshold=nms_iou_threshold,
        max_detections=max_detections,
        allowed_class_ids=engine.model.class_ids(class_allow_list),
        min_box_area=min_box_area,
        tracking_score_threshold=tracking_score_threshold,
    )
