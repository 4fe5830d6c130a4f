
"""The component with a mocked Greengrass IPC client: commands in through the real stream
callbacks (IoT Core and local pub/sub), frames into the ring, references and status replies out."""

from __future__ import annotations

import errno
import functools
import itertools
import json
import statistics

from camera_ingest.commands import validate
from camera_ingest.sources import OpenCvSource, open_source
from repo_layout import REPO_ROOT
from smartcam import frames, topics
from smartcam.contracts import FrameAccounting, Health, parse
from smartcam.frames import FrameReader
from smartcam.handoff import new_instance
from tests.camera_ingest.helpers import TERMINAL, THING, WRITER, FakeV4l2Capture, build_app, config_dict, make_video
from tests.support.frame_root import nucleus_frame_root

COMMANDS = topics.iot_capture_commands(THING)


def command(**fields) -> bytes:
    return json.dumps(fields).encode()


def test_capture_n_frames_from_iot_core(started, folder, frame_root):
    _, ipc = started(config_dict(folder))
    assert set(ipc.iot_handlers) == {COMMANDS, topics.FLEET_CAPTURE_COMMANDS}
    assert set(ipc.topic_handlers) == {topics.LOCAL_CAPTURE_COMMANDS, topics.RECEIPTS}
    ipc.send_iot(COMMANDS, command(action="capture", camera_id="cam0", frames=6, fps=60, request_id="r1"))
    final = ipc.wait_for_terminal("r1")
    assert final.state == "finished", final.reason
    assert (final.frames_captured, final.frames_requested) == (6, 6)
    assert final.accounting == FrameAccounting(pending=6)  # accountWithinS 0 and no receipts here
    states = [s.state for s in ipc.statuses() if s.request_id == "r1"]
    assert states[0] == "accepted" and states[-1] == "finished"
    # The same replies reached this device's IoT Core status topic.
    assert [s.state for s in ipc.iot_statuses() if s.request_id == "r1"] == states
    refs = ipc.frames()
    assert len(refs) == 6
    assert [r.sequence for r in refs] == list(range(6))
    assert all(r.request_id == "r1" and r.camera_id == "cam0" for r in refs)
    reader = FrameReader(frame_root)
    for ref in refs:
        assert reader.copy(ref).shape == (ref.height, ref.width, 3) == (120, 160, 3)
    monotonic = [r.captured_monotonic_ns for r in refs]
    assert monotonic == sorted(monotonic)


def test_requested_fps_holds_whatever_the_camera_rate(started, folder):
    # A "camera" delivering 100 fps, sampled at 20 fps.
    configuration = config_dict(folder)
    configuration["cameras"][0]["source"]["fps"] = 100
    _, ipc = started(configuration)
    ipc.send_iot(COMMANDS, command(action="capture", camera_id="cam0", frames=12, fps=20, request_id="fps"))
    assert ipc.wait_for_terminal("fps").frames_captured == 12
    stamps = [r.captured_monotonic_ns for r in ipc.frames()]
    assert len(stamps) == 12
    gaps = [(b - a) / 1e9 for a, b in itertools.pairwise(stamps)]
    period = 1 / 20
    # Never faster than asked (the schedule is on the monotonic clock); the median gap sits at the period
    # (a busy machine can only stretch single gaps, and the schedule absorbs that).
    assert (stamps[-1] - stamps[0]) / 1e9 >= 10 * period
    assert statistics.median(gaps) >= 0.5 * period


def test_capture_for_a_duration(started, folder):
    _, ipc = started(config_dict(folder))
    ipc.send_local_json({"action": "capture", "camera_id": "cam0", "duration_s": 0.3, "fps": 20, "request_id": "d"})
    final = ipc.wait_for_terminal("d")
    assert final.state == "finished" and "in 0.3 s" in final.reason
    assert 1 <= final.frames_captured <= 7  # at most ceil(0.3 * 20) + 1 slot of tolerance
    assert len(ipc.frames()) == final.frames_captured


