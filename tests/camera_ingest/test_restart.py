"""CameraIngest restarted: from its journal it sends again every frame that had no receipt and ends
every capture it had not reported: one it was running (killed with SIGKILL mid-capture) as
interrupted, one that was waiting for receipts with its own end; each with its accounting."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from repo_layout import REPO_ROOT
from smartcam import topics
from smartcam.contracts import FrameAccounting, FrameRef, parse
from smartcam.handoff import new_instance
from tests.camera_ingest import crashing_component
from tests.camera_ingest.helpers import INFERENCE, THING, WRITER, build_app, config_dict

COMMANDS = topics.iot_capture_commands(THING)
INTERRUPTED = f"interrupted: CameraIngest restarted after {crashing_component.FRAMES} of 10 frames"


@pytest.fixture
def killed_mid_capture(folder: Path, frame_root: Path) -> list[FrameRef]:
    """Runs crashing_component until it is mid-capture, then SIGKILLs it; returns what it published."""
    child = subprocess.Popen([sys.executable, "-m", "tests.camera_ingest.crashing_component", str(folder),
                              str(frame_root)], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(60)
    assert line, f"the component process ended before it was mid-capture (exit {child.returncode})"
    assert child.returncode == -signal.SIGKILL
    return [parse(FrameRef, message) for message in json.loads(line)]


def test_a_capture_killed_midway_ends_as_interrupted_with_its_accounting(killed_mid_capture, started, folder):
    published = killed_mid_capture
    assert len(published) == crashing_component.FRAMES
    app, ipc = started(config_dict(folder, accountWithinS=3600))
    # At start, the frames without receipt were sent again, marked as such.
    assert [ref.frame_id for ref in ipc.resends()] == [ref.frame_id for ref in published[2:]]
    assert [ref.model_copy(update={"resent": None}) for ref in ipc.resends()] == published[2:]
    progress = ipc.wait_for_status(crashing_component.REQUEST, "progress", containing="await receipts")
    assert progress.reason is not None and INTERRUPTED in progress.reason and "2 of 4 frames" in progress.reason
    assert "2 frames await receipts" in app.health().detail
    ipc.send_receipts(WRITER, new_instance(), [(published[2], "stored")])
    ipc.send_receipts(INFERENCE, new_instance(), [(published[3], "expired")])
    final = ipc.wait_for_terminal(crashing_component.REQUEST)
    assert (final.state, final.reason) == ("error", INTERRUPTED)
    assert (final.frames_captured, final.frames_requested) == (crashing_component.FRAMES, 10)
    assert final.accounting == FrameAccounting(stored=2, dropped=1, expired=1)
    assert final.accounting.total() == final.frames_captured
    # The camera works again, and the next capture is accounted for on its own.
    ipc.send_iot(COMMANDS, json.dumps({"action": "snapshot", "camera_id": "cam0", "request_id": "next"}).encode())
    ipc.wait_for_status("next", "progress", containing="1 of 1 frames await receipts")
    ipc.send_receipts(WRITER, new_instance(), [(ipc.first_sends()[-1], "no_detections")])
    assert ipc.wait_for_terminal("next").accounting == FrameAccounting(no_detections=1)


def test_with_account_within_s_zero_an_interrupted_capture_is_reported_at_once(killed_mid_capture, started, folder):
    _, ipc = started(config_dict(folder, accountWithinS=0))
    final = ipc.wait_for_terminal(crashing_component.REQUEST)
    assert (final.state, final.reason) == ("error", INTERRUPTED)
    assert final.accounting == FrameAccounting(stored=1, dropped=1, pending=2)
    assert [s.state for s in ipc.statuses_of(crashing_component.REQUEST)] == ["error"]


def test_a_capture_waiting_for_receipts_over_a_restart_keeps_its_own_end(folder, frame_root):
    first, ipc = build_app(config_dict(folder, accountWithinS=3600), frame_root)
    first.start()
    ipc.send_iot(COMMANDS, json.dumps(
        {"action": "capture", "camera_id": "cam0", "frames": 3, "fps": 60, "request_id": "over"}).encode())
    ipc.wait_for_status("over", "progress", containing="3 of 3 frames await receipts")
    sent = ipc.first_sends()
    ipc.send_receipts(WRITER, new_instance(), [(sent[0], "stored")])
    first.stop()
    assert not [s for s in ipc.statuses_of("over") if s.state in ("finished", "error")]

    again, ipc = build_app(config_dict(folder, accountWithinS=3600), frame_root)
    again.start()
    try:
        assert [ref.frame_id for ref in ipc.resends()] == [ref.frame_id for ref in sent[1:]]
        ipc.send_receipts(INFERENCE, new_instance(), [(sent[1], "dropped"), (sent[2], "dropped")])
        final = ipc.wait_for_terminal("over")
        assert final.state == "finished" and final.reason.startswith("captured 3 frames of 3")
        assert final.accounting == FrameAccounting(stored=1, dropped=2)
    finally:
        again.stop()

    # Nothing is left to follow: a third start sends nothing again and reports nothing.
    third, ipc = build_app(config_dict(folder, accountWithinS=3600), frame_root)
    third.start()
    try:
        assert ipc.frames() == [] and ipc.statuses() == []
    finally:
        third.stop()
