"""Frames to SsdInference at least once: every published ``FrameRef`` stays in a durable outbox (the
journal) until a terminal receipt for it arrives on ``smartcam/receipts``, and is sent again (marked
``resent``) when it is due.

- Terminal receipts: from SsdInference ``dropped``, ``expired``, ``refused``; from DynamoWriter
  ``stored``, ``summarized``, ``no_detections``, ``lost``. Each settles its frame once and is tallied on the frame's
  capture (:class:`camera_ingest.accounting.CaptureLedger`) and in the counters.
- Receipts of a new SsdInference run (its first, empty message announces it) make everything waiting
  due at once: that run lost whatever its predecessor held in memory, or was not running when the
  frames were sent.
- Otherwise a frame is sent again ``FIRST_RESEND_S`` after its last send, backing off to
  ``MAX_RESEND_S``, but only once SsdInference has sent receipts in this run: an inference that never
  did is either not running (its announcement brings everything at once when it starts) or one that
  does not speak receipts, which would infer every frame sent again a second time.
- At start, what the journal kept from the previous run is sent again at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from camera_ingest.accounting import CaptureLedger
from camera_ingest.journal import Journal
from smartcam import topics
from smartcam.contracts import ContractError, FrameRef, Receipts, parse
from smartcam.handoff import Outbox, StageWatch
from smartcam.ipc import Ipc
from smartcam.telemetry import Counters

log = logging.getLogger(__name__)

INFERENCE = "smartcam.SsdInference"
WRITER = "smartcam.DynamoWriter"
# The outcomes each stage may decide; any other receipt is refused and counted.
TERMINAL = {INFERENCE: frozenset({"dropped", "expired", "refused"}),
            WRITER: frozenset({"stored", "summarized", "no_detections", "lost"})}
COUNTER = {"stored": "framesStored", "summarized": "framesSummarized", "no_detections": "framesNoDetections",
           "dropped": "framesDropped", "expired": "framesExpired", "refused": "framesRefused", "lost": "framesLost"}

# Far more than the frame rings hold by default (300 per camera): a frame older than its ring is
# answered `expired` when sent again, so only a pipeline down for a long time fills this.
OUTBOX_CAPACITY = 50_000
FIRST_RESEND_S = 10.0  # well above a frame's normal time to its terminal receipt
MAX_RESEND_S = 300.0
TICK_S = 0.2  # how often due frames are sent again and due final statuses go out


class FrameDelivery:
    def __init__(
        self,
        ipc: Ipc,
        journal: Journal,
        ledger: CaptureLedger,
        counters: Counters,
        *,
        clock: Callable[[], float] = time.monotonic,
        tick_s: float = TICK_S,
    ) -> None:
        self._ipc = ipc
        self._ledger = ledger
        self._counters = counters
        self._tick_s = tick_s
        self.outbox: Outbox[FrameRef] = Outbox(FrameRef, capacity=OUTBOX_CAPACITY, first_resend_s=FIRST_RESEND_S,
                                               max_resend_s=MAX_RESEND_S, store=journal, clock=clock)
        self._stages = StageWatch()
        self._inference_heard = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="frame-delivery", daemon=True)

    def start(self) -> None:
        """Listen for receipts first, so none for a frame sent again below is missed."""
        self._ipc.subscribe(topics.RECEIPTS, self.on_receipts)
        restored = self.outbox.restore()
        if restored:
            log.info("%d frames from before the restart have no receipt: sending them again", len(restored))
        for ref in restored:
            self._resend(ref)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def send(self, ref: FrameRef, capture: int | None) -> None:
        """Publish a new frame; raises what publishing raised (the frame stays in the outbox)."""
        if capture is not None:
            self._ledger.frame_captured(capture, ref.frame_id)
        evicted = self.outbox.add(ref.frame_id, ref)
        if evicted is not None:
            self._ledger.forget_frame(evicted.frame_id)
            self._counters.add("framesUnfollowed")
            log.warning("outbox full (%d frames without receipt): frame %s is no longer followed",
                        OUTBOX_CAPACITY, evicted.frame_id)
        self._ipc.publish(topics.FRAMES, ref)

    def awaiting(self) -> int:
        """Frames published and not receipted yet."""
        return len(self.outbox)

    def on_receipts(self, topic: str, payload: Any) -> None:
        """Handler of smartcam/receipts. Never raises: whatever a peer sends is checked and counted."""
        if self._stop.is_set():
            return
        try:
            receipts = parse(Receipts, payload)
        except ContractError as exc:
            self._counters.add("receiptsInvalid")
            log.warning("receipts on %s refused: %s", topic, exc)
            return
        allowed = TERMINAL.get(receipts.stage)
        if allowed is None:
            return  # a stage that decides no frame's fate for this component
        if receipts.stage == INFERENCE:
            heard_before = self._inference_heard.is_set()
            self._inference_heard.set()
            # A run not heard before that announces its start, or follows another run: it holds nothing
            # of what was sent before. (The first receipts of a run that was already going when this
            # component started mean no loss; what it missed is due on the timeout.)
            if self._stages.restarted(receipts) and (heard_before or not receipts.receipts):
                waiting = self.outbox.resend_all_now()
                log.info("SsdInference run %s: %d frames without receipt are due now", receipts.instance, waiting)
        outcomes: dict[str, str] = {}
        for receipt in receipts.receipts:
            if receipt.outcome not in allowed:
                self._counters.add("receiptsInvalid")
                log.warning("receipt from %s for %s with outcome %s refused: %s decides only %s", receipts.stage,
                            receipt.frame_id, receipt.outcome, receipts.stage, ", ".join(sorted(allowed)))
                continue
            outcomes.setdefault(receipt.frame_id, receipt.outcome)
        settled = self.outbox.settle(outcomes)
        for ref in settled:
            self._counters.add(COUNTER[outcomes[ref.frame_id]])
        self._ledger.tally((ref.frame_id, outcomes[ref.frame_id]) for ref in settled)

    def tick(self) -> None:
        """Send again what is due, and the final statuses whose accountWithinS has passed."""
        if self._inference_heard.is_set():
            for ref in self.outbox.due():
                self._resend(ref)
        self._ledger.report_due()

    # internals -----------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.wait(self._tick_s):
            try:
                self.tick()
            except Exception:  # the loop must go on: the next tick tries again
                log.exception("frame delivery loop")

    def _resend(self, ref: FrameRef) -> None:
        self._counters.add("framesResent")
        try:
            self._ipc.publish(topics.FRAMES, ref.model_copy(update={"resent": True}))
        except Exception as exc:  # noqa: BLE001 - it stays in the outbox and is due again later
            log.warning("frame %s not sent again: %s", ref.frame_id, exc)
