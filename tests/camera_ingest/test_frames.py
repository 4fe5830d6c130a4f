"""The frame ring: unique names, atomic files, bounds by count and bytes, private modes, expiry."""

from __future__ import annotations

import errno
import os
import stat
import time
from pathlib import Path

import pytest

from smartcam import frames
from smartcam.contracts import FrameRef
from smartcam.frames import (
    FrameExpired,
    FrameOutsideRoot,
    FrameRing,
    FrameRingError,
    read_frame,
)


def write(ring: FrameRing, data: bytes, request_id: str | None = None) -> FrameRef:
    return ring.write(
        data, width=4, height=3, captured_at=time.time(), captured_monotonic_ns=time.monotonic_ns(),
        request_id=request_id,
    )


def payload(i: int, size: int = 100) -> bytes:
    return f"jpeg-{i:05d}-".encode().ljust(size, b"x")


def test_each_frame_gets_a_unique_file_and_reads_back(frame_root: Path):
    ring = FrameRing(frame_root, "cam0", capacity=10)
    refs = [write(ring, payload(i), request_id="r1") for i in range(5)]
    assert len({r.path for r in refs}) == 5
    assert len({r.frame_id for r in refs}) == 5
    assert [r.sequence for r in refs] == [0, 1, 2, 3, 4]
    for i, ref in enumerate(refs):
        assert Path(ref.path).parent == frame_root / "cam0"
        assert read_frame(ref, frame_root) == payload(i)
        assert ref.request_id == "r1" and ref.camera_id == "cam0"
    assert not [p for p in (frame_root / "cam0").iterdir() if p.name.startswith(".tmp-")]


def test_ring_is_bounded_by_count(frame_root: Path):
    ring = FrameRing(frame_root, "cam0", capacity=3)
    refs = [write(ring, payload(i)) for i in range(10)]
    files = sorted((frame_root / "cam0").iterdir())
    assert len(files) == 3 == len(ring)
    assert [str(f) for f in files] == [r.path for r in refs[-3:]]
    assert ring.recycled == 7


def test_ring_is_bounded_by_bytes(frame_root: Path):
    ring = FrameRing(frame_root, "cam0", capacity=1000, max_bytes=1000)
    for i in range(20):
        write(ring, payload(i, size=300))
    on_disk = sum(f.stat().st_size for f in (frame_root / "cam0").iterdir())
    assert on_disk <= 1000
    assert ring.total_bytes == on_disk
    assert len(ring) == 3


def test_a_single_frame_larger_than_the_byte_bound_is_kept_until_the_next(frame_root: Path):
    ring = FrameRing(frame_root, "cam0", capacity=10, max_bytes=50)
    big = write(ring, payload(1, size=200))
    assert read_frame(big, frame_root) == payload(1, size=200)
    write(ring, payload(2, size=200))
    with pytest.raises(FrameExpired):
        read_frame(big, frame_root)


def test_expired_frame_raises_and_never_returns_another_image(frame_root: Path):
    ring = FrameRing(frame_root, "cam0", capacity=2)
    old = write(ring, payload(0))
    for i in range(1, 5):
        write(ring, payload(i))
    with pytest.raises(FrameExpired, match=rf"frame {old.frame_id} expired"):
        read_frame(old, frame_root)


def test_a_restarted_ring_continues_the_sequence_and_keeps_the_bounds(frame_root: Path):
    first = FrameRing(frame_root, "cam0", capacity=4)
    old_refs = [write(first, payload(i)) for i in range(4)]
    (frame_root / "cam0" / ".tmp-leftover.jpg").write_bytes(b"half")  # a crash mid-write
    second = FrameRing(frame_root, "cam0", capacity=4)
    assert len(second) == 4
    new = write(second, payload(99))
    assert new.sequence == 4
    assert new.frame_id not in {r.frame_id for r in old_refs}
    assert len(list((frame_root / "cam0").iterdir())) == 4
    with pytest.raises(FrameExpired):
        read_frame(old_refs[0], frame_root)
    assert read_frame(old_refs[1], frame_root) == payload(1)


def test_folders_and_files_are_private_to_user_and_group(frame_root: Path):
    old_umask = os.umask(0o077)  # a strict umask must not hide frames from the group
    try:
        ring = FrameRing(frame_root, "cam0", capacity=3)
        ref = write(ring, payload(0))
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(os.stat(frame_root).st_mode) == 0o750
    assert stat.S_IMODE(os.stat(frame_root / "cam0").st_mode) == 0o750
    assert stat.S_IMODE(os.stat(ref.path).st_mode) == 0o640


