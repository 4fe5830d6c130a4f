"""Detections sent to smartcam.DynamoWriter and not receipted yet: kept, and sent again until they are.

Local pub/sub delivers at most once and keeps nothing for a writer that is restarting. Every
Detections message goes into an in-memory :class:`smartcam.handoff.Outbox` (by frame id) before it
is published; the writer's receipt for the frame (stored, no_detections, lost) settles it. When the
writer's receipts show a new run of it (:class:`smartcam.handoff.StageWatch`), everything still
waiting is sent again at once; otherwise an entry is sent again when no receipt came within
:data:`FIRST_RESEND_S`, then at doubling intervals up to :data:`MAX_RESEND_S`. The writer
de-duplicates by frame id, so a message sent twice is stored once. Resends go out from a thread of
their own, never from the model's.

If this component dies, the outbox dies with it: CameraIngest then sends the frame references again
and the frames are inferred anew.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from smartcam import topics
from smartcam.contracts import Detections, FrameRef, Receipts
from smartcam.handoff import Outbox, StageWatch
from smartcam.ipc import Ipc
from smartcam.telemetry import Counters

log = logging.getLogger(__name__)

WRITER_STAGE = "smartcam.DynamoWriter"

# Constants, not settings: nothing about a site makes other values right, and a wrong one only hurts.
# The writer's receipt normally comes within ~0.2 s (spool commit + its 0.1 s receipt batching), and a
# writer restart is detected by its new instance, not by a timeout: the timed resend only covers a
# message or receipt lost on the bus, so seconds are early enough and a minute is the longest wait.
FIRST_RESEND_S = 5.0
MAX_RESEND_S = 60.0
# Bounds memory (4-23 KB per message held with 0-20 detections, 42 KB with 20 candidates beside them)
# to ~10-85 MB: about 70 s of a writer outage at the pipeline's full rate (~29 fps), minutes at 10 fps.
# Beyond it the oldest frame is given up with a `lost` receipt, so CameraIngest's accounting stays exact.
OUTBOX_CAPACITY = 2_000
RESEND_CHECK_S = 0.5  # how often the resend thread looks for due entries (a writer restart wakes it at once)

LostHandler = Callable[[FrameRef, str], None]


class DetectionsOutbox:
    def __init__(
        self,
        ipc: Ipc,
        counters: Counters,
        on_lost: LostHandler,
        *,
        capacity: int = OUTBOX_CAPACITY,
        first_resend_s: float = FIRST_RESEND_S,
        max_resend_s: float = MAX_RESEND_S,
        check_interval_s: float = RESEND_CHECK_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ipc = ipc
        self._counters = counters
        self._on_lost = on_lost
        self._outbox = Outbox(Detections, capacity=capacity, first_resend_s=first_resend_s,
                              max_resend_s=max_resend_s, clock=clock)
        self._capacity = capacity
        self._watch = StageWatch()
        self._check_interval_s = check_interval_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ssd-outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # the delivery side ------------------------------------------------------------------------
    def publish(self, message: Detections) -> None:
        """Keep ``message`` until the writer's receipt, then send it (without waiting for the nucleus)."""
        evicted = self._outbox.add(message.frame.frame_id, message)
        if evicted is not None:
            self._on_lost(evicted.frame, f"detections not receipted by {WRITER_STAGE}: the outbox of "
                                         f"{self._capacity} frames was full and this was the oldest")
        self._send(message, resend=False)

    def __contains__(self, frame_id: object) -> bool:
        return frame_id in self._outbox

    def __len__(self) -> int:
        return len(self._outbox)

    # the receipts side ------------------------------------------------------------------------
    def on_receipts(self, receipts: Receipts) -> None:
        """The writer's receipts settle what they name; a new run of the writer gets everything again."""
        if receipts.stage != WRITER_STAGE:
            return
        restarted = self._watch.restarted(receipts)
        self._outbox.settle(receipt.frame_id for receipt in receipts.receipts)
        if restarted:
            waiting = self._outbox.resend_all_now()
            if waiting:
                log.info("%s run %s: sending it the %d detections it has not receipted", WRITER_STAGE,
                         receipts.instance, waiting)
                self._wake.set()

    def resend_due(self) -> int:
        """Send again what is due now; returns how many."""
        due = self._outbox.due()
        for message in due:
            self._send(message, resend=True)
        return len(due)

    # internals --------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._check_interval_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.resend_due()
            except Exception:  # the resend thread must outlive anything; the entries stay due
                log.exception("resending detections failed")
                self._counters.add("internalErrors")

    def _send(self, message: Detections, *, resend: bool) -> None:
        frame_id = message.frame.frame_id
        try:
            self._ipc.publish_nowait(topics.DETECTIONS, message, lambda error: self._failed(frame_id, error))
        except Exception as exc:  # noqa: BLE001 - it stays in the outbox and goes out again when due
            self._failed(frame_id, exc)
            return
        self._counters.add("detectionsResent" if resend else "detectionsPublished")

    def _failed(self, frame_id: str, error: BaseException) -> None:
        log.error("publishing detections of frame %s failed (sent again when due): %s", frame_id, error)
        self._counters.add("publishErrors")
