"""smartcam.CameraIngest: capture on command, frames into the ring, references on smartcam/frames.

Commands arrive on IoT Core (this device's topic and the fleet topic) and on local pub/sub; each is
validated against the configuration and answered on the status topics (see camera_ingest.replies).
Every frame published stays in the journal (``SMARTCAM_JOURNAL_PATH``, set by the recipe) until a
receipt says what became of it (camera_ingest.delivery); a capture's final status carries that
accounting (camera_ingest.accounting).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from camera_ingest.accounting import CaptureLedger
from camera_ingest.cameras import CameraDispatcher, SourceFactory
from camera_ingest.commands import Rejected, validate
from camera_ingest.delivery import FrameDelivery
from camera_ingest.journal import Journal
from camera_ingest.replies import CaptureReplies
from camera_ingest.settings import CameraIngestConfig
from camera_ingest.sources import open_source
from smartcam import topics
from smartcam.config import LiveConfig
from smartcam.contracts import Health
from smartcam.device import thing_name, work_file
from smartcam.frames import pipeline_frame_root
from smartcam.ipc import Ipc
from smartcam.metrics import Metrics
from smartcam.telemetry import Telemetry

log = logging.getLogger(__name__)

COMPONENT_NAME = "smartcam.CameraIngest"
JOURNAL_ENV = "SMARTCAM_JOURNAL_PATH"



class CameraIngestApp:
    def __init__(
        self,
        ipc: Ipc,
        config: LiveConfig[CameraIngestConfig],
        *,
        source_factory: SourceFactory = open_source,
        thing: str | None = None,
        frame_root: Path | None = None,
    ) -> None:
        """``frame_root`` is for tests; a component always takes the pipeline's derived one."""
        self._ipc = ipc
        self._config = config
        self.thing = thing or thing_name()
        self.frame_root = frame_root if frame_root is not None else pipeline_frame_root()
        self.telemetry = Telemetry(ipc, COMPONENT_NAME, self.thing)
        self.telemetry.add_note(lambda: config.refused)
        self.journal = Journal(work_file(JOURNAL_ENV, "{work:path}/journal.sqlite3"))
        self.telemetry.add_note(self.journal.problem)
        self.status = CaptureReplies(ipc, self.thing, self.telemetry.counters)
        self.ledger = CaptureLedger(self.journal, self.status, lambda: config.current.account_within_s)
        self.delivery = FrameDelivery(ipc, self.journal, self.ledger, self.telemetry.counters)
        self.dispatcher = CameraDispatcher(lambda: config.current, self.status, self.frame_root,
                                           self.telemetry.counters, ledger=self.ledger, delivery=self.delivery,
                                           source_factory=source_factory)
        config.on_change(lambda _old, new: self.dispatcher.configure(new))
        self.metrics = Metrics(ipc, self.telemetry, self.thing, lambda: config.current.metrics)
        self.metrics.total("FramesIn", lambda: {c: t[0] for c, t in self.dispatcher.frame_totals().items()})
        self.metrics.total("FramesGated", lambda: {c: t[1] for c, t in self.dispatcher.frame_totals().items()})
        self.metrics.level("FramesAwaitingReceipts", "Count", self.delivery.awaiting)
        self._stop = threading.Event()
        self._health_thread = threading.Thread(target=self._health_loop, name="health", daemon=True)
        self._health_errors_seen = 0

    def start(self) -> None:
        self.ledger.restore()
        self.delivery.start()
        self._ipc.subscribe_iot(topics.iot_capture_commands(self.thing), self.on_command)
        self._ipc.subscribe_iot(topics.FLEET_CAPTURE_COMMANDS, self.on_command)
        self._ipc.subscribe(topics.LOCAL_CAPTURE_COMMANDS, self.on_command)
        self._health_thread.start()
        self.metrics.start()
        log.info("cameras: %s; frames in %s; journal %s", ", ".join(c.id for c in self._config.current.cameras),
                 self.frame_root, self.journal.path)

    def stop(self) -> None:
        self._stop.set()
        self.metrics.stop()
        self.dispatcher.stop_all("component stopping")
        self.delivery.stop()
        if self._health_thread.is_alive():
            self._health_thread.join(5)
        # Captures still waiting for receipts stay in the journal: their final status goes out after
        # the next start.
        self.journal.close()

    def on_command(self, topic: str, payload: Any) -> None:
        """Handler for every command topic. Never raises: every command gets a status reply."""
        try:
            request = validate(payload, self._config.current)
        except Rejected as rejection:
            self.status.send(
                "rejected", request_id=rejection.request_id, camera_id=rejection.camera_id, reason=rejection.reason
            )
            return
        except Exception as exc:
            log.exception("command on %s could not be validated", topic)
            self.status.send("rejected", reason=f"internal error validating the command: {type(exc).__name__}")
            return
        log.info("command %s %s on %s from %s", request.request_id, request.action, request.camera_id, topic)
        try:
            self.dispatcher.handle(request)
        except Exception as exc:
            log.exception("command %s failed", request.request_id)
            self.status.send(
                "error", request_id=request.request_id, camera_id=request.camera_id,
                reason=f"internal error: {type(exc).__name__}: {exc}",
            )

    def health(self) -> Health:
        errors = self.telemetry.counters["statusError"]
        degraded = errors > self._health_errors_seen
        self._health_errors_seen = errors
        running = self.dispatcher.running()
        detail = f"capturing: {', '.join(f'{c} ({r})' for c, r in running.items())}" if running else "idle"
        detail = f"{detail}; {self.delivery.awaiting()} frames await receipts"
        if degraded and self.status.last_error:
            detail = f"{detail}; last error: {self.status.last_error}"
        return self.telemetry.health("degraded" if degraded else "ok", detail)

    # internals ----------------------------------------------------------------------------
    def _health_loop(self) -> None:
        while True:
            try:
                self.telemetry.publish_health(self.health())
            except Exception:  # health is best effort, the loop goes on
                log.exception("building the health message failed")
            if self._stop.wait(self._config.current.health_interval_s):
                return
