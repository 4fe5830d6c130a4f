"""smartcam.frames: the ring's paths, bounds, permissions and what a reader gets back.

tests/camera_ingest/test_frames.py covers the ring as CameraIngest uses it; these pin the rest of the
module's promises: the derived root's name, the tmpfs check, restarts, recycling that meets a file
already gone, the private folders, and the reader's refusals.
"""

from __future__ import annotations

import errno
import hashlib
import io
import logging
import os
import re
import socket
import stat
import warnings
from pathlib import Path

import pytest

from smartcam import frames
from smartcam.contracts import FrameRef
from smartcam.frames import (
    DIR_MODE,
    FILE_MODE,
    MAX_FRAME_BYTES,
    NUCLEUS_SOCKET_ENV,
    FrameExpired,
    FrameOutsideRoot,
    FrameRing,
    FrameRingError,
    FrameTooLarge,
    frame_file_name,
    pipeline_frame_root,
    read_frame,
    write_private_file,
)

AT = 1764900000.5


def write(ring: FrameRing, data: bytes, **extra: object) -> FrameRef:
    return ring.write(data, width=4, height=3, captured_at=AT, captured_monotonic_ns=7, **extra)  # type: ignore[arg-type]


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


# --- the ring's bounds ---------------------------------------------------------------------------------

@pytest.mark.parametrize("capacity", [0, -1])
def test_a_ring_holds_at_least_one_frame(tmp_path: Path, capacity: int):
    with pytest.raises(ValueError, match="at least one frame"):
        FrameRing(tmp_path, "cam0", capacity=capacity)


@pytest.mark.parametrize("max_bytes", [0, -1])
def test_a_byte_bound_is_positive(tmp_path: Path, max_bytes: int):
    with pytest.raises(ValueError, match="max_bytes must be positive"):
        FrameRing(tmp_path, "cam0", capacity=2, max_bytes=max_bytes)


def test_a_ring_of_one_frame_keeps_the_newest(tmp_path: Path):
    ring = FrameRing(tmp_path, "cam0", capacity=1)
    first = write(ring, jpeg(0))
    second = write(ring, jpeg(1))
    assert (len(ring), ring.recycled, ring.total_bytes) == (1, 1, 100)
    assert read_frame(second, tmp_path) == jpeg(1)
    with pytest.raises(FrameExpired):
        read_frame(first, tmp_path)


def test_a_one_byte_bound_keeps_the_newest_frame(tmp_path: Path):
    ring = FrameRing(tmp_path, "cam0", capacity=5, max_bytes=1)
    write(ring, b"a")
    assert (len(ring), ring.total_bytes, ring.recycled) == (1, 1, 0)
    newest = write(ring, b"bc")
    assert (len(ring), ring.total_bytes, ring.recycled) == (1, 2, 1)
    assert read_frame(newest, tmp_path) == b"bc"


def test_the_ring_counts_its_bytes_and_recycled_frames(tmp_path: Path):
    ring = FrameRing(tmp_path, "cam0", capacity=2)
    assert (len(ring), ring.total_bytes, ring.recycled) == (0, 0, 0)
    for size in (10, 20, 30, 40):
        write(ring, b"x" * size)
    assert (len(ring), ring.total_bytes, ring.recycled) == (2, 70, 2)


def test_a_frame_reference_says_what_was_written(tmp_path: Path):
    ring = FrameRing(tmp_path, "cam0", capacity=3)
    ref = ring.write(jpeg(0), width=640, height=480, captured_at=AT, captured_monotonic_ns=99, request_id="req-1",
                     gate="motion", motion=[(0.1, 0.2, 0.3, 0.4)])
    assert (ref.camera_id, ref.width, ref.height, ref.captured_at, ref.captured_monotonic_ns, ref.request_id,
            ref.gate, ref.motion) == ("cam0", 640, 480, AT, 99, "req-1", "motion", [(0.1, 0.2, 0.3, 0.4)])
    assert ref.path == str(tmp_path / "cam0" / frame_file_name(0, ref.frame_id))
    assert re.fullmatch(r"cam0-[0-9a-f]{8}-0", ref.frame_id)
    assert Path(ref.path).name == f"000000000000-{ref.frame_id}.jpg"
    assert read_frame(ref, tmp_path) == jpeg(0)


