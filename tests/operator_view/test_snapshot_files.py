"""Event snapshots read where EventTracker keeps them, and only there: never outside the event's own
folder, never through a symlink, never anything but a regular file of bounded size."""

from __future__ import annotations

import os

from operator_view import snapshot_files
from operator_view.snapshot_files import SnapshotFiles
from tests.operator_view.helpers import write_snapshot


def test_an_event_s_snapshot_files_are_read(snapshot_root):
    snapshot = write_snapshot(snapshot_root, "cam0.1.1")
    files = SnapshotFiles(snapshot_root)
    assert files.read("cam0.1.1", snapshot.ref.path) == snapshot.full
    assert files.read("cam0.1.1", snapshot.ref.crop_path) == snapshot.crop


def test_a_path_outside_the_event_s_folder_is_refused(snapshot_root, tmp_path):
    snapshot = write_snapshot(snapshot_root, "cam0.1.1")
    write_snapshot(snapshot_root, "cam0.1.2")
    files = SnapshotFiles(snapshot_root)
    assert files.read("cam0.1.2", snapshot.ref.path) is None  # another event's folder
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"secret")
    assert files.read("cam0.1.1", str(secret)) is None
    assert files.read("cam0.1.1", str(snapshot_root / "cam0.1.1" / ".." / ".." / "secret.jpg")) is None
    assert files.read("cam0.1.1", str(snapshot_root / "cam0.1.1" / "notes.txt")) is None


def test_a_symlink_or_a_folder_at_a_snapshot_name_is_refused(snapshot_root, tmp_path):
    write_snapshot(snapshot_root, "cam0.1.1")
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"secret")
    link = snapshot_root / "cam0.1.1" / "link.full.jpg"
    os.symlink(secret, link)
    (snapshot_root / "cam0.1.1" / "dir.full.jpg").mkdir()
    os.symlink(tmp_path, snapshot_root / "cam0.1.9")
    files = SnapshotFiles(snapshot_root)
    assert files.read("cam0.1.1", str(link)) is None
    assert files.read("cam0.1.1", str(snapshot_root / "cam0.1.1" / "dir.full.jpg")) is None
    assert files.read("cam0.1.9", str(snapshot_root / "cam0.1.9" / "secret.jpg")) is None


def test_a_snapshot_gone_or_too_large_is_none(snapshot_root, monkeypatch):
    snapshot = write_snapshot(snapshot_root, "cam0.1.1")
    files = SnapshotFiles(snapshot_root)
    monkeypatch.setattr(snapshot_files, "MAX_SNAPSHOT_BYTES", len(snapshot.full) - 1)
    assert files.read("cam0.1.1", snapshot.ref.path) is None
    os.unlink(snapshot.ref.path)
    assert files.read("cam0.1.1", snapshot.ref.path) is None
    assert files.read("cam0.7.7", str(snapshot_root / "cam0.7.7" / "x.full.jpg")) is None
