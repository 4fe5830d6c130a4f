"""smartcam.frames' ring: raw frames in fixed-size slots, what a reader gets back and what it refuses.

A reader racing a writer in another process is in test_frames_concurrent.py.
"""

from __future__ import annotations

import errno
import os
import re
import socket
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest

from smartcam import frames
from smartcam.contracts import FrameRef
from smartcam.frame_layout import FILE_HEADER_BYTES, FileHeader
from smartcam.frames import (
    MAX_FRAME_BYTES,
    BadFrameRef,
    FrameExpired,
    FrameImageError,
    FrameOutsideRoot,
    FrameOverwritten,
    FrameReader,
    FrameRing,
    FrameTooLarge,
    frame_as_jpeg,
    ring_file_name,
)

AT = 1764900000.5
W, H = 64, 48


def image(value: int, width: int = W, height: int = H) -> np.ndarray:
    """A frame whose every pixel says which it is (and whose channels differ, so BGR order shows)."""
    pixels = np.empty((height, width, 3), np.uint8)
    pixels[..., 0], pixels[..., 1], pixels[..., 2] = value % 256, (value + 1) % 256, (value + 2) % 256
    return pixels


def write(ring: FrameRing, value: int, **extra: object) -> FrameRef:
    return ring.write(image(value), captured_at=AT + value, captured_monotonic_ns=value, **extra)  # type: ignore[arg-type]


def mode(path: Path | str) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "frames"


# --- writing and reading back --------------------------------------------------------------------------

def test_a_frame_reads_back_exactly_and_its_reference_says_where_it_is(root: Path):
    ring = FrameRing(root, "cam0", capacity=4)
    noise = np.random.default_rng(1).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    ref = ring.write(noise, captured_at=AT, captured_monotonic_ns=7, request_id="req-1", gate="motion",
                     motion=[(0.1, 0.2, 0.3, 0.4)])
    assert (ref.camera_id, ref.slot, ref.sequence) == ("cam0", 0, 0)
    assert (ref.width, ref.height, ref.format) == (640, 480, "bgr8")
    assert (ref.captured_at, ref.captured_monotonic_ns, ref.request_id, ref.gate) == (AT, 7, "req-1", "motion")
    assert re.fullmatch(r"cam0-[0-9a-f]{8}-0", ref.frame_id)
    assert ref.to_message()["schema"] == "smartcam.frame/2" and "path" not in ref.to_message()
    copied = FrameReader(root).copy(ref)
    assert np.array_equal(copied, noise) and copied.flags.writeable
    assert ring.path == root / "cam0" / "640x480-bgr8.ring"


def test_a_reader_uses_the_pixels_in_place_and_gets_what_its_function_returns(root: Path):
    ring = FrameRing(root, "cam0", capacity=4)
    noise = np.random.default_rng(2).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    ref = ring.write(noise, captured_at=AT, captured_monotonic_ns=1)
    seen: list[np.ndarray] = []

    def resize(pixels: np.ndarray) -> np.ndarray:
        seen.append(pixels)
        return cv2.resize(pixels, (300, 300), interpolation=cv2.INTER_LINEAR)

    small = FrameReader(root).read(ref, resize)
    assert np.array_equal(small, cv2.resize(noise, (300, 300), interpolation=cv2.INTER_LINEAR))
    assert not seen[0].flags.writeable and seen[0].shape == (480, 640, 3)  # the slot itself, read-only


@pytest.mark.parametrize(("size", "interpolation"), [((32, 24), cv2.INTER_AREA), ((128, 96), cv2.INTER_LINEAR)])
def test_a_frame_is_resized_to_the_cameras_size_on_its_way_into_the_slot(root: Path, size, interpolation):
    ring = FrameRing(root, "cam0", capacity=2)
    noise = np.random.default_rng(3).integers(0, 256, (H, W, 3), dtype=np.uint8)
    ref = ring.write(noise, size=size, captured_at=AT, captured_monotonic_ns=1)
    assert (ref.width, ref.height) == size
    assert np.array_equal(FrameReader(root).copy(ref), cv2.resize(noise, size, interpolation=interpolation))