def test_video_file_camera_end_to_end(started, tmp_path):
    video = make_video(tmp_path / "clip.avi", count=10, size=(320, 240), fps=120)
    configuration = config_dict(tmp_path)
    configuration["cameras"] = [
        {"id": "door", "source": {"type": "file", "path": str(video)}, "width": 160, "height": 120, "jpegQuality": 60,
         "motion": {"enabled": False}}
    ]
    _, ipc = started(configuration)
    ipc.send_local_binary(command(action="capture", camera_id="door", frames=15, fps=120, request_id="v"))
    final = ipc.wait_for_terminal("v")
    assert final.state == "finished" and final.frames_captured == 15  # looped past the 10 frames
    assert {(r.width, r.height) for r in ipc.frames()} == {(160, 120)}


def test_snapshot_and_fleet_topic(started, folder):
    _, ipc = started(config_dict(folder))
    ipc.send_iot(topics.FLEET_CAPTURE_COMMANDS, command(action="snapshot", camera_id="cam0", request_id="s"))
    final = ipc.wait_for_terminal("s")
    assert (final.state, final.frames_captured, final.frames_requested) == ("finished", 1, 1)
    assert len(ipc.frames()) == 1


def test_continuous_capture_until_stop_and_busy_camera_rejected(started, folder):
    _, ipc = started(config_dict(folder))
    ipc.send_iot(COMMANDS, command(action="start", camera_id="cam0", fps=50, request_id="go"))
    ipc.wait_until(lambda: len(ipc.frames()) >= 3)
    ipc.send_iot(COMMANDS, command(action="snapshot", camera_id="cam0", request_id="busy"))
    busy = ipc.wait_for_terminal("busy")
    assert busy.state == "rejected" and "busy with request go" in busy.reason
    ipc.send_iot(COMMANDS, command(action="stop", camera_id="cam0", request_id="halt"))
    assert ipc.wait_for_terminal("halt").state == "finished"
    final = ipc.wait_for_terminal("go")
    assert final.state == "finished" and "stopped by request halt" in final.reason
    assert final.frames_captured >= 3
    # A stop with nothing running is rejected; the camera is free again.
    ipc.send_iot(COMMANDS, command(action="stop", camera_id="cam0", request_id="halt2"))
    assert ipc.wait_for_terminal("halt2").state == "rejected"
    ipc.send_iot(COMMANDS, command(action="snapshot", camera_id="cam0", request_id="again"))
    assert ipc.wait_for_terminal("again").state == "finished"


def test_bad_commands_get_a_rejection_on_both_topics(started, folder):
    _, ipc = started(config_dict(folder))
    ipc.send_iot(COMMANDS, b"\x00garbage")
    ipc.send_iot(COMMANDS, command(action="capture", camera_id="ghost", frames=1, request_id="g"))
    ipc.send_iot(COMMANDS, command(action="capture", camera_id="cam0", frames=1000, request_id="big"))
    ipc.send_local_json({"action": "capture", "camera_id": "cam0", "frames": 1, "path": "/etc/shadow"})
    local, iot = ipc.statuses(), ipc.iot_statuses()
    assert [s.state for s in local] == ["rejected"] * 4 == [s.state for s in iot]
    assert "not valid JSON" in local[0].reason
    assert local[1].request_id == "g" and "unknown camera 'ghost'" in local[1].reason
    assert "maxFrames" in local[2].reason
    assert "path" in local[3].reason
    assert not ipc.frames()


def test_v4l2_disconnect_mid_capture_reconnects(started, folder):
    plugs = iter([4, None])  # the first "device" dies after 4 frames, the reopened one keeps going

    def flaky(index, api):
        return FakeV4l2Capture(index, api, fps=100, fail_after=next(plugs))

    configuration = config_dict(folder)
    configuration["cameras"] = [{"id": "usb", "source": {"type": "v4l2", "device": 0}, "motion": {"enabled": False}}]
    _, ipc = started(configuration, source_factory=lambda cam: OpenCvSource(
        cam, video_capture=flaky, device_exists=lambda path: True))
    ipc.send_iot(COMMANDS, command(action="capture", camera_id="usb", frames=8, fps=100, request_id="u"))
    final = ipc.wait_for_terminal("u")
    assert final.state == "finished" and final.frames_captured == 8
    progress = [s for s in ipc.statuses() if s.request_id == "u" and s.state == "progress"]
    assert progress and "reconnecting" in progress[0].reason
    assert len(FakeV4l2Capture.instances) == 2


