"""smartcam.OperatorView: a read-only page on the device. This module wires; it decides nothing.

Local pub/sub feeds the :class:`~operator_view.view_state.ViewState` (detections, events, health) and
the metric series (what the components put on ``cloudwatch/metric/put``); the aiohttp server
(:mod:`operator_view.server`) answers the page from them, from the frame ring and from EventTracker's
snapshots. Nothing on the device is written; the one thing published is this component's own metrics
(:class:`smartcam.metrics.Metrics`, on ``cloudwatch/metric/put``, like every component's).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from operator_view.frame_source import FrameSource
from operator_view.metric_series import MetricSeries
from operator_view.page_usage import PageUsage
from operator_view.server import Sources, build_app
from operator_view.settings import OperatorViewConfig
from operator_view.snapshot_files import SnapshotFiles
from operator_view.view_state import ViewState
from operator_view.web_runner import WebRunner
from smartcam import topics
from smartcam.config import LiveConfig
from smartcam.device import thing_name, work_file
from smartcam.frames import pipeline_frame_root
from smartcam.ipc import Ipc
from smartcam.metrics import Metrics
from smartcam.telemetry import Telemetry

log = logging.getLogger(__name__)

COMPONENT = "smartcam.OperatorView"
SNAPSHOTS_ENV = "SMARTCAM_EVENT_SNAPSHOTS_DIR"
HEALTH_TOPICS = topics.health("+")


class OperatorViewApp:
    def __init__(self, ipc: Ipc, config: LiveConfig[OperatorViewConfig], *, frame_root: Path | None = None,
                 snapshot_root: Path | None = None) -> None:
        """``frame_root`` and ``snapshot_root`` are for tests; a component takes the pipeline's."""
        self._ipc = ipc
        self._config = config
        # Counters for the metrics only: this component publishes no health and no status.
        self.thing = thing_name()
        self.telemetry = Telemetry(ipc, COMPONENT, self.thing)
        self.own_metrics = Metrics(ipc, self.telemetry, self.thing, lambda: config.current.metrics)
        self.usage = PageUsage(self.telemetry.counters, self.own_metrics.observe)
        self.own_metrics.counter("PageRequests", "pageRequests")
        self.own_metrics.counter("FramesServed", "framesServed")
        self.own_metrics.level("PagesOpen", "Count", self.usage.pages_open)
        invalid = lambda: self.telemetry.count("messagesInvalid")  # noqa: E731 - one counter, two feeds
        self.state = ViewState(max_fps=lambda: config.current.max_fps,
                               recent_events=lambda: config.current.recent_events, on_invalid=invalid)
        self.metrics = MetricSeries(points=lambda: config.current.metric_points, on_invalid=invalid)
        root = snapshot_root if snapshot_root is not None else work_file(
            SNAPSHOTS_ENV, "{kernel:rootPath}/work/smartcam.EventTracker/snapshots")
        self._sources = Sources(
            state=self.state,
            frames=FrameSource(frame_root if frame_root is not None else pipeline_frame_root()),
            snapshots=SnapshotFiles(root),
            metrics=self.metrics.snapshot,
            config=lambda: config.current,
            usage=self.usage,
        )
        self._lock = threading.Lock()
        self._server: WebRunner | None = None
        config.on_change(self._reconfigure)

    @property
    def address(self) -> str | None:
        server = self._server
        return f"http://{server.host}:{server.port}/" if server else None

    def start(self) -> None:
        self._ipc.subscribe(topics.DETECTIONS, self.state.on_detections)
        self._ipc.subscribe(topics.EVENTS, self.state.on_event)
        self._ipc.subscribe(HEALTH_TOPICS, self.state.on_health)
        self._ipc.subscribe(topics.CLOUDWATCH_METRIC_PUT, self.metrics.on_metric)
        with self._lock:
            self._server = self._serve(self._config.current)
        self.own_metrics.start()

    def stop(self) -> None:
        self.own_metrics.stop()
        with self._lock:
            if self._server is not None:
                self._server.stop()
                self._server = None

    def _serve(self, config: OperatorViewConfig) -> WebRunner:
        server = WebRunner(build_app(self._sources, config.token), config.host, config.port)
        server.start()
        return server

    def _reconfigure(self, old: OperatorViewConfig, new: OperatorViewConfig) -> None:
        if (old.host, old.port, old.token) == (new.host, new.port, new.token):
            return
        with self._lock:
            if self._server is not None:
                self._server.stop()
                self._server = None
            try:
                self._server = self._serve(new)
            except OSError as exc:
                log.error("cannot listen on %s:%d (%s); serving on the previous address", new.host, new.port, exc)
                try:
                    self._server = self._serve(old)
                except OSError:
                    log.exception("cannot listen on the previous address %s:%d either", old.host, old.port)

