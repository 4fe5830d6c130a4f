"""The configuration rules of smartcam.CameraIngest beyond single values: each refusal names its key and
its reason, and the boundary value is accepted."""

from __future__ import annotations

import re
from typing import Any

import pytest

from camera_ingest.settings import CameraIngestConfig
from smartcam.config import ConfigError, validate_config


def camera(camera_id: str = "cam0", **over: Any) -> dict[str, Any]:
    return {"id": camera_id, "source": {"type": "folder", "path": "samples"}, **over}


def v4l2(device: Any) -> dict[str, Any]:
    return {"cameras": [camera(source={"type": "v4l2", "device": device})]}


def stream(url: str) -> dict[str, Any]:
    return {"cameras": [camera(source={"type": "stream", "url": url})]}


def refused(raw: dict[str, Any], where: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=f"^invalid CameraIngestConfig: {re.escape(where)}: {re.escape(reason)}$"):
        validate_config(CameraIngestConfig, raw)


def test_camera_ids_are_unique():
    refused({"cameras": [camera("door"), camera("yard"), camera("door")]}, "cameras",
            "camera ids must be unique; repeated: door")
    config = validate_config(CameraIngestConfig, {"cameras": [camera("door"), camera("yard")]})
    assert [c.id for c in config.cameras] == ["door", "yard"]


def test_the_default_rate_is_at_most_the_highest_rate():
    refused({"limits": {"defaultFps": 30.5, "maxFps": 30}}, "limits", "defaultFps must not exceed maxFps")
    limits = validate_config(CameraIngestConfig, {"limits": {"defaultFps": 30, "maxFps": 30}}).limits
    assert (limits.default_fps, limits.max_fps) == (30, 30)


@pytest.mark.parametrize("size", [{"width": 640}, {"height": 480}])
def test_width_and_height_are_set_together(size: dict[str, int]):
    refused({"cameras": [camera(**size)]}, "cameras/0", "set both width and height, or neither")


@pytest.mark.parametrize("size", [{"width": 640, "height": 480}, {}])
def test_both_or_neither_size_is_accepted(size: dict[str, int]):
    (cam,) = validate_config(CameraIngestConfig, {"cameras": [camera(**size)]}).cameras
    assert (cam.width, cam.height) == (size.get("width"), size.get("height"))


@pytest.mark.parametrize("url", ["ftp://camera.local/live", "file:///dev/video0", "rtmp://camera.local/live",
                                 "camera.local:554/live"])
def test_a_stream_url_of_another_scheme_is_refused(url: str):
    refused(stream(url), "cameras/0/source/stream/url",
            "stream url must start with one of rtsp://, rtsps://, http://, https://")


@pytest.mark.parametrize("url", ["rtsp://camera.local/live", "rtsps://camera.local/live", "http://camera.local/mjpg",
                                 "https://camera.local/mjpg", "RTSP://CAMERA.LOCAL/LIVE"])
def test_a_stream_url_of_each_scheme_is_accepted(url: str):
    (cam,) = validate_config(CameraIngestConfig, stream(url)).cameras
    assert cam.source.url == url  # type: ignore[union-attr]


@pytest.mark.parametrize("device", [-1, 256, 1000])
def test_a_v4l2_index_outside_0_to_255_is_refused(device: int):
    refused(v4l2(device), "cameras/0/source/v4l2/device", "a device index is 0..255")


@pytest.mark.parametrize("device", ["/dev/video1000", "/dev/sda", "/dev/video", "video0", "/dev/video0/../sda"])
def test_a_device_path_other_than_dev_video_n_is_refused(device: str):
    refused(v4l2(device), "cameras/0/source/v4l2/device", "must be an index or a path like /dev/video0")


@pytest.mark.parametrize(("device", "path"), [(0, "/dev/video0"), (255, "/dev/video255"),
                                              ("/dev/video999", "/dev/video999")])
def test_the_v4l2_boundaries_are_accepted(device: Any, path: str):
    (cam,) = validate_config(CameraIngestConfig, v4l2(device)).cameras
    assert cam.source.device_path == path  # type: ignore[union-attr]


def test_the_first_reconnect_wait_is_at_most_the_longest():
    refused({"reconnect": {"initialBackoffS": 10.5, "maxBackoffS": 10}}, "reconnect",
            "initialBackoffS must not exceed maxBackoffS")
    reconnect = validate_config(CameraIngestConfig, {"reconnect": {"initialBackoffS": 10, "maxBackoffS": 10}}).reconnect
    assert (reconnect.initial_backoff_s, reconnect.max_backoff_s) == (10, 10)