def test_v4l2_unplugged_for_good_reports_a_partial_result(started, folder):
    opened = []

    def dies(index, api):
        opened.append(1)
        return FakeV4l2Capture(index, api, fps=100, fail_after=3, opens=len(opened) == 1)

    configuration = config_dict(folder)
    configuration["cameras"] = [{"id": "usb", "source": {"type": "v4l2", "device": 0}, "motion": {"enabled": False}}]
    app, ipc = started(configuration, source_factory=lambda cam: OpenCvSource(
        cam, video_capture=dies, device_exists=lambda path: True))
    ipc.send_iot(COMMANDS, command(action="capture", camera_id="usb", frames=10, fps=100, request_id="p"))
    final = ipc.wait_for_terminal("p")
    assert final.state == "error"
    assert final.frames_captured == 3 and final.frames_requested == 10
    assert "could not reconnect" in final.reason and "partial result: 3 frames of 10" in final.reason
    assert len(opened) == 3  # the first open plus reconnect.attempts == 2
    assert app.health().state == "degraded"


def test_missing_camera_is_an_error_and_the_component_keeps_running(started, folder):
    configuration = config_dict(folder)
    configuration["cameras"].append({"id": "usb", "source": {"type": "v4l2", "device": "/dev/video9"}})
    missing = functools.partial(OpenCvSource, video_capture=FakeV4l2Capture, device_exists=lambda path: False)
    _, ipc = started(configuration, source_factory=lambda cam: missing(cam) if cam.id == "usb" else open_source(cam))
    ipc.send_iot(COMMANDS, command(action="snapshot", camera_id="usb", request_id="m"))
    final = ipc.wait_for_terminal("m")
    assert final.state == "error" and "/dev/video9 does not exist" in final.reason
    ipc.send_iot(COMMANDS, command(action="snapshot", camera_id="cam0", request_id="ok"))
    assert ipc.wait_for_terminal("ok").state == "finished"


def test_disk_full_is_an_error_status_and_the_component_keeps_running(started, folder, monkeypatch):
    """Shared memory is reserved when the ring file is made: a full /dev/shm ends the capture there."""
    _, ipc = started(config_dict(folder))

    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(frames.os, "posix_fallocate", full)
    ipc.send_iot(COMMANDS, command(action="capture", camera_id="cam0", frames=5, fps=60, request_id="full"))
    final = ipc.wait_for_terminal("full")
    assert final.state == "error" and final.reason.startswith("disk full")
    assert final.frames_captured == 0 and len(ipc.frames()) == 0
    monkeypatch.undo()  # space freed
    ipc.send_iot(COMMANDS, command(action="snapshot", camera_id="cam0", request_id="after"))
    assert ipc.wait_for_terminal("after").state == "finished"
    assert len(ipc.frames()) == 1


def test_failing_publishes_do_not_stop_a_capture(started, folder):
    _, ipc = started(config_dict(folder))
    ipc.client.publish_to_iot_core.side_effect = RuntimeError("IoT Core offline")
    ipc.send_iot(COMMANDS, command(action="capture", camera_id="cam0", frames=3, fps=60, request_id="off"))
    assert ipc.wait_for_terminal("off").frames_captured == 3


def test_stopping_the_component_finishes_running_captures(folder, frame_root):
    app, ipc = build_app(config_dict(folder), frame_root)
    app.start()
    ipc.send_iot(COMMANDS, command(action="start", camera_id="cam0", fps=30, request_id="long"))
    ipc.wait_until(ipc.frames)
    app.stop()
    final = ipc.wait_for_terminal("long")
    assert final.state == "finished" and "component stopping" in final.reason