def test_the_jpeg_may_be_named_and_what_describes_it_must_be(tmp_path: Path):
    ring = FrameRing(tmp_path, "cam0", capacity=3)
    ref = ring.write(jpeg=jpeg(0), width=4, height=3, captured_at=AT, captured_monotonic_ns=7)
    assert read_frame(ref, tmp_path) == jpeg(0)
    with pytest.raises(TypeError):
        ring.write(jpeg(1), 4, 3, AT, 7)  # type: ignore[misc]
    assert len(ring) == 1


def test_two_rings_of_one_camera_never_name_a_frame_alike(tmp_path: Path):
    first = write(FrameRing(tmp_path / "a", "cam0", capacity=2), jpeg(0))
    second = write(FrameRing(tmp_path / "b", "cam0", capacity=2), jpeg(0))
    assert first.sequence == second.sequence == 0 and first.frame_id != second.frame_id


# --- restarts ------------------------------------------------------------------------------------------

def test_a_restart_adopts_the_frames_left_oldest_first_and_goes_on_after_the_newest(tmp_path: Path):
    first = FrameRing(tmp_path, "cam0", capacity=20)
    refs = [write(first, jpeg(i, size=10 + i)) for i in range(10)]
    folder = tmp_path / "cam0"
    for i in range(10):  # writes a crash interrupted, among the frames
        (folder / f".tmp-{i:012d}-cam0-x-{i}.jpg").write_bytes(b"half")
    (folder / "notes.txt").write_bytes(b"not a frame")
    (folder / "000000000099-cam0-dir-99.jpg").mkdir()  # a frame's name, but a folder
    second = FrameRing(tmp_path, "cam0", capacity=4)  # a smaller ring now: the six oldest go
    assert (len(second), second.recycled, second.total_bytes) == (4, 6, 16 + 17 + 18 + 19)
    assert not [p for p in folder.iterdir() if p.name.startswith(".tmp-")]
    assert (folder / "notes.txt").exists() and (folder / "000000000099-cam0-dir-99.jpg").is_dir()
    for ref in refs[:6]:
        with pytest.raises(FrameExpired):
            read_frame(ref, tmp_path)
    assert [read_frame(ref, tmp_path) for ref in refs[6:]] == [jpeg(i, size=10 + i) for i in range(6, 10)]
    assert write(second, jpeg(10)).sequence == 10


def test_a_restart_goes_on_after_the_highest_sequence_whatever_the_names_order(tmp_path: Path):
    folder = tmp_path / "cam0"
    folder.mkdir()
    for sequence, frame_id in [(7, "a-7"), (30, "b-30"), (12, "c-12"), (3, "z-3")]:
        (folder / frame_file_name(sequence, frame_id)).write_bytes(b"f" * sequence)
    ring = FrameRing(tmp_path, "cam0", capacity=10)
    assert (len(ring), ring.total_bytes) == (4, 52)
    newest = write(ring, jpeg(0))
    assert newest.sequence == 31
    ring_of_two = FrameRing(tmp_path, "cam0", capacity=2)  # keeps the two newest by sequence
    assert sorted(p.name for p in folder.iterdir()) == [frame_file_name(30, "b-30"), Path(newest.path).name]
    assert (ring_of_two.recycled, ring_of_two.total_bytes) == (3, 130)


