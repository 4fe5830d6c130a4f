"""Snapshot copies: only JPEG files below EventTracker's folder, of the size the event gives; the S3 keys."""

import os

import pytest

from dynamo_writer.snapshots import SnapshotCopier, SnapshotUnreadable, snapshot_keys
from tests.dynamo_writer.helpers import jpeg, snapshot


@pytest.fixture
def source(tmp_path):
    folder = tmp_path / "tracker"
    folder.mkdir()
    return folder


@pytest.fixture
def copier(tmp_path, source):
    return SnapshotCopier(source, tmp_path / "writer" / "snapshots")


def test_both_pictures_are_copied_into_the_writers_folder(copier, source):
    ref = snapshot(source, "cam1-e1", "cam1-000007")
    copied = copier.copy("cam1-e1", ref)
    assert copied.full.read_bytes() == (source / "cam1-e1" / "full.jpg").read_bytes()
    assert copied.crop.read_bytes() == (source / "cam1-e1" / "crop.jpg").read_bytes()
    assert copied.bytes == ref.bytes
    assert copied.full.parent == copier.folder / "cam1-e1"
    # EventTracker may delete its own once receipted: the copies stay.
    for name in ("full.jpg", "crop.jpg"):
        (source / "cam1-e1" / name).unlink()
    assert copier.files() == {copied.full, copied.crop}
    assert not [p for p in copier.folder.rglob("*") if p.name.endswith(".partial")]
    copier.remove([copied.full, copied.crop])
    assert copier.files() == set() and not (copier.folder / "cam1-e1").exists()


def test_a_missing_picture_is_unreadable_with_the_reason(copier, source):
    ref = snapshot(source, "e")
    (source / "e" / "crop.jpg").unlink()
    with pytest.raises(SnapshotUnreadable, match=r"crop\.jpg is missing"):
        copier.copy("e", ref)
    assert copier.files() == set()


def test_nothing_outside_the_snapshot_folder_is_read(copier, source, tmp_path):
    outside = tmp_path / "secret"
    outside.mkdir()
    ref = snapshot(outside, "e")
    with pytest.raises(SnapshotUnreadable, match="not in the snapshot folder"):
        copier.copy("e", ref)
    dotted = ref.model_copy(update={"path": f"{source}/../secret/e/full.jpg"})
    with pytest.raises(SnapshotUnreadable, match="not in the snapshot folder"):
        copier.copy("e", dotted)


def test_a_symbolic_link_is_not_followed(copier, source, tmp_path):
    ref = snapshot(source, "e")
    target = tmp_path / "elsewhere.jpg"
    target.write_bytes((source / "e" / "full.jpg").read_bytes())
    (source / "e" / "full.jpg").unlink()
    os.symlink(target, source / "e" / "full.jpg")
    with pytest.raises(SnapshotUnreadable):
        copier.copy("e", ref)


def test_only_jpeg_files_of_the_size_the_event_gives_are_taken(copier, source):
    ref = snapshot(source, "e")
    (source / "e" / "crop.jpg").write_bytes(jpeg(20, 20, seed=9))  # replaced by another picture
    with pytest.raises(SnapshotUnreadable, match="not the ones it describes"):
        copier.copy("e", ref)
    text = b"not a picture"
    (source / "e" / "crop.jpg").write_bytes(text)
    with pytest.raises(SnapshotUnreadable, match="not a JPEG"):
        copier.copy("e", ref.model_copy(update={"bytes": len((source / "e" / "full.jpg").read_bytes()) + len(text)}))
    (source / "e" / "crop.jpg").unlink()
    (source / "e" / "crop.jpg").mkdir()
    with pytest.raises(SnapshotUnreadable):
        copier.copy("e", ref)


def test_the_keys_follow_the_event_and_its_first_day():
    first_seen = 1_767_225_599.5  # 2025-12-31 23:59:59.5 UTC
    assert snapshot_keys("snapshots", "thing-1", "cam0", first_seen, "cam0-e9") == (
        "snapshots/thing-1/cam0/2025/12/31/cam0-e9/full.jpg", "snapshots/thing-1/cam0/2025/12/31/cam0-e9/crop.jpg")
