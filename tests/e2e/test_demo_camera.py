"""`make demo CAMERA=...`: what the demo turns a camera choice into."""

import pytest

from local_device.camera import CameraChoiceError, camera_source


@pytest.mark.parametrize(("choice", "source"), [
    ("/dev/video2", {"type": "v4l2", "device": "/dev/video2"}),
    ("0", {"type": "v4l2", "device": "/dev/video0"}),
    ("rtsp://user:pw@cam.local/stream", {"type": "stream", "url": "rtsp://user:pw@cam.local/stream"}),
])
def test_devices_and_streams(choice, source):
    assert camera_source(choice, 5.0) == source


def test_files_and_folders_become_absolute(tmp_path, monkeypatch):
    (tmp_path / "clip.mp4").write_bytes(b"x")
    (tmp_path / "shots").mkdir()
    monkeypatch.chdir(tmp_path)
    assert camera_source("clip.mp4", 5.0) == {"type": "file", "path": str(tmp_path / "clip.mp4"), "fps": 5.0}
    assert camera_source("shots", 5.0) == {"type": "folder", "path": str(tmp_path / "shots"), "fps": 5.0}


@pytest.mark.parametrize("choice", ["/dev/sda", "no-such-file.mp4", "ftp://cam/stream", "/dev/video1234"])
def test_anything_else_is_refused_with_what_is_accepted(choice):
    with pytest.raises(CameraChoiceError, match="not a V4L2 device"):
        camera_source(choice, 5.0)


def test_the_demo_replays_a_file_or_folder_at_the_rate_it_captures_at(tmp_path, monkeypatch):
    from local_device.demo import parse_args

    (tmp_path / "shots").mkdir()
    monkeypatch.chdir(tmp_path)
    args = parse_args(["--camera", "shots", "--fps", "4"])
    assert args.source["fps"] == args.fps == 4.0
    assert parse_args(["--camera", "shots"]).source["fps"] == parse_args([]).fps


def test_the_demo_captures_the_whole_of_vtest_unless_another_camera_is_chosen(tmp_path, monkeypatch):
    from local_device.demo import OTHER_CAMERA_FRAMES, VTEST_FRAMES, parse_args

    (tmp_path / "shots").mkdir()
    monkeypatch.chdir(tmp_path)
    assert parse_args([]).frames == VTEST_FRAMES == 795
    assert parse_args(["--camera", "shots"]).frames == OTHER_CAMERA_FRAMES
    assert parse_args(["--camera", "shots", "--frames", "7"]).frames == 7
