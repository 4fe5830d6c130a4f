"""Which frames smartcam.SsdInference holds, and the receipts of those it let go without detections.

A frame is *in flight* from the moment it is admitted until its detections wait in the detections
outbox (the writer's receipt follows) or this stage decided its fate: ``dropped``, ``expired``,
``refused`` or ``lost``, each a receipt (smartcam.contracts.receipts). CameraIngest sends a frame
again when no receipt came in time or when this component restarted: one in flight is ignored then
(it is being served), one already decided is answered with the same receipt, from memory, and one
not known at all is served anew (after a restart of this component, that is how it gets inferred).
"""

from __future__ import annotations

import threading
from collections.abc import Container
from typing import Literal, Protocol

from smartcam.contracts import FrameReceipt, FrameRef
from smartcam.handoff import ReceiptMemory

Admission = Literal["new", "in_flight", "decided"]
Decision = Literal["dropped", "expired", "refused", "lost"]
MAX_DETAIL = 1024  # FrameReceipt.detail


class ReceiptSink(Protocol):
    def add(self, receipt: FrameReceipt) -> None: ...


class FrameLedger:
    """Thread-safe. ``handed_over`` answers whether a frame's detections still wait for the writer's
    receipt (the detections outbox)."""

    def __init__(self, receipts: ReceiptSink, handed_over: Container[str], memory: ReceiptMemory | None = None) -> None:
        self._receipts = receipts
        self._handed_over = handed_over
        self._memory = memory or ReceiptMemory()
        self._lock = threading.Lock()
        self._in_flight: set[str] = set()

    def admit(self, frame: FrameRef) -> Admission:
        """``new``: serve it (it is in flight from now on); ``in_flight``: ignore it; ``decided``: its
        earlier receipt was sent again."""
        with self._lock:
            if frame.frame_id in self._in_flight or frame.frame_id in self._handed_over:
                return "in_flight"
            earlier = self._memory.get(frame.frame_id)
            if earlier is None:
                self._in_flight.add(frame.frame_id)
                return "new"
        self._receipts.add(earlier)
        return "decided"

    def decide(self, frame: FrameRef, outcome: Decision, detail: str) -> FrameReceipt:
        """This stage decided ``frame``'s fate: remember it, send the receipt, let the frame go."""
        if len(detail) > MAX_DETAIL:
            detail = detail[: MAX_DETAIL - 3] + "..."
        receipt = FrameReceipt(frame_id=frame.frame_id, camera_id=frame.camera_id, request_id=frame.request_id,
                               outcome=outcome, detail=detail)
        with self._lock:
            # Remembered before it leaves the in-flight set: a resend arriving in between is answered.
            self._memory.remember(receipt)
            self._in_flight.discard(frame.frame_id)
        self._receipts.add(receipt)
        return receipt

    def handed_over(self, frame_id: str) -> None:
        """The frame's detections are in the outbox (put there before this call, so that a resend
        arriving in between is still seen as in flight)."""
        with self._lock:
            self._in_flight.discard(frame_id)

    def __len__(self) -> int:
        """Frames in flight here (not counting those waiting in the outbox)."""
        with self._lock:
            return len(self._in_flight)
