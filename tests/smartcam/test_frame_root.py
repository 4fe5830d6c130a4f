"""The pipeline's frame root: derived in one place, private to this user and this nucleus."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from camera_ingest.settings import CameraIngestConfig
from smartcam import frames
from smartcam.config import ConfigError, validate_config
from smartcam.frames import NUCLEUS_SOCKET_ENV, FrameRing, FrameRingError, pipeline_frame_root
from ssd_inference.settings import SsdInferenceConfig

SOCKET = "/greengrass/v2/ipc.socket"


def nucleus(socket: str = SOCKET) -> dict[str, str]:
    return {NUCLEUS_SOCKET_ENV: socket}


def test_components_of_one_nucleus_share_the_root(tmp_path: Path):
    first = pipeline_frame_root(nucleus(), base=tmp_path)
    assert pipeline_frame_root(nucleus(), base=tmp_path) == first
    assert first.parent == tmp_path


def test_two_nuclei_on_one_machine_get_two_roots(tmp_path: Path):
    lite = pipeline_frame_root(nucleus("/run/greengrass/gg-ipc.socket"), base=tmp_path)
    local = pipeline_frame_root(nucleus("/home/me/.local-greengrass/run/ipc.sock"), base=tmp_path)
    assert lite != local
    assert lite.parent == local.parent == tmp_path


def test_two_users_of_one_nucleus_get_two_roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(frames.os, "geteuid", lambda: 995)
    ggc_user = pipeline_frame_root(nucleus(), base=tmp_path)
    monkeypatch.setattr(frames.os, "geteuid", lambda: 0)
    root = pipeline_frame_root(nucleus(), base=tmp_path)
    assert ggc_user != root
    assert ggc_user.name.startswith("smartcam-frames-995-") and root.name.startswith("smartcam-frames-0-")


def test_the_process_environment_is_read_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(NUCLEUS_SOCKET_ENV, SOCKET)
    assert pipeline_frame_root(base=tmp_path) == pipeline_frame_root(nucleus(), base=tmp_path)


def test_outside_a_nucleus_there_is_no_root():
    with pytest.raises(FrameRingError, match=NUCLEUS_SOCKET_ENV):
        pipeline_frame_root({})
    with pytest.raises(FrameRingError, match="started by a Greengrass nucleus"):
        pipeline_frame_root(nucleus(""))


def test_without_dev_shm_the_root_is_in_the_temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(frames, "_SHM", tmp_path / "no-shm")
    assert pipeline_frame_root(nucleus()).parent == Path(tempfile.gettempdir())


def test_a_shm_that_is_not_a_tmpfs_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    plain = tmp_path / "shm"
    plain.mkdir()
    monkeypatch.setattr(frames, "_SHM", plain)  # a folder, but no tmpfs is mounted on it
    assert frames.frame_base() == Path(tempfile.gettempdir())


@pytest.mark.skipif(not frames._is_writable_tmpfs(Path("/dev/shm")), reason="no writable tmpfs on /dev/shm here")
def test_a_writable_dev_shm_holds_the_root():
    assert pipeline_frame_root(nucleus()).parent == Path("/dev/shm")


def test_a_root_another_user_created_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    squatter = tmp_path.stat().st_uid  # this test's real uid plays the other user
    monkeypatch.setattr(frames.os, "geteuid", lambda: squatter + 1)  # the component's user
    root = pipeline_frame_root(nucleus(), base=tmp_path)
    root.mkdir(mode=0o777)  # pre-created by the squatter at the component's derived path
    with pytest.raises(FrameRingError, match=f"belongs to uid {squatter}, not to this user"):
        FrameRing(root, "cam0", capacity=3)
    assert not (root / "cam0").exists()


@pytest.mark.parametrize("model", [CameraIngestConfig, SsdInferenceConfig])
def test_a_frame_root_setting_is_refused_as_an_unknown_key(model):
    """Migration: a deployment merge written for the old frameRoot setting fails loudly."""
    with pytest.raises(ConfigError, match="frameRoot"):
        validate_config(model, {"frameRoot": "/dev/shm/smartcam-frames"})
