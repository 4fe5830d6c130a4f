"""The configuration rules of smartcam.CameraIngest beyond single values: each refusal names its key and
its reason, and the boundary value is accepted."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from camera_ingest import settings as settings_module
from camera_ingest.settings import ARTIFACT_DIR, CameraIngestConfig
from smartcam.config import ConfigError, validate_config
from smartcam.frames import FrameRing
from tests.support.config_bounds import check_number_bounds, check_size_bounds
from tests.support.config_fuzz import recipe_defaults


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


def test_the_recipe_defaults_are_the_settings_defaults():
    assert validate_config(CameraIngestConfig, recipe_defaults("CameraIngest")) == CameraIngestConfig()


def test_a_v4l2_camera_without_a_device_is_the_first_one():
    (cam,) = validate_config(CameraIngestConfig, {"cameras": [camera(source={"type": "v4l2"})]}).cameras
    assert (cam.source.device, cam.source.device_path, cam.source.index) == (0, "/dev/video0", 0)  # type: ignore[union-attr]


@pytest.mark.parametrize(("device", "index"), [(7, 7), ("/dev/video12", 12), ("/dev/video0", 0)])
def test_the_v4l2_index_is_the_number_of_the_device(device: Any, index: int):
    (cam,) = validate_config(CameraIngestConfig, v4l2(device)).cameras
    assert cam.source.index == index  # type: ignore[union-attr]


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_a_relative_path_is_in_the_artifact_folder_and_an_absolute_one_stays(kind: str):
    sources = [{"type": kind, "path": "samples/clip"}, {"type": kind, "path": "/data/clip"}]
    relative, absolute = validate_config(
        CameraIngestConfig, {"cameras": [camera(f"cam{i}", source=s) for i, s in enumerate(sources)]}).cameras
    assert relative.source.resolved == ARTIFACT_DIR / "samples" / "clip"  # type: ignore[union-attr]
    assert absolute.source.resolved == Path("/data/clip")  # type: ignore[union-attr]
    assert Path(settings_module.__file__).resolve().parent.parent == ARTIFACT_DIR


def test_a_camera_is_found_by_its_id():
    config = validate_config(CameraIngestConfig, {"cameras": [camera("door"), camera("yard")]})
    assert config.camera("yard") is config.cameras[1]
    assert config.camera("door") is config.cameras[0]
    assert config.camera("gate") is None


def test_the_ring_holds_its_megabytes_in_mebibytes():
    assert validate_config(CameraIngestConfig, {"ring": {"megabytes": 1.5}}).ring.max_bytes == 1_572_864
    assert validate_config(CameraIngestConfig, {"ring": {"megabytes": 64}}).ring.max_bytes == 64 * 1_048_576


CAMERA = {"cameras": [camera(width=640, height=480)]}
FOLDER = {"cameras": [camera()]}
FILE = {"cameras": [camera(source={"type": "file", "path": "clip.mp4"})]}


@pytest.mark.parametrize(("base", "path", "bounds"), [
    ({}, ("progressIntervalS",), {"gt": 0, "le": 3600}),
    ({}, ("healthIntervalS",), {"gt": 0, "le": 3600}),
    ({}, ("accountWithinS",), {"ge": 0, "le": 86_400}),
    ({}, ("ring", "frames"), {"ge": 1, "le": 100_000, "integer": True}),
    ({}, ("ring", "megabytes"), {"gt": 0, "le": 16_384}),
    ({}, ("limits", "maxDurationS"), {"gt": 0, "le": 86_400}),
    ({}, ("limits", "maxFrames"), {"ge": 1, "le": 1_000_000, "integer": True}),
    ({"limits": {"defaultFps": 0.001}}, ("limits", "maxFps"), {"gt": 0, "le": 240}),
    ({"limits": {"maxFps": 240}}, ("limits", "defaultFps"), {"gt": 0, "le": 240}),
    ({}, ("limits", "maxIntervalS"), {"gt": 0, "le": 86_400}),
    ({}, ("reconnect", "attempts"), {"ge": 0, "le": 100, "integer": True}),
    ({"reconnect": {"maxBackoffS": 600}}, ("reconnect", "initialBackoffS"), {"gt": 0, "le": 60}),
    ({"reconnect": {"initialBackoffS": 0.001}}, ("reconnect", "maxBackoffS"), {"gt": 0, "le": 600}),
    (CAMERA, ("cameras", 0, "width"), {"gt": 0, "le": 8192, "integer": True}),
    (CAMERA, ("cameras", 0, "height"), {"gt": 0, "le": 8192, "integer": True}),
    (CAMERA, ("cameras", 0, "jpegQuality"), {"ge": 1, "le": 100, "integer": True}),
])
def test_each_number_is_refused_just_beyond_its_bounds(base: dict[str, Any], path: tuple, bounds: dict[str, Any]):
    check_number_bounds(CameraIngestConfig, base, path, **bounds)


@pytest.mark.parametrize(("base", "kind"), [(FOLDER, "folder"), (FILE, "file")])
def test_a_replay_rate_is_refused_just_beyond_its_bounds(base: dict[str, Any], kind: str):
    check_number_bounds(CameraIngestConfig, base, ("cameras", 0, "source", "fps"), gt=0, le=240,
                        where=f"cameras/0/source/{kind}/fps")


def test_a_device_has_1_to_32_cameras():
    check_size_bounds(CameraIngestConfig, {}, ("cameras",), lambda n: [camera(f"cam{i}") for i in range(n)],
                      min_size=1, max_size=32)


def test_a_stream_url_has_8_to_2048_characters():
    check_size_bounds(CameraIngestConfig, stream("rtsp://camera.local/live"), ("cameras", 0, "source", "url"),
                      lambda n: "rtsp://" + "a" * (n - 7), min_size=8, max_size=2048,
                      where="cameras/0/source/stream/url")


@pytest.mark.parametrize(("base", "kind"), [(FOLDER, "folder"), (FILE, "file")])
def test_a_replayed_path_is_not_empty(base: dict[str, Any], kind: str):
    check_size_bounds(CameraIngestConfig, base, ("cameras", 0, "source", "path"), lambda n: "s" * n, min_size=1,
                      where=f"cameras/0/source/{kind}/path")


def test_a_camera_id_leaves_room_for_every_frame_id_of_that_camera(tmp_path):
    longest = "c" * 64
    (accepted,) = validate_config(CameraIngestConfig, {"cameras": [camera(longest)]}).cameras
    refused({"cameras": [camera(longest + "c")]}, "cameras/0/id", "String should have at most 64 characters")
    # the last frame id such a camera can make is still a valid frame reference
    ring = FrameRing(tmp_path, accepted.id, capacity=2)
    ring._sequence = 2**63 - 2  # the ring's own counter, set near its end
    ref = ring.write(np.zeros((1, 1, 3), np.uint8), captured_at=time.time(), captured_monotonic_ns=time.monotonic_ns())
    assert len(ref.frame_id) <= 128 and ref.frame_id.startswith(longest)
