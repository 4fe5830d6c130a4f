"""What became of every frame of each capture request, and when the request's final status goes out.

A capture's final status (``finished`` or ``error``) carries its :class:`FrameAccounting`: the
frames captured, by the terminal outcome their receipts reported (stored, summarized, no_detections,
dropped, expired, refused, lost) and ``pending`` for those without a receipt yet. It goes out when
every frame has its receipt, or ``accountWithinS`` after the capture ended (0: at once); meanwhile a ``progress``
status says how many frames await receipts. The counts always add up to ``frames_captured``: a frame
is counted captured before it can be published, and tallied at most once (when it leaves the outbox).
Frames the motion gate kept back never left the process: they are no part of the accounting, and the
final status counts them beside it (``frames_gated``).

Every capture is mirrored in the journal, so a capture a crash interrupted is ended after the
restart with ``error`` (the reason says so) and its accounting, once its frames are receipted or
``accountWithinS`` has passed since the restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from camera_ingest.commands import CaptureRequest
from camera_ingest.journal import Journal
from camera_ingest.replies import CaptureReplies
from smartcam.contracts import FrameAccounting

log = logging.getLogger(__name__)


@dataclass
class Capture:
    """One capture request until its final status went out."""

    capture: int  # this component's own id: request ids come from outside and may repeat
    request_id: str | None
    camera_id: str
    frames_requested: int | None
    frames_captured: int = 0
    frames_gated: int | None = None  # known once the capture ended, when a motion gate judged its frames
    tallies: Counter[str] = field(default_factory=Counter)
    ended: tuple[str, str] | None = None  # (state, reason) once the capture itself ended
    ended_at: float = 0.0  # monotonic; accountWithinS counts from here

    @property
    def receipted(self) -> int:
        return sum(self.tallies.values())

    @property
    def awaiting(self) -> int:
        return max(0, self.frames_captured - self.receipted)

    def accounting(self) -> FrameAccounting:
        return FrameAccounting(**dict(self.tallies), pending=self.awaiting)


def interrupted_reason(frames_captured: int, frames_requested: int | None) -> str:
    of = f" of {frames_requested}" if frames_requested is not None else ""
    return f"interrupted: CameraIngest restarted after {frames_captured}{of} frame{'s' if frames_captured != 1 else ''}"


class CaptureLedger:
    """The captures whose final status has not gone out, in memory and in the journal. Thread-safe:
    sessions, the receipts handler and the delivery loop all report here."""

    def __init__(
        self,
        journal: Journal,
        status: CaptureReplies,
        account_within_s: Callable[[], float],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._journal = journal
        self._status = status
        self._account_within_s = account_within_s  # read at every decision: a live setting
        self._clock = clock
        self._lock = threading.Lock()
        self._captures: dict[int, Capture] = {}
        self._owners: dict[str, int] = {}  # frame id -> capture, for frames not receipted yet
        self._next = 1

    # after a restart -----------------------------------------------------------------------------
    def restore(self) -> None:
        """Take over the captures the journal kept: one still running when the component died is
        ended now as interrupted; each gets its final status as any other capture does."""
        owners = self._journal.owners()
        owned = Counter(owners.values())
        now = self._clock()
        restored: list[Capture] = []
        with self._lock:
            for row in self._journal.captures():
                capture = Capture(row.capture, row.request_id, row.camera_id, row.frames_requested,
                                  frames_gated=row.frames_gated, tallies=Counter(row.tallies), ended_at=now)
                # A lost journal write can only lower the count; never below what is accounted for.
                capture.frames_captured = max(row.frames_captured, capture.receipted + owned[row.capture])
                if row.ended is None:
                    capture.ended = ("error", interrupted_reason(capture.frames_captured, capture.frames_requested))
                    self._journal.end_capture(capture.capture, *capture.ended, capture.frames_captured)
                else:
                    capture.ended = row.ended
                self._captures[capture.capture] = capture
                self._next = max(self._next, capture.capture + 1)
                restored.append(capture)
            self._owners.update({frame: owner for frame, owner in owners.items() if owner in self._captures})
        for capture in restored:
            log.info("capture %s (request %s on %s) from before the restart: %s; %d of %d frames await receipts",
                     capture.capture, capture.request_id, capture.camera_id, capture.ended, capture.awaiting,
                     capture.frames_captured)
            self._final_or_progress(capture.capture)

    # a capture's life ----------------------------------------------------------------------------
    def begin(self, request: CaptureRequest) -> int:
        with self._lock:
            number = self._next
            self._next += 1
            self._captures[number] = Capture(number, request.request_id, request.camera_id, request.frames)
            self._journal.open_capture(number, request.request_id, request.camera_id, request.frames)
        return number

    def frame_captured(self, capture: int, frame_id: str) -> None:
        """Before the frame is published: from now on a receipt for it counts for ``capture``."""
        with self._lock:
            record = self._captures.get(capture)
            if record is None:
                return
            record.frames_captured += 1
            self._owners[frame_id] = capture
            self._journal.frame_captured(capture, frame_id)

    def end(self, capture: int, state: str, reason: str, frames_captured: int, frames_gated: int | None = None) -> None:
        """The capture itself ended (the session's outcome); its final status follows the receipts.
        ``frames_gated``: how many frames its motion gate kept back (None: no gate judged them)."""
        with self._lock:
            record = self._captures.get(capture)
            if record is None:
                return
            record.ended = (state, reason)
            record.ended_at = self._clock()
            record.frames_captured = max(frames_captured, record.receipted)
            record.frames_gated = frames_gated
            self._journal.end_capture(capture, state, reason, record.frames_captured, frames_gated)
        self._final_or_progress(capture)

    # receipts ------------------------------------------------------------------------------------
    def tally(self, settled: Iterable[tuple[str, str]]) -> None:
        """(frame id, outcome) of frames that just left the outbox, each exactly once."""
        counts: dict[int, Counter[str]] = {}
        with self._lock:
            for frame_id, outcome in settled:
                capture = self._owners.pop(frame_id, None)
                record = self._captures.get(capture) if capture is not None else None
                if record is None or record.receipted >= record.frames_captured:
                    continue
                record.tallies[outcome] += 1
                counts.setdefault(record.capture, Counter())[outcome] += 1
            if counts:
                self._journal.tally(counts)
        for capture in counts:
            self._final_or_progress(capture, announce=False)

    def forget_frame(self, frame_id: str) -> None:
        """A frame the outbox no longer follows: it stays pending in its capture's accounting."""
        with self._lock:
            self._owners.pop(frame_id, None)

    def waiting(self) -> int:
        """How many captures wait for their final status."""
        with self._lock:
            return len(self._captures)

    def report_due(self) -> None:
        """Send the final status of every ended capture whose accountWithinS has passed."""
        within = self._account_within_s()
        now = self._clock()
        with self._lock:
            due = [c.capture for c in self._captures.values() if c.ended and now - c.ended_at >= within]
        for capture in due:
            self._final_or_progress(capture, announce=False)

    # internals -----------------------------------------------------------------------------------
    def _final_or_progress(self, capture: int, *, announce: bool = True) -> None:
        """The final status when every frame is receipted or the time is up; else (``announce``) a
        progress status saying what it waits for. The record is taken under the lock: one final only."""
        within = self._account_within_s()
        with self._lock:
            record = self._captures.get(capture)
            if record is None or record.ended is None:
                return
            (state, reason), awaiting = record.ended, record.awaiting
            final = not awaiting or self._clock() - record.ended_at >= within
            if final:
                del self._captures[capture]
        if final:
            delivered = self._status.send(
                "error" if state == "error" else "finished",
                request_id=record.request_id, camera_id=record.camera_id, reason=reason,
                frames_captured=record.frames_captured, frames_requested=record.frames_requested,
                frames_gated=record.frames_gated, accounting=record.accounting(),
            )
            if delivered:
                self._journal.forget_capture(capture)
            else:  # e.g. the nucleus went away as the component stopped: the journal keeps the capture
                log.warning("final status of capture %s not delivered: the next run sends it", record.request_id)
        elif announce:
            self._status.send(
                "progress",
                request_id=record.request_id, camera_id=record.camera_id,
                reason=f"capture ended ({state}: {reason}); {awaiting} of {record.frames_captured} frames await "
                       f"receipts, final status within {within:g} s",
                frames_captured=record.frames_captured, frames_requested=record.frames_requested,
                frames_gated=record.frames_gated,
            )
