"""A camera that disconnects mid-capture is reopened with a backoff that doubles up to maxBackoffS, at
most ``attempts`` times (0: not at all), each attempt announced in a progress status; the session's
waits are recorded on a controlled clock instead of being slept."""

from __future__ import annotations

from pathlib import Path

import pytest

from camera_ingest.commands import CaptureRequest
from camera_ingest.settings import CameraSettings, ReconnectSettings
from camera_ingest.sources import SourceDisconnected
from tests.camera_ingest.helpers import pan_frames
from tests.camera_ingest.motion_frames import FakeClock
from tests.camera_ingest.replay import Recorded, Replay

CAMERA = CameraSettings.model_validate({"id": "cam0", "source": {"type": "folder", "path": "unused"}})


def unplugged_at(grab: int):
    """Disconnects once, before the ``grab``-th grab."""
    unplugged = []

    def on_grab(n: int) -> None:
        if n == grab and not unplugged:
            unplugged.append(n)
            raise SourceDisconnected("camera cam0 stopped delivering frames")

    return on_grab


def capture(tmp_path: Path, *, failing_opens: int, reconnect: ReconnectSettings, frames: int = 5) -> Recorded:
    source = Replay(pan_frames(3, (64, 48)), FakeClock(), on_grab=unplugged_at(3), failing_opens=failing_opens)
    run = Recorded(tmp_path, CaptureRequest("capture", CAMERA, "r1", frames=frames), source, reconnect=reconnect)
    run.run()
    return run


def announced(run: Recorded) -> list[str]:
    return [s.reason.split("; ", 1)[1] for s in run.statuses() if s.state == "progress" and s.reason]


def test_the_backoff_doubles_up_to_its_cap_until_the_camera_is_back(tmp_path: Path):
    settings = ReconnectSettings(attempts=6, initial_backoff_s=0.5, max_backoff_s=3.0)
    run = capture(tmp_path, failing_opens=5, reconnect=settings)
    assert run.waits == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    assert announced(run) == [f"reconnecting, attempt {n} of 6 in {s:g} s" for n, s in enumerate(run.waits, 1)]
    assert run.source.opens == 7  # the first open and six attempts
    assert run.session.stats.reconnects == 1
    # Frames at 0.1, 0.2, 0.3 s, then 12.5 s of backoff, then 12.9 and 13.0 s: 4 periods in 12.9 s.
    assert [round(ref.captured_monotonic_ns / 1e9 - 1000, 3) for ref in run.published] == [0.1, 0.2, 0.3, 12.9, 13.0]
    assert run.session.outcome == ("finished", "captured 5 frames of 5 at 0.31 fps")


def test_after_the_last_attempt_the_capture_ends_with_its_partial_result(tmp_path: Path):
    settings = ReconnectSettings(attempts=3, initial_backoff_s=0.25, max_backoff_s=10.0)
    run = capture(tmp_path, failing_opens=100, reconnect=settings)
    assert run.waits == [0.25, 0.5, 1.0]
    assert run.session.outcome == (
        "error", "camera cam0 stopped delivering frames; could not reconnect; partial result: "
                 "3 frames of 5 at 10.00 fps")
    assert run.session.stats.reconnects == 0


@pytest.mark.parametrize("failing_opens", [0, 100])
def test_no_attempts_gives_up_at_once(tmp_path: Path, failing_opens: int):
    run = capture(tmp_path, failing_opens=failing_opens, reconnect=ReconnectSettings(attempts=0))
    assert run.waits == [] and announced(run) == []
    assert run.source.opens == 1
    assert run.session.outcome is not None and run.session.outcome[0] == "error"
    assert "could not reconnect; partial result: 3 frames of 5" in run.session.outcome[1]
