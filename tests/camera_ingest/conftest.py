from __future__ import annotations

from pathlib import Path

import pytest

from camera_ingest.app import JOURNAL_ENV
from tests.camera_ingest.helpers import FakeV4l2Capture, build_app, make_folder


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


@pytest.fixture(autouse=True)
def journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the component keeps its journal, as the recipe's Setenv says (in its work folder)."""
    path = tmp_path / "work" / "journal.sqlite3"
    monkeypatch.setenv(JOURNAL_ENV, str(path))
    return path


@pytest.fixture
def started(frame_root: Path):
    """Builds and starts the component on the fake nucleus; stops every one it started at the end."""
    apps = []

    def start(configuration, **kwargs):
        app, harness = build_app(configuration, frame_root, **kwargs)
        app.start()
        apps.append(app)
        return app, harness

    yield start
    for app in apps:
        app.stop()
