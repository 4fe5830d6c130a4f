"""Every source type behind the one interface: real video files, real image folders, a real HTTP
stream from a local server, and V4L2 through a cv2.VideoCapture test double (no /dev/video here)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from camera_ingest.settings import CameraSettings
from camera_ingest.sources import (
    FolderImageSource,
    OpenCvSource,
    SourceDisconnected,
    SourceEnded,
    SourceUnavailable,
    open_source,
)
from tests.camera_ingest.helpers import FakeV4l2Capture, make_folder, make_video


def camera(source: dict, **over) -> CameraSettings:
    return CameraSettings.model_validate({"id": "cam0", "source": source, **over})


def grab_n(source, n: int) -> list[np.ndarray]:
    images = []
    for _ in range(n):
        source.grab()
        image = source.retrieve()
        assert image is not None
        images.append(image)
    return images


def test_video_file_frames_are_real_and_loop(tmp_path: Path):
    video = make_video(tmp_path / "clip.avi", count=6, size=(160, 120), fps=200)
    source = open_source(camera({"type": "file", "path": str(video)}))
    assert isinstance(source, OpenCvSource) and not source.live
    source.open()
    try:
        images = grab_n(source, 9)  # past the end: loops
    finally:
        source.close()
    assert all(img.shape == (120, 160, 3) for img in images)
    assert not np.array_equal(images[0], images[1])  # the pan moves
    assert np.abs(images[0].astype(int) - images[6].astype(int)).mean() < 3  # looped to frame 0


def test_video_file_without_loop_ends(tmp_path: Path):
    video = make_video(tmp_path / "clip.avi", count=3, size=(64, 48), fps=200)
    source = open_source(camera({"type": "file", "path": str(video)}, loop=False))
    source.open()
    grab_n(source, 3)
    with pytest.raises(SourceEnded, match="end of"):
        source.grab()
    source.close()


def test_missing_video_file_is_a_clear_error(tmp_path: Path):
    source = open_source(camera({"type": "file", "path": str(tmp_path / "nope.avi")}))
    with pytest.raises(SourceUnavailable, match="does not exist"):
        source.open()


def test_relative_paths_resolve_against_the_artifact_folder():
    cam = camera({"type": "folder", "path": "samples"})
    assert cam.source.resolved.name == "samples"
    assert (cam.source.resolved / "frame-000.jpg").is_file()  # the samples shipped with the component


def test_image_folder_in_name_order_and_unreadable_files_skipped(tmp_path: Path):
    folder = make_folder(tmp_path / "imgs", count=3, size=(80, 60))
    (folder / "img-001b.jpg").write_bytes(b"not an image")
    (folder / "notes.txt").write_text("ignored")
    source = open_source(camera({"type": "folder", "path": str(folder), "fps": 240}, loop=False))
    assert isinstance(source, FolderImageSource)
    source.open()
    got = []
    for _ in range(4):
        source.grab()
        got.append(source.retrieve())
    with pytest.raises(SourceEnded):
        source.grab()
    assert [img is None for img in got] == [False, False, True, False]
    expected = cv2.imread(str(folder / "img-002.jpg"))
    assert np.array_equal(got[3], expected)


def count_decodes(monkeypatch) -> list[str]:
    """The names of the files the sources decode from now on, in order."""
    decoded: list[str] = []
    real_imread = cv2.imread

    def counting_imread(path: str, flags: int = cv2.IMREAD_COLOR):
        decoded.append(Path(path).name)
        return real_imread(path, flags)

    monkeypatch.setattr("camera_ingest.sources.cv2.imread", counting_imread)
    return decoded


def test_a_looping_folder_decodes_each_image_once_and_again_when_its_file_changes(tmp_path: Path, monkeypatch):
    folder = make_folder(tmp_path / "imgs", count=2, size=(80, 60))
    real_imread = cv2.imread
    decoded = count_decodes(monkeypatch)
    source = open_source(camera({"type": "folder", "path": str(folder), "fps": 240}, loop=True))
    source.open()
    first = grab_n(source, 6)
    assert decoded == ["img-000.jpg", "img-001.jpg"]
    assert first[2] is first[0] and first[3] is first[1]
    with pytest.raises(ValueError):  # a stage that drew on a replayed frame would alter the replay
        first[0][0, 0] = 0

    replacement = np.full((60, 80, 3), 200, np.uint8)
    cv2.imwrite(str(folder / "img-001.jpg"), replacement)
    again = grab_n(source, 2)
    assert decoded[-1] == "img-001.jpg" and len(decoded) == 3
    assert np.array_equal(again[1], real_imread(str(folder / "img-001.jpg")))

    source.close()
    source.open()
    grab_n(source, 1)
    assert len(decoded) == 4  # a new start reads the folder afresh


def test_a_folder_too_large_to_keep_decoded_is_decoded_on_every_pass(tmp_path: Path, monkeypatch):
    folder = make_folder(tmp_path / "imgs", count=3, size=(80, 60))
    monkeypatch.setattr("camera_ingest.sources.FOLDER_DECODED_CACHE_BYTES", 80 * 60 * 3 * 2)
    decoded = count_decodes(monkeypatch)
    source = open_source(camera({"type": "folder", "path": str(folder), "fps": 240}, loop=True))
    source.open()
    images = grab_n(source, 6)
    assert decoded == ["img-000.jpg", "img-001.jpg", "img-002.jpg", "img-002.jpg"]
    assert np.array_equal(images[2], images[5])


def test_a_folder_image_deleted_during_a_replay_is_skipped(tmp_path: Path):
    folder = make_folder(tmp_path / "imgs", count=2, size=(80, 60))
    source = open_source(camera({"type": "folder", "path": str(folder), "fps": 240}, loop=True))
    source.open()
    grab_n(source, 2)
    (folder / "img-000.jpg").unlink()
    source.grab()
    assert source.retrieve() is None
    source.grab()
    assert source.retrieve() is not None


def test_empty_or_missing_folder_is_unavailable(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceUnavailable, match="no images"):
        open_source(camera({"type": "folder", "path": str(tmp_path / "empty")})).open()
    with pytest.raises(SourceUnavailable, match="does not exist"):
        open_source(camera({"type": "folder", "path": str(tmp_path / "missing")})).open()


def test_v4l2_through_a_capture_double():
    cam = camera({"type": "v4l2", "device": "/dev/video2", "fourcc": "MJPG"}, width=320, height=240)
    source = OpenCvSource(cam, video_capture=FakeV4l2Capture, device_exists=lambda path: path == "/dev/video2")
    assert source.live
    source.open()
    images = grab_n(source, 3)
    source.close()
    fake = FakeV4l2Capture.instances[-1]
    assert fake.args == (2, cv2.CAP_V4L2)
    assert fake.props[cv2.CAP_PROP_FRAME_WIDTH] == 320 and fake.props[cv2.CAP_PROP_FRAME_HEIGHT] == 240
    assert fake.props[cv2.CAP_PROP_FOURCC] == cv2.VideoWriter_fourcc(*"MJPG")
    assert fake.released and len(images) == 3


def test_v4l2_missing_busy_and_unplugged():
    missing = OpenCvSource(camera({"type": "v4l2", "device": 7}), video_capture=FakeV4l2Capture,
                           device_exists=lambda path: False)
    with pytest.raises(SourceUnavailable, match="/dev/video7 does not exist"):
        missing.open()
    busy = OpenCvSource(camera({"type": "v4l2", "device": 0}),
                        video_capture=functools.partial(FakeV4l2Capture, opens=False), device_exists=lambda p: True)
    with pytest.raises(SourceUnavailable, match="video' group"):
        busy.open()
    unplugged = OpenCvSource(camera({"type": "v4l2", "device": 0}),
                             video_capture=functools.partial(FakeV4l2Capture, fail_after=2),
                             device_exists=lambda p: True)
    unplugged.open()
    grab_n(unplugged, 2)
    with pytest.raises(SourceDisconnected, match="stopped delivering"):
        unplugged.grab()


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", tmp_path
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_http_stream_from_a_local_server(http_server):
    base, folder = http_server
    make_video(folder / "live.avi", count=5, size=(96, 72))
    source = open_source(camera({"type": "stream", "url": f"{base}/live.avi"}))
    assert source.live
    source.open()
    images = grab_n(source, 5)
    assert images[0].shape == (72, 96, 3)
    with pytest.raises(SourceDisconnected):  # a live stream that ends is a disconnect, not a loop
        source.grab()
    source.close()


def test_unreachable_stream_is_unavailable_and_credentials_are_redacted(http_server):
    base, _ = http_server
    url = base.replace("http://", "http://user:secret@") + "/missing.avi"
    source = open_source(camera({"type": "stream", "url": url}))
    with pytest.raises(SourceUnavailable) as info:
        source.open()
    assert "secret" not in str(info.value) and "***@" in str(info.value)


class SteppedClock:
    """A monotonic clock that moves only when someone sleeps (or the test advances it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds


def test_a_folder_camera_delivers_every_image_in_order_at_its_rate_after_every_start(tmp_path: Path):
    folder = make_folder(tmp_path / "imgs", count=6, size=(80, 60))
    clock = SteppedClock()
    source = FolderImageSource(camera({"type": "folder", "path": str(folder), "fps": 10}, loop=False),
                               clock=clock, sleep=clock.sleep)
    expected = [cv2.imread(str(path)) for path in sorted(folder.iterdir())]
    for _start in range(2):
        source.open()
        start = clock.now
        times, images = [], []
        for _ in range(6):
            source.grab()
            times.append(round(clock.now - start, 6))
            images.append(source.retrieve())
        with pytest.raises(SourceEnded):
            source.grab()
        assert times == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]  # not two frames back to back after open()
        assert all(np.array_equal(got, want) for got, want in zip(images, expected, strict=True))
        source.close()
        clock.now += 5.0


def test_a_replay_consumer_a_little_late_keeps_the_rate_and_one_far_behind_gets_no_burst():
    from camera_ingest.sources import _Pacer

    clock = SteppedClock()
    pacer = _Pacer(10, clock=clock, sleep=clock.sleep)
    delivered = []
    for busy in (0.0, 0.0, 0.13, 0.0, 0.35, 0.0, 0.0):  # what the consumer did since the last frame
        clock.now += busy
        pacer.wait()
        delivered.append(round(clock.now - 1000.0, 6))
    # 0.23 was 0.03 late and 0.3 still came on time; 0.65 was 0.25 behind: the next is 0.1 after it.
    assert delivered == [0.0, 0.1, 0.23, 0.3, 0.65, 0.75, 0.85]