def test_paths_outside_the_root_are_refused(tmp_path: Path, frame_root: Path):
    ring = FrameRing(frame_root, "cam0", capacity=3)
    ref = write(ring, payload(0))
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"not yours")
    outside = ref.model_copy(update={"path": str(secret)})
    with pytest.raises(FrameOutsideRoot, match="outside the frame root"):
        read_frame(outside, frame_root)
    # A symlink inside the root pointing out is refused too.
    link = frame_root / "cam0" / "link.jpg"
    link.symlink_to(secret)
    with pytest.raises(FrameOutsideRoot):
        read_frame(ref.model_copy(update={"path": str(link)}), frame_root)


def test_a_path_of_another_frame_is_refused(frame_root: Path):
    ring = FrameRing(frame_root, "cam0", capacity=5)
    first, second = write(ring, payload(0)), write(ring, payload(1))
    forged = first.model_copy(update={"path": second.path})
    with pytest.raises(FrameOutsideRoot, match="not the ring file of this frame"):
        read_frame(forged, frame_root)


def test_disk_full_leaves_the_ring_consistent(frame_root: Path, monkeypatch: pytest.MonkeyPatch):
    ring = FrameRing(frame_root, "cam0", capacity=5)
    kept = write(ring, payload(0))

    def no_space(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(frames.os, "write", no_space)
    with pytest.raises(OSError) as info:
        write(ring, payload(1))
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert len(ring) == 1
    assert [p.name for p in (frame_root / "cam0").iterdir()] == [Path(kept.path).name]
    after = write(ring, payload(2))
    assert after.sequence == 1 and read_frame(after, frame_root) == payload(2)


def test_a_symlinked_camera_folder_is_refused(tmp_path: Path, frame_root: Path):
    frame_root.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (frame_root / "cam0").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(FrameRingError, match="not a plain folder"):
        FrameRing(frame_root, "cam0", capacity=3)



def _ring_name_replaced(frame_root: Path) -> tuple[FrameRef, Path]:
    """A frame whose ring file is removed, so the test can put something else at its name."""
    ring = FrameRing(frame_root, "cam0", capacity=3)
    ref = write(ring, payload(0))
    path = Path(ref.path)
    path.unlink()
    return ref, path


def test_a_fifo_at_a_ring_name_is_refused_without_hanging(frame_root: Path):
    ref, path = _ring_name_replaced(frame_root)
    os.mkfifo(path, 0o600)
    started = time.monotonic()
    with pytest.raises(FrameOutsideRoot, match=r"not a regular file \(a FIFO\)"):
        read_frame(ref, frame_root)
    assert time.monotonic() - started < 5


def test_a_folder_at_a_ring_name_is_refused(frame_root: Path):
    ref, path = _ring_name_replaced(frame_root)
    path.mkdir()
    with pytest.raises(FrameOutsideRoot, match=r"not a regular file \(a folder\)"):
        read_frame(ref, frame_root)


def test_a_symlink_at_a_ring_name_is_never_followed(tmp_path: Path, frame_root: Path):
    ref, path = _ring_name_replaced(frame_root)
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"not yours")
    path.symlink_to(secret)
    with pytest.raises(FrameOutsideRoot, match="is a symlink; refused"):
        read_frame(ref, frame_root)
    # Even one pointing at another frame of the same ring.
    path.unlink()
    other = FrameRing(frame_root, "cam0", capacity=3)
    path.symlink_to(write(other, payload(1)).path)
    with pytest.raises(FrameOutsideRoot, match="is a symlink; refused"):
        read_frame(ref, frame_root)


def test_a_frame_over_the_size_bound_is_refused(frame_root: Path):
    ring = FrameRing(frame_root, "cam0", capacity=3)
    ref = write(ring, payload(0, size=1000))
    assert read_frame(ref, frame_root, max_bytes=1000) == payload(0, size=1000)
    with pytest.raises(frames.FrameTooLarge, match="1000 bytes, over the 999-byte frame limit"):
        read_frame(ref, frame_root, max_bytes=999)
    assert frames.MAX_FRAME_BYTES >= 16 * 1024 * 1024


def test_frames_filling_the_byte_bound_exactly_are_all_kept_and_one_byte_more_recycles_the_oldest(frame_root: Path):
    ring = FrameRing(frame_root, "cam0", capacity=1000, max_bytes=1000)
    refs = [write(ring, payload(i, size=250)) for i in range(4)]
    assert (len(ring), ring.total_bytes, ring.recycled) == (4, 1000, 0)  # at the bound is within it
    assert read_frame(refs[0], frame_root) == payload(0, size=250)
    write(ring, b"x")  # one byte over the bound
    assert (len(ring), ring.total_bytes, ring.recycled) == (4, 751, 1)
    with pytest.raises(FrameExpired):
        read_frame(refs[0], frame_root)


def test_frames_filling_the_count_bound_exactly_are_all_kept(frame_root: Path):
    ring = FrameRing(frame_root, "cam0", capacity=4, max_bytes=400)
    for i in range(4):
        write(ring, payload(i, size=100))
    assert (len(ring), ring.total_bytes, ring.recycled) == (4, 400, 0)
