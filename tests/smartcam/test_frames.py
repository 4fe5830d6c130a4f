"""smartcam.frames: the derived root's name, the tmpfs check, the private folders and private files.

The ring itself (slots, the seqlock, the reader's refusals) is in test_frames_ring.py, and a reader
racing a writer in another process in test_frames_concurrent.py.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import re
import stat
from pathlib import Path

import pytest

from smartcam import frames
from smartcam.frames import (
    DIR_MODE,
    FILE_MODE,
    NUCLEUS_SOCKET_ENV,
    FrameRing,
    FrameRingError,
    pipeline_frame_root,
    write_private_file,
)


def jpeg(i: int, size: int = 100) -> bytes:
    return f"jpeg-{i:05d}-".encode().ljust(size, b"x")


def mode(path: Path | str) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


# --- the root ------------------------------------------------------------------------------------------

def test_the_root_is_named_for_the_user_and_a_16_digit_digest_of_the_socket(tmp_path: Path):
    socket_path = "/greengrass/v2/ipc.socket"
    root = pipeline_frame_root({NUCLEUS_SOCKET_ENV: socket_path}, base=tmp_path)
    assert root.parent == tmp_path
    match = re.fullmatch(r"smartcam-frames-(\d+)-([0-9a-f]+)", root.name)
    assert match is not None
    assert int(match[1]) == os.geteuid()
    assert len(match[2]) == 16 and hashlib.sha256(socket_path.encode()).hexdigest().startswith(match[2])


def test_an_empty_socket_variable_is_no_nucleus(tmp_path: Path):
    with pytest.raises(FrameRingError, match=f"{NUCLEUS_SOCKET_ENV} is not set"):
        pipeline_frame_root({NUCLEUS_SOCKET_ENV: ""}, base=tmp_path)


def test_given_variables_are_read_instead_of_the_process_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(NUCLEUS_SOCKET_ENV, "/one/ipc.socket")
    assert pipeline_frame_root({NUCLEUS_SOCKET_ENV: "/two/ipc.socket"}, base=tmp_path) != pipeline_frame_root(
        base=tmp_path)
    with pytest.raises(FrameRingError):
        pipeline_frame_root({}, base=tmp_path)


def test_the_variables_may_be_named_and_the_base_must_be(tmp_path: Path):
    nucleus = {NUCLEUS_SOCKET_ENV: "/greengrass/v2/ipc.socket"}
    assert pipeline_frame_root(environ=nucleus, base=tmp_path) == pipeline_frame_root(nucleus, base=tmp_path)
    with pytest.raises(TypeError):
        pipeline_frame_root(nucleus, tmp_path)  # type: ignore[misc]


def mounts(monkeypatch: pytest.MonkeyPatch, text: str | None) -> None:
    """What /proc/mounts says (None: it cannot be read)."""
    def fake_open(path: str, *args: object, **kwargs: object) -> io.StringIO:
        assert path == "/proc/mounts"
        if text is None:
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return io.StringIO(text)

    monkeypatch.setattr(frames, "open", fake_open, raising=False)


def test_a_folder_with_a_tmpfs_mounted_on_it_is_a_tmpfs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # lines too short to name a mount type are skipped, even one naming the folder
    mounts(monkeypatch, f"sysfs /sys sysfs rw 0 0\nbroken\nnone {tmp_path}\ntmpfs {tmp_path} tmpfs rw,nosuid 0 0\n")
    assert frames._is_writable_tmpfs(tmp_path) is True


def test_three_fields_are_enough_to_read_a_mount(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    mounts(monkeypatch, f"tmpfs {tmp_path} tmpfs\n")
    assert frames._is_writable_tmpfs(tmp_path) is True


@pytest.mark.parametrize("line", ["tmpfs {path} ext4 rw 0 0", "tmpfs {path}/sub tmpfs rw 0 0",
                                  "{path} tmpfs tmpfs rw 0 0", "tmpfs /elsewhere tmpfs rw 0 0", ""])
def test_a_folder_without_a_tmpfs_mounted_on_it_is_not_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line):
    mounts(monkeypatch, line.format(path=tmp_path) + "\n")
    assert frames._is_writable_tmpfs(tmp_path) is False


def test_unreadable_mounts_mean_no_tmpfs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    mounts(monkeypatch, None)
    assert frames._is_writable_tmpfs(tmp_path) is False


def test_a_tmpfs_this_user_cannot_write_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    mounts(monkeypatch, f"tmpfs {tmp_path} tmpfs rw 0 0\n")
    monkeypatch.setattr(frames.os, "access", lambda path, how: how & os.W_OK == 0)  # read-only for us
    assert frames._is_writable_tmpfs(tmp_path) is False


def test_a_tmpfs_this_user_cannot_enter_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    mounts(monkeypatch, f"tmpfs {tmp_path} tmpfs rw 0 0\n")
    monkeypatch.setattr(frames.os, "access", lambda path, how: how & os.X_OK == 0)
    assert frames._is_writable_tmpfs(tmp_path) is False


def test_a_file_with_a_tmpfs_mounted_on_it_is_not_a_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    file = tmp_path / "shm"
    file.write_bytes(b"")
    mounts(monkeypatch, f"tmpfs {file} tmpfs rw 0 0\n")
    assert frames._is_writable_tmpfs(file) is False


def test_a_writable_tmpfs_is_the_base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    mounts(monkeypatch, f"tmpfs {tmp_path} tmpfs rw 0 0\n")
    monkeypatch.setattr(frames, "_SHM", tmp_path)
    assert frames.frame_base() == tmp_path
    assert pipeline_frame_root({NUCLEUS_SOCKET_ENV: "/s"}).parent == tmp_path


# --- folders -------------------------------------------------------------------------------------------

def test_the_modes_are_0750_and_0640():
    assert (DIR_MODE, FILE_MODE) == (0o750, 0o640)


def test_missing_parents_of_the_root_are_made(tmp_path: Path):
    ring = FrameRing(tmp_path / "a" / "b" / "frames", "cam0", capacity=2)
    assert ring.directory == tmp_path / "a" / "b" / "frames" / "cam0" and ring.directory.is_dir()


def test_a_folder_of_ours_with_other_modes_is_made_private(tmp_path: Path):
    root = tmp_path / "frames"
    (root / "cam0").mkdir(parents=True)
    os.chmod(root, 0o777)
    os.chmod(root / "cam0", 0o700)
    FrameRing(root, "cam0", capacity=2)
    assert (mode(root), mode(root / "cam0")) == (0o750, 0o750)


def test_a_second_ring_on_the_same_folders_opens_them(tmp_path: Path):
    first = FrameRing(tmp_path / "frames", "cam0", capacity=3)
    second = FrameRing(tmp_path / "frames", "cam1", capacity=3)
    again = FrameRing(tmp_path / "frames", "cam0", capacity=3)
    assert first.directory == again.directory != second.directory


def test_a_symlinked_root_is_refused(tmp_path: Path):
    (tmp_path / "real").mkdir()
    (tmp_path / "frames").symlink_to(tmp_path / "real")
    with pytest.raises(FrameRingError, match="is not a plain folder"):
        FrameRing(tmp_path / "frames", "cam0", capacity=2)
    assert not (tmp_path / "real" / "cam0").exists()


def test_a_frame_folder_swapped_for_a_file_once_made_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """What another user racing us in /dev/shm could leave between making the folder and checking it."""
    real_lstat = os.lstat
    folder = tmp_path / "frames"

    def swapped(path: os.PathLike[str] | str) -> os.stat_result:
        info = list(real_lstat(path))
        if Path(path) == folder:
            info[stat.ST_MODE] = stat.S_IFREG | 0o640
        return os.stat_result(info)

    monkeypatch.setattr(frames.os, "lstat", swapped)
    with pytest.raises(FrameRingError, match="is not a plain folder"):
        frames.ensure_private_dir(folder)


# --- writing a private file ----------------------------------------------------------------------------

def test_a_private_file_is_written_whole_with_mode_0640(tmp_path: Path):
    old_umask = os.umask(0o077)
    try:
        write_private_file(tmp_path / "copy.jpg", jpeg(0, size=5000))
    finally:
        os.umask(old_umask)
    assert (tmp_path / "copy.jpg").read_bytes() == jpeg(0, size=5000)
    assert mode(tmp_path / "copy.jpg") == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["copy.jpg"]


def test_a_private_file_replaces_the_old_one(tmp_path: Path):
    write_private_file(tmp_path / "copy.jpg", b"old")
    write_private_file(tmp_path / "copy.jpg", b"new")
    assert (tmp_path / "copy.jpg").read_bytes() == b"new"


def test_a_left_over_temporary_file_blocks_the_write_and_is_kept(tmp_path: Path):
    (tmp_path / ".tmp-copy.jpg").write_bytes(b"half")
    with pytest.raises(FileExistsError):
        write_private_file(tmp_path / "copy.jpg", b"data")
    assert (tmp_path / ".tmp-copy.jpg").read_bytes() == b"half" and not (tmp_path / "copy.jpg").exists()


def test_a_symlink_at_the_temporary_name_is_never_followed(tmp_path: Path):
    target = tmp_path / "target"
    target.write_bytes(b"keep")
    (tmp_path / ".tmp-copy.jpg").symlink_to(target)
    with pytest.raises(FileExistsError):
        write_private_file(tmp_path / "copy.jpg", b"data")
    assert target.read_bytes() == b"keep"


def test_a_failed_write_raises_its_cause_even_when_the_temporary_file_is_already_gone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def vanish_then_fail(fd: int, data: bytes) -> int:
        (tmp_path / ".tmp-copy.jpg").unlink()  # e.g. a restarting ring cleared its folder's temporary files
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(frames.os, "write", vanish_then_fail)
    with pytest.raises(OSError) as failed:
        write_private_file(tmp_path / "copy.jpg", b"data")
    assert failed.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []


def test_a_short_write_is_continued(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    real_write = os.write
    monkeypatch.setattr(frames.os, "write", lambda fd, data: real_write(fd, bytes(data[:3])))
    write_private_file(tmp_path / "copy.jpg", b"0123456789")
    monkeypatch.undo()
    assert (tmp_path / "copy.jpg").read_bytes() == b"0123456789"
