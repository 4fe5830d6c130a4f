"""Data capture for labeling: frames the policy picks, copied out of the ring and sent to DynamoWriter
until it receipts them.

For each tracked frame the policy (:mod:`event_tracker.capture_policy`) says why it is wanted, if at all, and
the camera's budget whether it may be taken. A frame taken is made a JPEG out of the ring at once
(:func:`smartcam.frames.frame_as_jpeg`, at the camera's JPEG quality) to ``<captures folder>/<frame id>.jpg``
(0640, whole or not at all), and a :class:`~smartcam.contracts.DataCapture` naming it, with the model's
predictions, goes into a durable outbox (:class:`~event_tracker.capture_store.CaptureStore`, in the same
transaction as the camera's counts) and out on ``smartcam/data-captures``. It is sent again as events are (the
writer's new run, or a back-off without a receipt); DynamoWriter's ``CaptureReceipt`` (stored or lost) settles
it and the JPEG is deleted: the writer has its own copy by then.

Bounded: the budget per camera, and ``maxPendingMb`` of JPEGs waiting for the writer. At start the
outbox is restored from the store and any JPEG no capture names (a crash between writing it and
keeping its capture) is deleted. Not thread-safe: the app calls it under its lock.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path

from event_tracker.capture_policy import best_score, capture_reasons
from event_tracker.capture_store import CaptureStore
from event_tracker.settings import DataCaptureSettings
from smartcam import topics
from smartcam.contracts import MAX_CAPTURE_PREDICTIONS, DataCapture, Detection, Detections, FrameRef, Receipts
from smartcam.frames import FrameError, FrameExpired, FrameReader, ensure_private_dir, frame_as_jpeg, write_private_file
from smartcam.handoff import Outbox, StageWatch
from smartcam.ipc import Ipc
from smartcam.telemetry import Counters

log = logging.getLogger(__name__)

WRITER = "smartcam.DynamoWriter"
OUTBOX_CAPACITY = 20_000  # captures followed at once; beyond, the oldest is let go (capturesUnfollowed)
FIRST_RESEND_S = 10.0
MAX_RESEND_S = 300.0
JPEG = ".jpg"
REASON_COUNTERS = {"uncertain": "capturesUncertain", "new_track": "capturesNewTrack", "random": "capturesRandom"}


class DataCapturer:
    def __init__(self, ipc: Ipc, store: CaptureStore, folder: Path, counters: Counters, *, frames: FrameReader,
                 rng: random.Random | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._ipc = ipc
        self._store = store
        self.folder = Path(folder)
        self._counters = counters
        self._frames = frames  # EventTracker's one reader of the ring
        self._rng = rng or random.Random()  # noqa: S311  # nosec B311 - a sample, not a secret
        self.outbox: Outbox[DataCapture] = Outbox(DataCapture, capacity=OUTBOX_CAPACITY, first_resend_s=FIRST_RESEND_S,
                                                  max_resend_s=MAX_RESEND_S, store=store, clock=clock)
        self._stages = StageWatch()
        self._writer_heard = False
        self._pending_bytes: dict[str, int] = {}
        ensure_private_dir(self.folder)

    def start(self) -> int:
        """Send again what the store kept, delete JPEGs no capture names; how many were kept."""
        restored = self.outbox.restore()
        for capture in restored:
            self._pending_bytes[capture.frame_id] = capture.bytes
            self._publish(capture)
        named = {Path(capture.path).name for capture in restored}
        for child in self.folder.iterdir():
            if child.name not in named:
                log.info("data capture: deleting %s, which no capture awaiting the writer names", child)
                child.unlink(missing_ok=True)
        return len(restored)

    @property
    def pending_bytes(self) -> int:
        return sum(self._pending_bytes.values())

    def awaiting(self) -> int:
        return len(self.outbox)

    def consider(self, detections: Detections, settings: DataCaptureSettings, *, new_track: bool) -> DataCapture | None:
        """Capture ``detections``' frame if the policy wants it and the budget allows; the capture sent."""
        frame = detections.frame
        if not settings.enabled or (settings.cameras and frame.camera_id not in settings.cameras):
            return None
        reasons = capture_reasons(settings, detections, new_track=new_track, rng=self._rng)
        if not reasons:
            return None
        budget = self._store.budget
        if not budget.allows(frame.camera_id, frame.captured_at, settings):
            self._counters.add("capturesOverBudget")
            return None
        copied = self._copy(frame, settings)
        if copied is None:
            return None
        path, jpeg = copied
        capture = DataCapture(
            frame_id=frame.frame_id, camera_id=frame.camera_id, request_id=frame.request_id,
            captured_at=frame.captured_at, width=frame.width, height=frame.height, reasons=reasons,
            best_score=best_score(detections), detections=_best_first(detections.detections),
            candidates=_best_first(detections.candidates or []), model=detections.model, path=str(path),
            bytes=len(jpeg), sent_at=time.time())
        budget.spend(frame.camera_id, frame.captured_at)
        evicted = self.outbox.add(capture.frame_id, capture)
        if evicted is not None:
            self._forget(evicted)
            self._counters.add("capturesUnfollowed")
        self._pending_bytes[capture.frame_id] = capture.bytes
        self._counters.add("capturesTaken")
        for reason in reasons:
            self._counters.add(REASON_COUNTERS[reason])
        self._publish(capture)
        return capture

    def _copy(self, frame: FrameRef, settings: DataCaptureSettings) -> tuple[Path, bytes] | None:
        """The frame's JPEG copied out of the ring into the captures folder, or None (counted)."""
        try:
            jpeg = frame_as_jpeg(frame, self._frames.root, reader=self._frames)
        except FrameExpired:
            self._counters.add("capturesExpired")  # the ring recycled it first
            return None
        except (FrameError, OSError) as exc:
            self._counters.add("capturesFailed")
            log.warning("data capture of frame %s failed: %s", frame.frame_id, exc)
            return None
        if self.pending_bytes + len(jpeg) > settings.max_pending_bytes:
            self._counters.add("capturesSkippedFull")
            return None
        path = self.folder / f"{frame.frame_id}{JPEG}"
        try:
            write_private_file(path, jpeg)
        except OSError as exc:
            self._counters.add("capturesFailed")
            log.warning("data capture of frame %s not written: %s", frame.frame_id, exc)
            return None
        return path, jpeg

    def on_receipts(self, receipts: Receipts) -> list[DataCapture]:
        """The writer's receipts: settle the captures they name, delete their JPEGs."""
        if receipts.stage != WRITER:
            return []
        heard_before, self._writer_heard = self._writer_heard, True
        if self._stages.restarted(receipts) and (heard_before or receipts.announcement):
            self.outbox.resend_all_now()
            self.tick()
        outcomes = {receipt.frame_id: receipt for receipt in receipts.captures or ()}
        settled = self.outbox.settle(outcomes)
        for capture in settled:
            self._forget(capture)
            receipt = outcomes[capture.frame_id]
            if receipt.outcome == "lost":
                self._counters.add("capturesLost")
                log.error("DynamoWriter lost capture %s: %s", capture.frame_id, receipt.detail)
            else:
                self._counters.add("capturesReceipted")
        return settled

    def tick(self) -> None:
        """Send again what is due (once the writer has been heard in this run)."""
        if self._writer_heard:
            for capture in self.outbox.due():
                self._counters.add("capturesResent")
                self._publish(capture)

    def _forget(self, capture: DataCapture) -> None:
        self._pending_bytes.pop(capture.frame_id, None)
        with contextlib.suppress(OSError):
            Path(capture.path).unlink(missing_ok=True)

    def _publish(self, capture: DataCapture) -> None:
        try:
            self._ipc.publish(topics.DATA_CAPTURES, capture)
        except Exception as exc:  # noqa: BLE001 - it stays in the outbox and is due again later
            self._counters.add("publishErrors")
            log.warning("capture %s not published: %s", capture.frame_id, exc)


def _best_first(predictions: list[Detection]) -> list[Detection]:
    return sorted(predictions, key=lambda d: d.score, reverse=True)[:MAX_CAPTURE_PREDICTIONS]
