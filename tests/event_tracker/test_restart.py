"""EventTracker killed with SIGKILL and started again: every event that was open is ended as "restarted"
(its sequence continued), what had no receipt is sent again, and frames its predecessor had tracked
are not tracked twice. A clean stop ends every open event as "shutdown"."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from event_tracker.store import EventStore
from repo_layout import REPO_ROOT
from smartcam.contracts import TrackEvent, parse
from tests.event_tracker.component import T0, configuration, open_event, start_tracker
from tests.event_tracker.crashing_tracker import STANDING, ZONES


@pytest.fixture
def killed(work: Path, frame_root: Path) -> list[TrackEvent]:
    """Runs crashing_tracker until it holds an open event, then SIGKILLs it; returns what it published."""
    child = subprocess.Popen([sys.executable, "-m", "tests.event_tracker.crashing_tracker", str(work),
                              str(frame_root)], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(60)
    assert line, f"the tracker process ended before it held an open event (exit {child.returncode})"
    assert child.returncode == -signal.SIGKILL
    return [parse(TrackEvent, message) for message in json.loads(line)]


def test_after_a_kill_every_open_event_ends_as_restarted_and_the_unreceipted_are_sent_again(
        killed, work, frame_root):
    _, ended_end, open_start, open_entered = killed
    assert (ended_end.kind, open_start.kind, open_entered.kind) == ("end", "start", "update")
    assert [z.zone for z in open_entered.zones] == ["door"] and open_entered.zones[0].left is None

    tracker = start_tracker(work, frame_root, configuration(cameras=ZONES))
    resent, restarted = tracker.events()
    assert resent == ended_end  # no receipt before the kill: sent again as it was
    assert restarted.event_id == open_start.event_id and restarted.kind == "end"
    assert restarted.end_reason == "restarted" and restarted.sequence == open_entered.sequence + 1
    assert restarted.last_seen == open_entered.last_seen and restarted.frames == open_entered.frames
    assert restarted.zones[0].left == open_entered.last_seen  # last seen inside
    assert restarted.snapshot == open_entered.snapshot and Path(restarted.snapshot.path).is_file()
    assert tracker.iot_events() == [restarted]  # the resent end went to IoT Core in the first run
    assert tracker.app.telemetry.counters["eventsEndedByRestart"] == 1

    # Detections of frames up to the last one the first run's events covered (sent again upstream) are
    # not tracked twice ...
    assert open_entered.last_seen == pytest.approx(T0 + 20.3)
    open_event(tracker, start=20.0, seconds=0.3, end=False, box=STANDING)
    assert len(tracker.events()) == 2 and tracker.app.telemetry.counters["framesStale"] == 4
    # ... later ones start a new event, whose id is new although its track id is 1 again
    open_event(tracker, start=21.1, end=False, box=STANDING)
    new = tracker.events()[2]
    assert new.kind == "start" and new.track_id == 1 and new.event_id == f"cam0.{round((T0 + 21.1) * 1000)}.1"
    assert new.event_id not in {e.event_id for e in killed}

    tracker.receipt([resent, restarted])
    tracker.app.stop()  # the new event ends as shutdown, kept until receipted
    store = EventStore(work / "events.sqlite3")
    assert [parse(TrackEvent, body).end_reason for _, body in store.load()] == ["shutdown"]
    assert store.open_events() == []
    store.close()


def test_a_restart_with_nothing_open_sends_nothing(work, frame_root):
    first = start_tracker(work, frame_root, configuration())
    open_event(first)
    first.receipt(first.events())
    first.app.stop()
    second = start_tracker(work, frame_root, configuration())
    assert second.events() == [] and second.app.delivery.awaiting() == 0
    second.app.stop()


def test_an_event_ended_by_a_clean_stop_is_sent_again_after_the_start_until_receipted(work, frame_root):
    first = start_tracker(work, frame_root, configuration())
    open_event(first, end=False)
    first.app.stop()
    [_, shutdown] = first.events()
    second = start_tracker(work, frame_root, configuration())
    assert second.events() == [shutdown] and shutdown.end_reason == "shutdown"
    second.app.stop()