def test_health_is_published_with_counters(started, folder):
    app, ipc = started(config_dict(folder))
    ipc.send_iot(COMMANDS, command(action="capture", camera_id="cam0", frames=2, fps=60, request_id="h"))
    ipc.wait_for_terminal("h")
    ipc.wait_until(lambda: app.telemetry.counters["framesCaptured"] == 2)
    health = parse(Health, app.health().to_message())
    assert health.state == "ok"
    assert health.counters["framesCaptured"] == 2 and health.counters["statusFinished"] == 1
    assert health.counters["sessionsFinished"] == 1 and health.counters["statusAccepted"] == 1
    published = ipc.on(topics.health("smartcam.CameraIngest"))
    assert published and published[0]["component"] == "smartcam.CameraIngest"


def test_thing_name_comes_from_the_nucleus_environment(monkeypatch, folder, frame_root):
    from camera_ingest.app import CameraIngestApp
    from camera_ingest.settings import CameraIngestConfig
    from smartcam.config import LiveConfig
    from tests.support.fake_nucleus import FakeNucleus

    monkeypatch.setenv("AWS_IOT_THING_NAME", "gate-7")
    harness = FakeNucleus(config_dict(folder), "smartcam.CameraIngest")
    app = CameraIngestApp(harness.ipc, LiveConfig(harness.ipc, CameraIngestConfig), frame_root=frame_root)
    app.start()
    try:
        assert "smartcam/gate-7/capture" in harness.iot_handlers
        assert app.status.iot_topic == "smartcam/gate-7/capture/status"
    finally:
        app.stop()


def test_frames_go_to_the_root_derived_from_the_nucleus(monkeypatch, folder, tmp_path):
    from camera_ingest.app import CameraIngestApp
    from camera_ingest.settings import CameraIngestConfig
    from smartcam.config import LiveConfig
    from tests.camera_ingest.helpers import IngestNucleus

    derived = nucleus_frame_root(monkeypatch, tmp_path)
    harness = IngestNucleus(config_dict(folder), "smartcam.CameraIngest")
    app = CameraIngestApp(harness.ipc, LiveConfig(harness.ipc, CameraIngestConfig), thing=THING)
    app.start()
    try:
        harness.send_iot(COMMANDS, command(action="capture", camera_id="cam0", frames=2, request_id="derived"))
        assert harness.wait_for_terminal("derived").frames_captured == 2
        assert app.frame_root == derived
        reader = FrameReader(derived)
        assert [reader.copy(ref).shape for ref in harness.frames()] == [(120, 160, 3)] * 2
    finally:
        app.stop()


def test_recipe_default_configuration_is_valid_and_captures_the_samples(tmp_path):
    import yaml

    from camera_ingest.settings import CameraIngestConfig
    from smartcam.config import validate_config

    recipe = yaml.safe_load((REPO_ROOT / "components/CameraIngest/recipe.yaml").read_text())
    default = recipe["ComponentConfiguration"]["DefaultConfiguration"]
    config = validate_config(CameraIngestConfig, default)
    assert config == CameraIngestConfig()  # code defaults and recipe defaults agree
    assert config.cameras[0].source.resolved.is_dir()
    app, ipc = build_app(default, tmp_path / "frames")
    app.start()
    try:
        ipc.send_iot(COMMANDS, command(action="capture", camera_id="cam0", frames=3, fps=10, request_id="sample"))
        # With the recipe's accountWithinS the final status waits for the frames' receipts.
        ipc.wait_for_status("sample", "progress", containing="3 of 3 frames await receipts")
        assert not [s for s in ipc.statuses_of("sample") if s.state in TERMINAL]
        ipc.send_receipts(WRITER, new_instance(), [(ref, "stored") for ref in ipc.frames()])
        final = ipc.wait_for_terminal("sample")
        assert (final.state, final.frames_captured) == ("finished", 3)
        assert final.accounting == FrameAccounting(stored=3)
        assert {(r.width, r.height) for r in ipc.frames()} == {(640, 480)}
    finally:
        app.stop()