@pytest.mark.parametrize("bad", [np.zeros((H, W), np.uint8), np.zeros((H, W, 4), np.uint8),
                                 np.zeros((H, W, 3), np.float32), np.zeros((0, W, 3), np.uint8), b"jpeg"])
def test_only_8_bit_bgr_images_are_stored(root: Path, bad):
    ring = FrameRing(root, "cam0", capacity=2)
    with pytest.raises(FrameImageError):
        ring.write(bad, captured_at=AT, captured_monotonic_ns=1)
    assert list((root / "cam0").iterdir()) == []


def test_a_frame_larger_than_a_reader_maps_is_not_stored(root: Path):
    ring = FrameRing(root, "cam0", capacity=2)
    side = int((MAX_FRAME_BYTES // 3) ** 0.5) + 1
    with pytest.raises(FrameImageError, match="frame limit"):
        ring.write(image(0), size=(side, side), captured_at=AT, captured_monotonic_ns=1)
    assert list((root / "cam0").iterdir()) == []


def test_slots_are_used_in_turn_and_a_recycled_frame_expires_never_returning_another(root: Path):
    ring, reader = FrameRing(root, "cam0", capacity=3), FrameReader(root)
    refs = [write(ring, i) for i in range(5)]
    assert [ref.slot for ref in refs] == [0, 1, 2, 0, 1] and ring.recycled == 2 and ring.slots == 3
    for ref in refs[:2]:
        with pytest.raises(FrameExpired, match=f"slot {ref.slot} holds frame {ref.sequence + 3} now"):
            reader.copy(ref)
    for i, ref in enumerate(refs[2:], start=2):
        assert np.array_equal(reader.copy(ref), image(i))
    assert reader.overwritten == 0


def test_the_byte_bound_sets_the_slot_count_and_keeps_at_least_one(root: Path):
    stride = FileHeader(1, W, H, "bgr8", 85, "", "").slot_stride
    assert stride % 4096 == 0 and stride >= 64 + W * H * 3
    assert FrameRing(root, "cam0", capacity=10, max_bytes=3 * stride).slots_for(W, H) == 3
    assert FrameRing(root, "cam0", capacity=2, max_bytes=3 * stride).slots_for(W, H) == 2
    assert FrameRing(root, "cam0", capacity=10, max_bytes=1).slots_for(W, H) == 1
    ring = FrameRing(root, "cam1", capacity=10, max_bytes=3 * stride)
    write(ring, 0)
    assert ring.path is not None and ring.path.stat().st_size == FILE_HEADER_BYTES + 3 * stride


@pytest.mark.parametrize(("capacity", "max_bytes"), [(0, None), (-1, None), (1, 0), (1, -1)])
def test_a_ring_has_at_least_one_slot_and_a_positive_byte_bound(root: Path, capacity: int, max_bytes: int | None):
    with pytest.raises(ValueError, match=r"at least one frame|positive"):
        FrameRing(root, "cam0", capacity=capacity, max_bytes=max_bytes)


def test_folders_are_0750_and_the_ring_file_0640_whatever_the_umask(root: Path):
    old = os.umask(0o077)
    try:
        ring = FrameRing(root, "cam0", capacity=2)
        write(ring, 0)
    finally:
        os.umask(old)
    assert (mode(root), mode(root / "cam0"), mode(ring.path)) == (0o750, 0o750, 0o640)  # type: ignore[arg-type]
    assert os.stat(ring.path).st_uid == os.geteuid()  # type: ignore[arg-type]


# --- restarts and new geometries -----------------------------------------------------------------------

def test_a_restarted_writer_goes_on_after_the_last_frame_and_the_old_references_still_read(root: Path):
    first = FrameRing(root, "cam0", capacity=4)
    old = [write(first, i) for i in range(6)]
    (root / "cam0" / ".tmp-64x48-bgr8.ring").write_bytes(b"a creation a crash interrupted")
    again = FrameRing(root, "cam0", capacity=4)
    new = write(again, 6)
    assert (new.sequence, new.slot) == (6, 2) and new.frame_id.rsplit("-", 2)[1] == old[0].frame_id.rsplit("-", 2)[1]
    reader = FrameReader(root)
    assert np.array_equal(reader.copy(old[5]), image(5)) and np.array_equal(reader.copy(new), image(6))
    assert sorted(p.name for p in (root / "cam0").iterdir()) == ["64x48-bgr8.ring"]


def test_a_new_geometry_gets_a_new_ring_file_the_old_one_goes_and_its_frames_expire(root: Path):
    ring, reader = FrameRing(root, "cam0", capacity=4), FrameReader(root)
    small = write(ring, 1)
    assert np.array_equal(reader.copy(small), image(1))  # mapped by the reader
    large = ring.write(image(2, 128, 96), captured_at=AT, captured_monotonic_ns=2)
    assert (large.sequence, large.slot, large.width) == (1, 1, 128)
    assert sorted(p.name for p in (root / "cam0").iterdir()) == ["128x96-bgr8.ring"]
    assert np.array_equal(reader.copy(large), image(2, 128, 96))
    assert list(reader._rings) == [("cam0", "128x96-bgr8.ring")]  # the deleted file is no longer mapped
    with pytest.raises(FrameExpired, match="has no ring of 64x48 frames any more"):
        reader.copy(small)
    back = write(ring, 3)  # the old size again: a new file, its own token, the sequence goes on
    assert back.sequence == 2 and back.frame_id != small.frame_id
    with pytest.raises(FrameExpired):
        reader.copy(small)


def test_a_new_slot_count_replaces_the_file_under_a_reader_that_mapped_the_old_one(root: Path):
    reader = FrameReader(root)
    before = write(FrameRing(root, "cam0", capacity=4), 0)
    assert np.array_equal(reader.copy(before), image(0))
    after = write(FrameRing(root, "cam0", capacity=2), 1)
    with pytest.raises(FrameExpired, match="ring file was replaced"):
        reader.copy(before)
    assert np.array_equal(reader.copy(after), image(1))


def test_frames_of_the_jpeg_ring_before_are_removed_at_the_first_write(root: Path):
    (root / "cam0").mkdir(parents=True)
    old = root / "cam0" / "000000000007-cam0-ab12cd34-7.jpg"
    old.write_bytes(b"\xff\xd8\xff")
    (root / "cam0" / "notes.txt").write_bytes(b"not ours to judge")
    write(FrameRing(root, "cam0", capacity=2), 0)
    assert sorted(p.name for p in (root / "cam0").iterdir()) == ["64x48-bgr8.ring", "notes.txt"]


def test_a_ring_file_that_cannot_be_made_leaves_nothing_behind(root: Path, monkeypatch: pytest.MonkeyPatch):
    def full(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    ring = FrameRing(root, "cam0", capacity=2)
    monkeypatch.setattr(frames.os, "posix_fallocate", full)
    with pytest.raises(OSError) as failed:
        write(ring, 0)
    assert failed.value.errno == errno.ENOSPC and list((root / "cam0").iterdir()) == []
    monkeypatch.undo()
    ref = write(ring, 1)
    assert ref.sequence == 0 and np.array_equal(FrameReader(root).copy(ref), image(1))


def test_an_unreadable_ring_file_left_behind_is_replaced(root: Path):
    (root / "cam0").mkdir(parents=True)
    (root / "cam0" / "64x48-bgr8.ring").write_bytes(b"garbage" * 100)
    ring = FrameRing(root, "cam0", capacity=2)
    ref = write(ring, 5)
    assert ref.sequence == 0 and np.array_equal(FrameReader(root).copy(ref), image(5))


# --- the seqlock ---------------------------------------------------------------------------------------

def test_a_frame_overwritten_while_it_is_read_is_thrown_away_and_counted(root: Path):
    ring, reader = FrameRing(root, "cam0", capacity=2), FrameReader(root)
    ref = write(ring, 0)
    write(ring, 1)

    def slow_copy(pixels: np.ndarray) -> np.ndarray:
        copied = np.array(pixels)
        write(ring, 2)  # the writer comes round to the slot meanwhile
        return copied

    with pytest.raises(FrameOverwritten, match="overwritten while it was read"):
        reader.read(ref, slow_copy)
    assert reader.overwritten == 1
    assert isinstance(FrameOverwritten("x"), FrameExpired)  # receipted as expired, like any recycled frame


def test_a_slot_being_written_is_not_read(root: Path):
    ring = FrameRing(root, "cam0", capacity=2)
    ref = write(ring, 0)
    stamps = np.memmap(ring.path, np.uint64, mode="r+", offset=FILE_HEADER_BYTES, shape=(1,))
    stamps[0] = 2 * ref.sequence + 1  # odd: a writer is in the middle of it
    with pytest.raises(BadFrameRef, match="has no frame 0"):
        FrameReader(root).copy(ref)


# --- references that do not fit ------------------------------------------------------------------------

@pytest.fixture
def written(root: Path) -> tuple[FrameRing, list[FrameRef]]:
    ring = FrameRing(root, "cam0", capacity=3)
    return ring, [write(ring, i) for i in range(2)]


@pytest.mark.parametrize(("update", "reason"), [
    ({"slot": 3}, "slot 3 is not where frame 1 goes in a ring of 3 slots"),
    ({"slot": 0}, "slot 0 is not where frame 1 goes"),
    ({"sequence": 4, "frame_id": "TOKEN-4", "slot": 1}, "slot 1 has no frame 4"),
    ({"frame_id": "cam0-1"}, "not a frame id of camera cam0's ring"),
    ({"frame_id": "cam1-TOKEN-1"}, "not a frame id of camera cam0's ring"),
])
def test_a_reference_that_does_not_fit_its_ring_is_refused(root: Path, written, update, reason):
    _, refs = written
    token = refs[1].frame_id.rsplit("-", 1)[0]
    update = {key: value.replace("TOKEN", token) if isinstance(value, str) else value for key, value in update.items()}
    with pytest.raises(BadFrameRef, match=re.escape(reason)):
        FrameReader(root).copy(refs[1].model_copy(update=update))


def test_a_reference_naming_another_camera_is_refused_even_when_that_camera_has_the_frame(root: Path, written):
    _, refs = written
    other = FrameRing(root, "cam1", capacity=3)
    write(other, 0), write(other, 1)
    with pytest.raises(BadFrameRef, match="not a frame id of camera cam1's ring"):
        FrameReader(root).copy(refs[1].model_copy(update={"camera_id": "cam1"}))


def test_a_ring_file_of_another_camera_in_a_cameras_folder_is_refused(root: Path, written):
    ring, refs = written
    (root / "cam1").mkdir(mode=0o750)
    os.link(ring.path, root / "cam1" / ring_file_name(W, H))  # type: ignore[arg-type]
    with pytest.raises(BadFrameRef, match="is camera cam0's"):
        FrameReader(root).copy(refs[1].model_copy(update={"camera_id": "cam1"}))


def test_a_camera_without_a_ring_has_no_frames(root: Path, written):
    _, refs = written
    with pytest.raises(FrameExpired):
        FrameReader(root).copy(refs[0].model_copy(update={"camera_id": "cam9"}))
    with pytest.raises(FrameExpired):
        FrameReader(root).copy(refs[0].model_copy(update={"width": 32}))


def test_a_frame_larger_than_a_reader_maps_is_refused_before_anything_is_opened(root: Path, written):
    _, refs = written
    side = int((MAX_FRAME_BYTES // 3) ** 0.5) + 1
    with pytest.raises(FrameTooLarge, match="frame limit"):
        FrameReader(root).copy(refs[0].model_copy(update={"width": side, "height": side}))


def test_a_ring_file_larger_than_the_readers_bound_is_refused(root: Path, written):
    ring, refs = written
    size = ring.path.stat().st_size  # type: ignore[union-attr]
    with pytest.raises(FrameTooLarge, match=f"has {size} bytes, over the {size - 1}-byte limit"):
        FrameReader(root, max_ring_bytes=size - 1).copy(refs[0])
    assert np.array_equal(FrameReader(root, max_ring_bytes=size).copy(refs[0]), image(0))


@pytest.mark.parametrize("damage", ["magic", "short", "size"])
def test_a_damaged_ring_file_is_refused(root: Path, written, damage: str):
    ring, refs = written
    path = ring.path
    assert path is not None
    if damage == "magic":
        with open(path, "r+b") as handle:
            handle.write(b"NOTARING")
    elif damage == "short":
        os.truncate(path, 100)
    else:
        os.truncate(path, path.stat().st_size + 4096)
    with pytest.raises(BadFrameRef):
        FrameReader(root).copy(refs[0])


# --- what is at the ring's name ------------------------------------------------------------------------

def replace_ring(ring: FrameRing, make) -> None:
    assert ring.path is not None
    ring.path.unlink()
    make(ring.path)


def test_a_symlink_at_the_ring_name_is_never_followed(root: Path, written, tmp_path: Path):
    ring, refs = written
    os.link(ring.path, tmp_path / "elsewhere.ring")  # type: ignore[arg-type]
    replace_ring(ring, lambda path: path.symlink_to(tmp_path / "elsewhere.ring"))
    with pytest.raises(FrameOutsideRoot, match="is a symlink; refused"):
        FrameReader(root).copy(refs[0])


def test_a_fifo_at_the_ring_name_is_refused_without_hanging(root: Path, written):
    ring, refs = written
    replace_ring(ring, os.mkfifo)
    with pytest.raises(FrameOutsideRoot, match="not a regular file \\(a FIFO\\)"):
        FrameReader(root).copy(refs[0])


def test_a_folder_at_the_ring_name_is_refused(root: Path, written):
    ring, refs = written
    replace_ring(ring, lambda path: path.mkdir())
    with pytest.raises(FrameOutsideRoot, match="a folder"):
        FrameReader(root).copy(refs[0])


def test_a_socket_at_the_ring_name_is_refused(root: Path, written, tmp_path: Path):
    ring, refs = written
    server = socket.socket(socket.AF_UNIX)
    try:
        replace_ring(ring, lambda path: server.bind(str(path)))
        with pytest.raises(FrameOutsideRoot, match="not a regular file"):
            FrameReader(root).copy(refs[0])
    finally:
        server.close()


def test_a_symlinked_camera_folder_is_refused(root: Path, written, tmp_path: Path):
    _, refs = written
    (root / "cam0").rename(tmp_path / "moved")
    (root / "cam0").symlink_to(tmp_path / "moved")
    with pytest.raises(FrameOutsideRoot, match="is not a plain folder"):
        FrameReader(root).copy(refs[0])


def test_a_root_reached_through_a_symlink_reads_the_same_frame(root: Path, written, tmp_path: Path):
    _, refs = written
    (tmp_path / "link").symlink_to(root)
    assert np.array_equal(FrameReader(tmp_path / "link").copy(refs[1]), image(1))


# --- JPEG only when something keeps one ----------------------------------------------------------------

def test_a_frame_as_jpeg_is_the_frame_at_the_cameras_quality_unless_asked_otherwise(root: Path):
    ring = FrameRing(root, "cam0", capacity=2, jpeg_quality=95)
    noise = np.random.default_rng(4).integers(0, 256, (H, W, 3), dtype=np.uint8)
    smooth = cv2.GaussianBlur(noise, (9, 9), 3)
    ref = ring.write(smooth, captured_at=AT, captured_monotonic_ns=1)
    best = frame_as_jpeg(ref, root)
    decoded = cv2.imdecode(np.frombuffer(best, np.uint8), cv2.IMREAD_COLOR)
    assert best.startswith(b"\xff\xd8\xff") and decoded.shape == (H, W, 3)
    assert np.abs(decoded.astype(int) - smooth).mean() < 3
    assert len(frame_as_jpeg(ref, root, quality=20)) < len(best)
    ring.set_jpeg_quality(20)  # the camera's setting changed: the ring file says so at once
    reader = FrameReader(root)
    assert reader.jpeg_quality(ref) == 20 and frame_as_jpeg(ref, root, reader=reader) == frame_as_jpeg(
        ref, root, quality=20)
