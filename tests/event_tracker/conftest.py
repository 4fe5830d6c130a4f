from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from event_tracker.app import CAPTURES_DIR_ENV, CAPTURES_ENV, EVENTS_ENV, SNAPSHOTS_ENV
from tests.event_tracker.component import THING, Tracker, configuration, start_tracker


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The component's work folder, as the recipe's Setenv name its files there."""
    folder = tmp_path / "work"
    monkeypatch.setenv(EVENTS_ENV, str(folder / "events.sqlite3"))
    monkeypatch.setenv(SNAPSHOTS_ENV, str(folder / "snapshots"))
    monkeypatch.setenv(CAPTURES_ENV, str(folder / "captures.sqlite3"))
    monkeypatch.setenv(CAPTURES_DIR_ENV, str(folder / "captures"))
    monkeypatch.setenv("AWS_IOT_THING_NAME", THING)
    return folder


@pytest.fixture
def frame_root(tmp_path: Path) -> Path:
    return tmp_path / "frames"


@pytest.fixture
def started(work: Path, frame_root: Path) -> Iterator[Callable[..., Tracker]]:
    """Starts EventTrackers on the fake nucleus (the recipe's defaults, ``over`` on top); stops each one
    still running at the end."""
    trackers: list[Tracker] = []

    def start(**over: Any) -> Tracker:
        tracker = start_tracker(work, frame_root, configuration(**over))
        trackers.append(tracker)
        return tracker

    yield start
    for tracker in trackers:
        if not tracker.app._stop.is_set():
            tracker.app.stop()
