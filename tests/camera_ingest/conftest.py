from __future__ import annotations

from pathlib import Path

import pytest

from tests.camera_ingest.helpers import FakeV4l2Capture, make_folder


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "images")


@pytest.fixture
def frame_root(tmp_path: Path) -> Path:
    return tmp_path / "frames"


@pytest.fixture(autouse=True)
def _forget_fake_cameras():
    FakeV4l2Capture.instances.clear()
    yield
    FakeV4l2Capture.instances.clear()
