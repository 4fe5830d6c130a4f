from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from operator_view.frame_source import FrameSource
from operator_view.page_usage import PageUsage
from operator_view.server import Sources, build_app
from operator_view.settings import OperatorViewConfig
from operator_view.snapshot_files import SnapshotFiles
from operator_view.view_state import ViewState
from operator_view.web_runner import WebRunner
from smartcam.frames import FrameRing
from smartcam.telemetry import Counters


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ring(tmp_path: Path) -> FrameRing:
    return FrameRing(tmp_path / "frames", "cam0", capacity=3)


@pytest.fixture
def snapshot_root(tmp_path: Path) -> Path:
    return tmp_path / "tracker-work" / "snapshots"


@pytest.fixture
def state(clock: Clock) -> ViewState:
    return ViewState(max_fps=lambda: 2.0, recent_events=lambda: 5, clock=clock)


class Usage(PageUsage):
    """The page's usage over its own counters, keeping the latency samples it is given."""

    def __init__(self, clock: Clock) -> None:
        self.counters = Counters()
        self.samples: list[tuple[str, float]] = []
        super().__init__(self.counters, lambda stage, ms: self.samples.append((stage, ms)), clock=clock)


@pytest.fixture
def usage(clock: Clock) -> Usage:
    return Usage(clock)


@pytest.fixture
def serve(state: ViewState, ring: FrameRing, snapshot_root: Path, usage: Usage) -> Iterator[Callable[..., WebRunner]]:
    """Starts the page's server on 127.0.0.1 (a free port) over ``state``, the ring and the snapshots."""
    runners: list[WebRunner] = []

    def start(token: str | None = None, metrics: list | None = None) -> WebRunner:
        config = OperatorViewConfig(token=token)
        sources = Sources(state=state, frames=FrameSource(ring.root), snapshots=SnapshotFiles(snapshot_root),
                          metrics=lambda: metrics or [], config=lambda: config, usage=usage)
        runner = WebRunner(build_app(sources, token), "127.0.0.1", 0)
        runner.start()
        runners.append(runner)
        return runner

    yield start
    for runner in runners:
        runner.stop()
