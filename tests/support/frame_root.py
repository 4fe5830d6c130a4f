"""A nucleus environment whose derived frame root lands in a test's own folder, for tests that run a
component as the nucleus starts it (no ``frame_root`` injected)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from smartcam import frames
from smartcam.frames import NUCLEUS_SOCKET_ENV, pipeline_frame_root


def nucleus_frame_root(monkeypatch: pytest.MonkeyPatch, folder: Path) -> Path:
    """Start-up environment of a nucleus whose socket is in ``folder``, with no tmpfs on /dev/shm and
    ``folder`` as the temp dir; returns the frame root every component then derives."""
    monkeypatch.setenv(NUCLEUS_SOCKET_ENV, str(folder / "ipc.socket"))
    monkeypatch.setattr(frames, "_SHM", folder / "no-shm")
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    root = pipeline_frame_root()
    assert root.parent == folder
    return root