def test_a_temporary_file_gone_before_the_ring_removes_it_is_no_problem(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    folder = tmp_path / "cam0"
    folder.mkdir()
    (folder / frame_file_name(4, "a-4")).write_bytes(b"frame")
    real_iterdir = Path.iterdir

    def listing_a_vanished_file(path: Path):  # another process removed it after the folder was listed
        yield path / ".tmp-000000000005-a-5.jpg"
        yield from real_iterdir(path)

    monkeypatch.setattr(Path, "iterdir", listing_a_vanished_file)
    ring = FrameRing(tmp_path, "cam0", capacity=3)
    monkeypatch.undo()
    assert (len(ring), ring.total_bytes, write(ring, jpeg(0)).sequence) == (1, 5, 5)


def test_an_empty_folder_starts_at_sequence_0(tmp_path: Path):
    (tmp_path / "cam0").mkdir()
    assert write(FrameRing(tmp_path, "cam0", capacity=2), jpeg(0)).sequence == 0


# --- recycling -----------------------------------------------------------------------------------------

def test_a_recycled_frame_already_gone_is_no_problem(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    ring = FrameRing(tmp_path, "cam0", capacity=1)
    first = write(ring, jpeg(0))
    Path(first.path).unlink()  # someone cleaned up the tmpfs
    with caplog.at_level(logging.DEBUG, logger="smartcam.frames"):
        second = write(ring, jpeg(1))
    assert caplog.records == []
    assert (len(ring), ring.recycled, read_frame(second, tmp_path)) == (1, 1, jpeg(1))


def test_a_recycled_frame_that_cannot_be_deleted_is_logged_and_the_write_stands(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture):
    ring = FrameRing(tmp_path, "cam0", capacity=1)
    first = write(ring, jpeg(0))
    real_unlink = Path.unlink

    def refuse(path: Path, missing_ok: bool = False) -> None:
        if str(path) == first.path:
            raise PermissionError(errno.EPERM, "Operation not permitted", str(path))
        real_unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", refuse)
    with caplog.at_level(logging.WARNING, logger="smartcam.frames"):
        second = write(ring, jpeg(1))
    assert [r.getMessage() for r in caplog.records] == [
        f"could not delete recycled frame {first.path}: [Errno 1] Operation not permitted: '{first.path}'"]
    assert (len(ring), ring.recycled, ring.total_bytes) == (1, 1, 100)
    assert read_frame(second, tmp_path) == jpeg(1)


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


# --- reading -------------------------------------------------------------------------------------------

def test_the_default_bound_is_32_mib(tmp_path: Path):
    assert MAX_FRAME_BYTES == 32 * 1024 * 1024
    ring = FrameRing(tmp_path, "cam0", capacity=2)
    ref = write(ring, b"")
    with open(ref.path, "r+b") as stream:
        stream.truncate(MAX_FRAME_BYTES + 1)  # sparse: no memory, no disk
    with pytest.raises(FrameTooLarge, match=f"has {MAX_FRAME_BYTES + 1} bytes, over the {MAX_FRAME_BYTES}-byte"):
        read_frame(ref, tmp_path)


def test_the_bound_is_given_by_name():
    """max_bytes is keyword-only: a third argument by position is refused, never taken as the bound."""
    with pytest.raises(TypeError):
        read_frame(None, "/", 10)  # type: ignore[arg-type, misc]


def test_reading_a_frame_warns_of_nothing(tmp_path: Path):
    ring = FrameRing(tmp_path, "cam0", capacity=2)
    ref = write(ring, jpeg(0))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert read_frame(ref, tmp_path) == jpeg(0)
    assert [str(w.message) for w in caught] == []


def test_an_empty_frame_reads_back_empty(tmp_path: Path):
    ring = FrameRing(tmp_path, "cam0", capacity=2)
    assert read_frame(write(ring, b""), tmp_path) == b""


@pytest.mark.parametrize("size", [1, 9, 10])
def test_a_frame_up_to_the_bound_reads_back_whole(tmp_path: Path, size: int):
    ring = FrameRing(tmp_path, "cam0", capacity=2)
    data = bytes(range(65, 65 + size))
    assert read_frame(write(ring, data), tmp_path, max_bytes=10) == data


def test_a_frame_one_byte_over_the_bound_is_refused(tmp_path: Path):
    ring = FrameRing(tmp_path, "cam0", capacity=2)
    ref = write(ring, b"x" * 11)
    with pytest.raises(FrameTooLarge, match=r"has 11 bytes, over the 10-byte frame limit"):
        read_frame(ref, tmp_path, max_bytes=10)


def test_a_frame_that_grew_since_it_was_checked_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    ring = FrameRing(tmp_path, "cam0", capacity=2)
    ref = write(ring, b"x" * 15)  # 15 bytes on disk ...
    real_fstat = os.fstat

    def stale_fstat(fd: int) -> os.stat_result:  # ... but 10 when fstat looked
        info = list(real_fstat(fd))
        info[stat.ST_SIZE] = 10
        return os.stat_result(info)

    monkeypatch.setattr(frames.os, "fstat", stale_fstat)
    with pytest.raises(FrameTooLarge, match=r"is over the 10-byte frame limit"):
        read_frame(ref, tmp_path, max_bytes=10)


class ShortReads:
    """os.fdopen as read_frame uses it, whose reads return at most ``piece`` bytes (a read may return fewer
    than asked for), recording how far into the file each read got."""

    def __init__(self, piece: int) -> None:
        self.piece = piece
        self.offsets: list[int] = []
        self.real_fdopen = os.fdopen

    def __call__(self, fd: int, *args: object, **kwargs: object) -> ShortReads.Handle:
        return ShortReads.Handle(self, fd, self.real_fdopen(fd, *args, **kwargs))  # type: ignore[arg-type]

    class Handle:
        def __init__(self, spy: ShortReads, fd: int, inner: io.RawIOBase) -> None:
            self.spy, self.fd, self.inner = spy, fd, inner

        def read(self, size: int) -> bytes:
            data = self.inner.read(min(size, self.spy.piece))
            self.spy.offsets.append(os.lseek(self.fd, 0, os.SEEK_CUR))
            return data or b""

        def __enter__(self) -> ShortReads.Handle:
            return self

        def __exit__(self, *exc: object) -> None:
            self.inner.close()


def stale_size(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    """fstat reports ``size`` bytes: what it saw before the file grew."""
    real_fstat = os.fstat

    def fstat(fd: int) -> os.stat_result:
        info = list(real_fstat(fd))
        info[stat.ST_SIZE] = size
        return os.stat_result(info)

    monkeypatch.setattr(frames.os, "fstat", fstat)


def test_a_frame_read_in_short_pieces_reads_back_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    ring = FrameRing(tmp_path, "cam0", capacity=2)
    ref = write(ring, b"0123456789")
    spy = ShortReads(piece=5)
    monkeypatch.setattr(frames.os, "fdopen", spy)
    assert read_frame(ref, tmp_path, max_bytes=10) == b"0123456789"
    assert spy.offsets[:2] == [5, 10]  # it did come in pieces


def test_a_frame_that_grew_is_refused_after_reading_one_byte_over_the_bound_at_most(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    ring = FrameRing(tmp_path, "cam0", capacity=2)
    ref = write(ring, b"x" * 100)  # 100 bytes on disk, 10 when fstat looked
    stale_size(monkeypatch, 10)
    spy = ShortReads(piece=5)
    monkeypatch.setattr(frames.os, "fdopen", spy)
    with pytest.raises(FrameTooLarge, match=r"is over the 10-byte frame limit"):
        read_frame(ref, tmp_path, max_bytes=10)
    assert spy.offsets == [5, 10, 11]  # never more of the file than the bound and one byte


def test_a_reference_by_a_relative_root_reads_the_same_frame(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    ring = FrameRing(tmp_path / "frames", "cam0", capacity=2)
    ref = write(ring, jpeg(3))
    monkeypatch.chdir(tmp_path)
    assert read_frame(ref, "frames") == jpeg(3)


def test_a_root_reached_through_a_symlink_reads_the_same_frame(tmp_path: Path):
    ring = FrameRing(tmp_path / "frames", "cam0", capacity=2)
    ref = write(ring, jpeg(4))
    (tmp_path / "link").symlink_to(tmp_path / "frames")
    assert read_frame(ref, tmp_path / "link") == jpeg(4)
    via_link = ref.model_copy(update={"path": str(tmp_path / "link" / "cam0" / Path(ref.path).name)})
    assert read_frame(via_link, tmp_path / "frames") == jpeg(4)


def test_a_path_beside_the_root_sharing_its_prefix_is_outside(tmp_path: Path):
    ring = FrameRing(tmp_path / "frames", "cam0", capacity=2)
    ref = write(ring, jpeg(0))
    twin = tmp_path / "frames-twin" / "cam0"
    twin.mkdir(parents=True)
    (twin / Path(ref.path).name).write_bytes(b"not this one")
    moved = ref.model_copy(update={"path": str(twin / Path(ref.path).name)})
    with pytest.raises(FrameOutsideRoot, match="is outside the frame root"):
        read_frame(moved, tmp_path / "frames")


def test_a_frame_of_another_camera_folder_is_refused(tmp_path: Path):
    ring = FrameRing(tmp_path, "cam0", capacity=2)
    ref = write(ring, jpeg(0))
    other = ref.model_copy(update={"camera_id": "cam1"})
    with pytest.raises(FrameOutsideRoot, match="is not the ring file of this frame"):
        read_frame(other, tmp_path)


def test_a_frame_whose_camera_folder_is_gone_has_expired(tmp_path: Path):
    ring = FrameRing(tmp_path, "cam0", capacity=2)
    ref = write(ring, jpeg(0))
    Path(ref.path).unlink()
    (tmp_path / "cam0").rmdir()
    with pytest.raises(FrameExpired, match=f"frame {ref.frame_id} expired"):
        read_frame(ref, tmp_path)


def test_a_file_where_the_camera_folder_should_be_is_refused(tmp_path: Path):
    ring = FrameRing(tmp_path, "cam0", capacity=2)
    ref = write(ring, jpeg(0))
    Path(ref.path).unlink()
    (tmp_path / "cam0").rmdir()
    (tmp_path / "cam0").write_bytes(b"a file")
    with pytest.raises(FrameOutsideRoot, match=r"camera folder .* is not a plain folder"):
        read_frame(ref, tmp_path)


def test_a_camera_folder_swapped_for_a_symlink_after_the_check_is_refused(tmp_path: Path):
    ring = FrameRing(tmp_path / "frames", "cam0", capacity=2)
    ref = write(ring, jpeg(0))
    folder = tmp_path / "frames" / "cam0"
    (tmp_path / "elsewhere").mkdir()
    Path(ref.path).rename(tmp_path / "elsewhere" / Path(ref.path).name)
    folder.rmdir()
    folder.symlink_to(tmp_path / "elsewhere")  # what a race after _ring_location's check would find
    with pytest.raises(FrameOutsideRoot, match="is not a plain folder"):
        frames._open_ring_file(ref, str(folder), Path(ref.path).name)


def test_a_socket_at_a_ring_name_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    ring = FrameRing(tmp_path, "cam0", capacity=2)
    ref = write(ring, jpeg(0))
    Path(ref.path).unlink()
    monkeypatch.chdir(ring.directory)  # a socket's path is limited to 107 bytes: bind by the name alone
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(Path(ref.path).name)
        with pytest.raises(FrameOutsideRoot, match=r"is not a regular file; refused"):
            read_frame(ref, tmp_path)
    finally:
        server.close()


@pytest.mark.parametrize(("kind", "words"), [(stat.S_IFDIR, "a folder"), (stat.S_IFIFO, "a FIFO"),
                                             (stat.S_IFSOCK, "a socket"), (stat.S_IFCHR, "a character device"),
                                             (stat.S_IFBLK, "a block device"), (0, "not a regular file")])
def test_what_is_not_a_regular_file_is_named(kind: int, words: str):
    assert frames._file_kind(kind | 0o644) == words


def test_a_failure_to_open_the_folder_is_not_hidden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    ring = FrameRing(tmp_path, "cam0", capacity=2)
    ref = write(ring, jpeg(0))
    real_open = os.open

    def no_access(path: str, flags: int, *args: object, **kwargs: object) -> int:
        if path == str(tmp_path / "cam0"):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(frames.os, "open", no_access)
    with pytest.raises(PermissionError):
        read_frame(ref, tmp_path)


def test_a_failure_to_open_the_file_is_not_hidden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    ring = FrameRing(tmp_path, "cam0", capacity=2)
    ref = write(ring, jpeg(0))
    real_open = os.open
    name = Path(ref.path).name

    def no_access(path: str, flags: int, *args: object, **kwargs: object) -> int:
        if path == name:
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(frames.os, "open", no_access)
    with pytest.raises(PermissionError):
        read_frame(ref, tmp_path)