def test_a_configuration_update_applies_to_the_next_command(started, folder, tmp_path):
    configuration = config_dict(folder)
    _, ipc = started(configuration)
    ipc.send_iot(COMMANDS, command(action="snapshot", camera_id="porch", request_id="before"))
    assert ipc.wait_for_terminal("before").state == "rejected"
    video = make_video(tmp_path / "porch.avi", count=4, size=(96, 72), fps=60)
    ipc.update(cameras=[*configuration["cameras"], {"id": "porch", "source": {"type": "file", "path": str(video)}}])
    ipc.send_iot(COMMANDS, command(action="snapshot", camera_id="porch", request_id="after"))
    assert ipc.wait_for_terminal("after").state == "finished"
    # An invalid update is refused and the previous configuration stays in force.
    ipc.update(cameras=[{"id": "x", "source": {"type": "v4l2", "device": "/etc/passwd"}}])
    ipc.send_iot(COMMANDS, command(action="snapshot", camera_id="porch", request_id="still"))
    assert ipc.wait_for_terminal("still").state == "finished"


def test_removing_a_camera_from_the_configuration_ends_its_capture(started, folder):
    configuration = config_dict(folder)
    porch = {"id": "porch", "source": {"type": "folder", "path": str(folder), "fps": 60}}
    app, ipc = started({**configuration, "cameras": [*configuration["cameras"], porch]})
    for camera_id in ("cam0", "porch"):
        ipc.send_iot(COMMANDS, command(action="start", camera_id=camera_id, fps=30, request_id=f"go-{camera_id}"))
    ipc.wait_until(lambda: {r.camera_id for r in ipc.frames()} == {"cam0", "porch"})
    ipc.update(cameras=configuration["cameras"])
    # Once porch is gone from the configuration no command can name it, so its capture ends here.
    ended = ipc.wait_for_terminal("go-porch")
    assert ended.state == "finished" and "camera porch was removed from the configuration" in ended.reason
    assert ended.frames_captured >= 1
    assert app.dispatcher.running() == {"cam0": "go-cam0"}
    ipc.send_iot(COMMANDS, command(action="stop", camera_id="cam0", request_id="halt"))
    assert ipc.wait_for_terminal("go-cam0").state == "finished"


def test_a_command_checked_before_its_camera_was_removed_does_not_start(started, folder):
    """The race the handler threads allow: validated against the old configuration, started after the new."""
    configuration = config_dict(folder)
    porch = {"id": "porch", "source": {"type": "folder", "path": str(folder), "fps": 60}}
    app, ipc = started({**configuration, "cameras": [*configuration["cameras"], porch]})
    request = validate({"action": "start", "camera_id": "porch", "request_id": "late"}, ipc.live.current)
    ipc.update(cameras=configuration["cameras"])
    app.dispatcher.handle(request)
    late = ipc.wait_for_terminal("late")
    assert late.state == "rejected" and "camera porch was removed from the configuration" in late.reason
    assert app.dispatcher.running() == {}


def test_long_captures_report_progress(started, folder):
    _, ipc = started(config_dict(folder, progressIntervalS=0.05))
    ipc.send_iot(COMMANDS, command(action="capture", camera_id="cam0", frames=20, fps=60, request_id="prog"))
    final = ipc.wait_for_terminal("prog")
    progress = [s for s in ipc.statuses() if s.request_id == "prog" and s.state == "progress"]
    assert progress and final.frames_captured == 20
    counts = [s.frames_captured for s in progress]
    assert counts == sorted(counts) and all(0 < c <= 20 for c in counts)
    assert all(s.frames_requested == 20 for s in progress)


def test_a_session_that_cannot_start_ends_with_error_and_frees_the_camera(started, folder, monkeypatch):
    from camera_ingest.session import CaptureSession

    _, ipc = started(config_dict(folder))
    real_start = CaptureSession.start

    def no_thread(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(CaptureSession, "start", no_thread)
    ipc.send_iot(COMMANDS, command(action="snapshot", camera_id="cam0", request_id="nothread"))
    final = ipc.wait_for_terminal("nothread")
    assert final.state == "error" and "can't start new thread" in final.reason
    assert final.frames_captured == 0 and final.accounting == FrameAccounting()
    monkeypatch.setattr(CaptureSession, "start", real_start)
    ipc.send_iot(COMMANDS, command(action="snapshot", camera_id="cam0", request_id="after"))
    assert ipc.wait_for_terminal("after").state == "finished"
