"""The frame ring: how frames travel from camera ingest to inference by reference, raw, in shared memory.

IPC messages are capped at 128 KB on a device, so a frame never rides in a message. The writer
(camera ingest) copies each frame (BGR, 8 bits per channel) into the next fixed-size slot of its
camera's ring file ``<root>/<camera id>/<width>x<height>-bgr8.ring`` and publishes a
:class:`~smartcam.contracts.FrameRef` naming the camera, the slot and the frame's sequence; a
reader (:class:`FrameReader`) maps the file and uses the slot's pixels in place (SsdInference resizes
them straight to the model's input), or copies them out. No JPEG is made on this path: a frame
becomes a JPEG only when something keeps one (:func:`frame_as_jpeg`: an event's snapshot, annotated
output, tools).

Guarantees:
- A reader never gets a frame other than the one its reference names, nor a half-written one: each
  slot carries a stamp written as a seqlock (:mod:`smartcam.frame_layout`), checked before and after
  the reader uses the pixels. A frame recycled before the read raises :class:`FrameExpired`; one
  overwritten during the read :class:`FrameOverwritten` (counted in :attr:`FrameReader.overwritten`).
- Every frame id is new: the sequence goes on across restarts and geometries, and the frame id
  carries the ring file's random token.
- Memory is bounded: a ring file has ``min(capacity, max_bytes // slot size)`` slots (at least one)
  and its pages are reserved when it is made (a full /dev/shm is an OSError then, never a SIGBUS
  later). A camera has one ring file at a time: a new geometry (another resolution) or slot count
  gets a new file and the old one is deleted; a reader that still maps the old one keeps valid
  memory, one that comes later finds its frames expired. Files never change size in place.
- Folders are 0750 and files 0640: readable by the pipeline's user and group only.
- A reader maps only a regular file at the ring's name (never through a symlink, not hung by a
  FIFO), whose header matches the reference's camera and geometry, at most ``max_ring_bytes``.

The root (:func:`pipeline_frame_root`) is derived, never configured: every component of the
pipeline computes the same folder from what its nucleus gives it, so the writer and the readers
cannot disagree. It is ``<base>/smartcam-frames-<euid>-<digest>``:
- base: ``/dev/shm`` when it is a writable tmpfs (frames never touch the SD card or disk), else the
  system temp dir (:func:`frame_base`);
- euid: private to the user the components run as (the nucleus runs them all as its default user);
- digest: a short SHA-256 of the nucleus IPC socket path, which the nucleus hands every component it
  starts and which is the same for all components of one nucleus: two nuclei (or local runtimes) on
  one machine never share a ring.
It is deliberately NOT a component's work folder (the writer and the readers are different
components with different work folders), and not a recipe setting (nucleus lite has no
cross-component recipe interpolation to share one).

Why a file under the root and not ``multiprocessing.shared_memory``: its segments live flat in
/dev/shm under names of their own (no private folder, no fallback off tmpfs), are created 0600, and
Python's resource tracker unlinks a segment when the process that made it exits, which would pull the
ring from under the other components at every CameraIngest restart.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import mmap
import os
import re
import secrets
import stat
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

from smartcam.contracts import FrameRef, GatePass, MotionRegion
from smartcam.frame_layout import (
    FILE_HEADER_BYTES,
    QUALITY_OFFSET,
    SLOT_FIELDS_BYTES,
    SLOT_FIELDS_OFFSET,
    SLOT_HEADER_BYTES,
    FileHeader,
    fence,
    in_progress,
    pack_slot_fields,
    stamp_sequence,
    whole,
)

log = logging.getLogger(__name__)

DIR_MODE = 0o750
FILE_MODE = 0o640
# Set by the nucleus (Java and lite) in the environment of every component it starts.
NUCLEUS_SOCKET_ENV = "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT"
_ROOT_PREFIX = "smartcam-frames"
_DIGEST_CHARS = 16
# Shared and world-writable: ensure_private_dir refuses a folder there that is not our own.
_SHM = Path("/dev/shm")  # noqa: S108  # nosec B108
_TMPFS_MAGIC = "tmpfs"
PIXEL_FORMAT = "bgr8"
_RING_NAME = re.compile(r"^\d{1,5}x\d{1,5}-[a-z0-9]+\.ring$")
_JPEG_RING_NAME = re.compile(r"^\d{12}-[A-Za-z0-9][A-Za-z0-9_.:-]*\.jpg$")  # the JPEG ring's files, before raw
_TEMPORARY = ".tmp-"
# The largest frame a reader maps: an 8192x8192 BGR frame (CameraIngest's largest size) is 192 MiB.
MAX_FRAME_BYTES = 256 * 1024 * 1024
# The largest ring file a reader maps: CameraIngest's ring is at most 16 GiB per camera.
MAX_RING_BYTES = 16 * 1024**3 + MAX_FRAME_BYTES
DEFAULT_JPEG_QUALITY = 85

T = TypeVar("T")


class FrameError(Exception):
    """A frame reference that cannot be served; ``str()`` says why."""


class FrameExpired(FrameError):
    """The frame was already recycled out of the ring (the reader came too late)."""


class FrameOverwritten(FrameExpired):
    """The writer reused the frame's slot while it was being read: the read is thrown away."""


class FrameOutsideRoot(FrameError, ValueError):
    """The reference points outside the frame root, or at something that is not a ring file: refused."""


class BadFrameRef(FrameError, ValueError):
    """The reference does not fit the ring it names (slot out of range, another camera's ring, a frame
    never written): refused."""


class FrameTooLarge(FrameError):
    """The frame or its ring file is larger than a reader maps (:data:`MAX_FRAME_BYTES`, ``max_ring_bytes``)."""


class FrameRingError(RuntimeError):
    """The ring's folder cannot be used safely (wrong owner, a symlink, not a folder)."""


class FrameImageError(ValueError):
    """What the writer was given is not a frame it stores (an 8-bit, 3-channel BGR image)."""


def _is_writable_tmpfs(path: Path) -> bool:
    if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
        return False
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            return any(
                len(fields) >= 3 and fields[1] == str(path) and fields[2] == _TMPFS_MAGIC
                for fields in (line.split() for line in mounts)
            )
    except OSError:
        return False


def frame_base() -> Path:
    """Where frame roots live: /dev/shm when it is a writable tmpfs, else the system temp dir."""
    return _SHM if _is_writable_tmpfs(_SHM) else Path(tempfile.gettempdir())


def pipeline_frame_root(environ: Mapping[str, str] | None = None, *, base: Path | None = None) -> Path:
    """The frame root of the pipeline this process belongs to (see the module docstring).

    ``environ`` defaults to ``os.environ``; outside a nucleus (no IPC socket variable) there is no
    pipeline to share a ring with, and this raises :class:`FrameRingError`.
    """
    socket = (os.environ if environ is None else environ).get(NUCLEUS_SOCKET_ENV, "")
    if not socket:
        raise FrameRingError(
            f"{NUCLEUS_SOCKET_ENV} is not set: the frame root is derived from the nucleus IPC socket, "
            "so a pipeline component must be started by a Greengrass nucleus"
        )
    digest = hashlib.sha256(socket.encode()).hexdigest()[:_DIGEST_CHARS]
    return (base if base is not None else frame_base()) / f"{_ROOT_PREFIX}-{os.geteuid()}-{digest}"


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) and make sure it is OUR folder with mode 0750.

    The frame root lives in the world-writable /dev/shm (or temp dir): refuse a symlink or a folder
    someone else created there, instead of writing frames into it.
    """
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise FrameRingError(f"frame folder {path} is not a plain folder (symlink or file): refusing to use it")
    if info.st_uid != os.geteuid():
        raise FrameRingError(
            f"frame folder {path} belongs to uid {info.st_uid}, not to this user (uid {os.geteuid()}): "
            "refusing to use it; remove it (it is not ours)"
        )
    if stat.S_IMODE(info.st_mode) != DIR_MODE:
        os.chmod(path, DIR_MODE)


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    try:
        try:
            os.fchmod(fd, FILE_MODE)  # the umask may have removed the group's read bit
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` for copies of frames kept elsewhere (snapshots): whole
    or not at all, mode 0640, never through a symlink. A crash may leave ``.tmp-<name>`` beside it,
    which blocks the next write of that name until the caller removes it."""
    _write_atomically(path, data)



def ring_file_name(width: int, height: int, pixel_format: str = PIXEL_FORMAT) -> str:
    return f"{width}x{height}-{pixel_format}.ring"


def frame_id_of(camera_id: str, token: str, sequence: int) -> str:
    return f"{camera_id}-{token}-{sequence}"


class _RingFile:
    """One mapped ring file: its header and, per slot, views of its stamp, its fields and its pixels."""

    def __init__(self, header: FileHeader, mapping: mmap.mmap, identity: tuple[int, int]) -> None:
        self.header = header
        self.identity = identity  # (st_dev, st_ino): a file put in its place is another ring
        self._buffer = np.frombuffer(mapping, np.uint8)  # read-only when the mapping is
        offsets = [header.slot_offset(slot) for slot in range(header.slots)]
        self.stamps = [self._buffer[o : o + 8].view(np.uint64) for o in offsets]
        self.fields = [self._buffer[o + SLOT_FIELDS_OFFSET : o + SLOT_HEADER_BYTES] for o in offsets]
        self.pixels = [
            self._buffer[o + SLOT_HEADER_BYTES : o + SLOT_HEADER_BYTES + header.frame_bytes].reshape(
                header.height, header.width, 3)
            for o in offsets
        ]

    @property
    def jpeg_quality(self) -> int:
        """The camera's JPEG quality as the writer last set it (it may change while the file lives)."""
        return int(self._buffer[QUALITY_OFFSET : QUALITY_OFFSET + 4].view(np.uint32)[0])

    def set_jpeg_quality(self, quality: int) -> None:
        self._buffer[QUALITY_OFFSET : QUALITY_OFFSET + 4].view(np.uint32)[0] = quality

    def last_sequence(self) -> int | None:
        """The highest sequence written or being written in any slot; None for an empty ring."""
        found = [stamp_sequence(int(stamp[0])) for stamp in self.stamps]
        return max((s for s in found if s is not None), default=None)


def _open_ring_file(folder_fd: int, name: str, *, writable: bool, max_bytes: int, what: str) -> _RingFile:
    """Map the ring file ``name`` in the folder ``folder_fd``: a regular file (never through a symlink,
    not hung by a FIFO), at most ``max_bytes``, whose header is this layout's and whose size is what
    its header says. ``what`` names it in errors."""
    flags = (os.O_RDWR if writable else os.O_RDONLY) | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, dir_fd=folder_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FrameOutsideRoot(f"{what} is a symlink; refused") from None
        if exc.errno == errno.ENXIO:  # a socket (or a FIFO some systems refuse to open)
            raise FrameOutsideRoot(f"{what} is not a regular file; refused") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FrameOutsideRoot(f"{what} is not a regular file ({_file_kind(info.st_mode)}); refused")
        if info.st_size > max_bytes:
            raise FrameTooLarge(f"{what} has {info.st_size} bytes, over the {max_bytes}-byte limit of a ring")
        try:
            header = FileHeader.unpack(os.pread(fd, FILE_HEADER_BYTES, 0))
        except ValueError as exc:
            raise BadFrameRef(f"{what}: {exc}") from None
        if info.st_size != header.file_bytes:
            raise BadFrameRef(f"{what} has {info.st_size} bytes, its header says {header.file_bytes}")
        prot = mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0)
        mapping = mmap.mmap(fd, header.file_bytes, mmap.MAP_SHARED, prot)
    finally:
        os.close(fd)
    return _RingFile(header, mapping, (info.st_dev, info.st_ino))


def _open_folder(folder: str) -> int:
    try:
        return os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise FrameOutsideRoot(f"camera folder {folder} is not a plain folder") from None
        raise


class FrameRing:
    """One camera's ring of raw frames: fixed-size slots in one file per geometry. Thread-safe; one
    writer per camera folder."""

    def __init__(self, root: Path, camera_id: str, capacity: int, max_bytes: int | None = None, *,
                 jpeg_quality: int = DEFAULT_JPEG_QUALITY) -> None:
        """At most ``capacity`` slots and ``max_bytes`` of them (at least one slot); ``jpeg_quality``: the
        camera's, for whoever makes one of its frames a JPEG (kept in the ring file)."""
        if capacity < 1:
            raise ValueError("ring capacity must be at least one frame")
        if max_bytes is not None and max_bytes < 1:
            raise ValueError("ring max_bytes must be positive")
        self.root = Path(root)
        self.camera_id = camera_id
        self.capacity = capacity
        self.max_bytes = max_bytes
        self.directory = self.root / camera_id
        self._jpeg_quality = jpeg_quality
        self._lock = threading.Lock()
        self._ring: _RingFile | None = None
        self._ring_name = ""
        self.recycled = 0  # frames written over an older one
        ensure_private_dir(self.root)
        ensure_private_dir(self.directory)
        self._sequence = self._adopt_existing()

    # public -------------------------------------------------------------------------------
    @property
    def slots(self) -> int:
        """Slots of the ring file in use (0 before the first frame)."""
        return self._ring.header.slots if self._ring is not None else 0

    @property
    def path(self) -> Path | None:
        """The ring file in use (None before the first frame)."""
        return self.directory / self._ring_name if self._ring is not None else None

    def slots_for(self, width: int, height: int) -> int:
        """How many slots a ring of frames of this size gets."""
        stride = FileHeader(1, width, height, PIXEL_FORMAT, 0, "", "").slot_stride
        by_bytes = self.capacity if self.max_bytes is None else max(1, self.max_bytes // stride)
        return min(self.capacity, by_bytes)

    def set_jpeg_quality(self, quality: int) -> None:
        with self._lock:
            self._jpeg_quality = quality
            if self._ring is not None:
                self._ring.set_jpeg_quality(quality)

    def write(
        self,
        image: np.ndarray,
        *,
        size: tuple[int, int] | None = None,
        captured_at: float,
        captured_monotonic_ns: int,
        request_id: str | None = None,
        gate: GatePass | None = None,
        motion: list[MotionRegion] | None = None,
    ) -> FrameRef:
        """Store one BGR frame in the next slot and return its reference (``gate`` and ``motion``: the
        motion gate's verdict, see FrameRef). ``size`` (width, height): resized to it on the way into the
        slot (one pass, no intermediate copy); else stored as it is (one copy). FrameImageError for
        anything but an 8-bit 3-channel image, or one larger than a reader maps; OSError (e.g. ENOSPC) when
        a ring file cannot be made."""
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            shape = getattr(image, "shape", None)
            raise FrameImageError(f"not an 8-bit BGR image: {type(image).__name__} of shape {shape}")
        if not image.size:
            raise FrameImageError(f"empty image of shape {image.shape}")
        width, height = size if size is not None else (image.shape[1], image.shape[0])
        if width * height * 3 > MAX_FRAME_BYTES:
            raise FrameImageError(f"a {width}x{height} frame is over the {MAX_FRAME_BYTES}-byte frame limit")
        with self._lock:
            ring = self._ring_for(width, height)
            sequence = self._sequence
            slot = sequence % ring.header.slots
            self.recycled += int(ring.stamps[slot][0]) != 0
            _fill_slot(ring, slot, sequence, image, captured_at=captured_at,
                       captured_monotonic_ns=captured_monotonic_ns)
            self._sequence += 1
            token = ring.header.token
        return FrameRef(
            frame_id=frame_id_of(self.camera_id, token, sequence),
            camera_id=self.camera_id,
            slot=slot,
            sequence=sequence,
            captured_at=captured_at,
            captured_monotonic_ns=captured_monotonic_ns,
            width=width,
            height=height,
            format=PIXEL_FORMAT,
            request_id=request_id,
            gate=gate,
            motion=motion,
        )

    # internals ----------------------------------------------------------------------------
    def _adopt_existing(self) -> int:
        """The sequence after the highest one a previous run left (tmpfs outlives a component restart),
        so no frame id is ever reused; removes what an interrupted ring file creation left."""
        last = -1
        folder_fd = _open_folder(str(self.directory))
        try:
            for name in os.listdir(folder_fd):
                if name.startswith(_TEMPORARY):
                    os.unlink(name, dir_fd=folder_fd)
                elif _RING_NAME.match(name):
                    try:
                        ring = _open_ring_file(folder_fd, name, writable=False, max_bytes=MAX_RING_BYTES, what=name)
                    except (FrameError, OSError) as exc:
                        log.warning("ring file %s/%s unusable (%s); it will be replaced", self.directory, name, exc)
                        continue
                    last = max(last, ring.last_sequence() if ring.last_sequence() is not None else -1)
        finally:
            os.close(folder_fd)
        return last + 1

    def _ring_for(self, width: int, height: int) -> _RingFile:
        name = ring_file_name(width, height)
        slots = self.slots_for(width, height)
        if self._ring is not None and self._ring_name == name and self._ring.header.slots == slots:
            return self._ring
        ring = self._adopt(name, slots) or self._create(FileHeader(
            slots, width, height, PIXEL_FORMAT, self._jpeg_quality, secrets.token_hex(4), self.camera_id))
        self._ring, self._ring_name = ring, name
        self._remove_all_but(name)
        return ring

    def _adopt(self, name: str, slots: int) -> _RingFile | None:
        """The ring file a previous run left at ``name``, if it is this camera's with ``slots`` slots."""
        folder_fd = _open_folder(str(self.directory))
        try:
            ring = _open_ring_file(folder_fd, name, writable=True, max_bytes=MAX_RING_BYTES, what=name)
        except (FrameError, OSError):
            return None
        finally:
            os.close(folder_fd)
        if ring.header.slots != slots or ring.header.camera_id != self.camera_id:
            return None
        ring.set_jpeg_quality(self._jpeg_quality)
        return ring

    def _create(self, header: FileHeader) -> _RingFile:
        """A new ring file, all pages reserved, put in place whole (a temporary name, then renamed)."""
        name = ring_file_name(header.width, header.height, header.pixel_format)
        tmp, target = self.directory / f"{_TEMPORARY}{name}", self.directory / name
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
        try:
            try:
                os.fchmod(fd, FILE_MODE)  # the umask may have removed the group's read bit
                os.posix_fallocate(fd, 0, header.file_bytes)  # ENOSPC now rather than SIGBUS on a write
                os.pwrite(fd, header.pack(), 0)
                info = os.fstat(fd)
                mapping = mmap.mmap(fd, header.file_bytes, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
            finally:
                os.close(fd)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        log.info("camera %s: ring %s with %d slots of %d bytes", self.camera_id, target, header.slots,
                 header.slot_stride)
        return _RingFile(header, mapping, (info.st_dev, info.st_ino))

    def _remove_all_but(self, keep: str) -> None:
        """Delete the camera's other ring files (other geometries) and what the JPEG ring left."""
        for child in self.directory.iterdir():
            if child.name != keep and (_RING_NAME.match(child.name) or _JPEG_RING_NAME.match(child.name)):
                try:
                    child.unlink()
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    log.warning("could not delete old ring file %s: %s", child, exc)


def _fill_slot(ring: _RingFile, slot: int, sequence: int, image: np.ndarray, *, captured_at: float,
               captured_monotonic_ns: int) -> None:
    """The seqlock's write side (see :mod:`smartcam.frame_layout`)."""
    header = ring.header
    stamp, pixels = ring.stamps[slot], ring.pixels[slot]
    stamp[0] = in_progress(sequence)
    fence()
    ring.fields[slot][:SLOT_FIELDS_BYTES] = np.frombuffer(
        pack_slot_fields(sequence, captured_at=captured_at, captured_monotonic_ns=captured_monotonic_ns,
                         width=header.width, height=header.height, pixel_format=header.pixel_format), np.uint8)
    if image.shape[:2] == (header.height, header.width):
        np.copyto(pixels, image)
    else:
        shrinking = header.width * header.height < image.shape[0] * image.shape[1]
        cv2.resize(image, (header.width, header.height), dst=pixels,
                   interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    fence()
    stamp[0] = whole(sequence)


class FrameReader:
    """Reads frames out of the rings under one frame root; keeps each ring file it mapped (a new file at a
    ring's name is mapped anew). Thread-safe."""

    def __init__(self, root: Path | str, *, max_ring_bytes: int = MAX_RING_BYTES) -> None:
        self.root = os.path.realpath(root)
        self.max_ring_bytes = max_ring_bytes
        self.overwritten = 0  # reads thrown away because the writer reused the slot meanwhile
        self._rings: dict[tuple[str, str], _RingFile] = {}
        self._lock = threading.Lock()

    def read(self, ref: FrameRef, use: Callable[[np.ndarray], T]) -> T:
        """``use(pixels)`` on the frame's pixels in place ((H, W, 3) BGR, read-only, shared memory), and
        what it returned once the frame proved whole and unchanged throughout; ``use`` must return
        something that does not point into them (a resized image, a copy). Raises FrameExpired,
        FrameOverwritten (counted), BadFrameRef, FrameOutsideRoot or FrameTooLarge."""
        ring = self._ring(ref)
        self._check(ref, ring.header)
        stamp = ring.stamps[ref.slot]
        first = int(stamp[0])
        if first != whole(ref.sequence):
            raise self._not_in_slot(ref, first)
        fence()
        result = use(ring.pixels[ref.slot])
        fence()
        if int(stamp[0]) != first:
            with self._lock:
                self.overwritten += 1
            raise FrameOverwritten(f"frame {ref.frame_id} was overwritten while it was read (the writer went "
                                   f"round the ring's {ring.header.slots} slots meanwhile)")
        return result

    def copy(self, ref: FrameRef) -> np.ndarray:
        """A copy of the frame's pixels, (H, W, 3) BGR."""
        return self.read(ref, np.array)

    def jpeg(self, ref: FrameRef, *, quality: int | None = None) -> bytes:
        """The frame as JPEG bytes, at ``quality`` or else the camera's (jpegQuality, kept in the ring)."""
        chosen = self.jpeg_quality(ref) if quality is None else quality
        return self.read(ref, lambda pixels: encode_jpeg(pixels, chosen))  # encoded in place: no copy first

    def jpeg_quality(self, ref: FrameRef) -> int:
        """The JPEG quality the frame's camera is configured with (CameraIngest's jpegQuality)."""
        return self._ring(ref).jpeg_quality or DEFAULT_JPEG_QUALITY

    # internals ----------------------------------------------------------------------------
    def _ring(self, ref: FrameRef) -> _RingFile:
        if ref.width * ref.height * 3 > MAX_FRAME_BYTES:
            raise FrameTooLarge(f"frame {ref.frame_id} of {ref.width}x{ref.height} is over the "
                                f"{MAX_FRAME_BYTES}-byte frame limit")
        folder = os.path.join(self.root, ref.camera_id)
        if os.path.commonpath([self.root, os.path.abspath(folder)]) != self.root or ref.camera_id in (".", ".."):
            raise FrameOutsideRoot(f"frame {ref.frame_id}: camera {ref.camera_id} is outside the frame root")
        name = ring_file_name(ref.width, ref.height, ref.format)
        key = (ref.camera_id, name)
        try:
            info = os.stat(os.path.join(folder, name), follow_symlinks=False)
        except FileNotFoundError:
            with self._lock:
                self._rings.pop(key, None)
            raise self._no_ring(ref) from None
        with self._lock:
            cached = self._rings.get(key)
        if cached is not None and cached.identity == (info.st_dev, info.st_ino):
            return cached
        try:
            folder_fd = _open_folder(folder)
        except FileNotFoundError:
            raise self._no_ring(ref) from None
        try:
            ring = _open_ring_file(folder_fd, name, writable=False, max_bytes=self.max_ring_bytes,
                                   what=f"frame {ref.frame_id}: ring file {folder}/{name}")
        except FileNotFoundError:
            raise self._no_ring(ref) from None
        finally:
            os.close(folder_fd)
        with self._lock:
            # A camera has one ring file at a time: a mapping of another one of its files is of a file the
            # writer deleted, whose memory stays taken as long as it is mapped.
            for stale in [k for k in self._rings if k[0] == ref.camera_id and k != key]:
                del self._rings[stale]
            self._rings[key] = ring
        return ring

    @staticmethod
    def _no_ring(ref: FrameRef) -> FrameExpired:
        return FrameExpired(f"frame {ref.frame_id} expired: camera {ref.camera_id} has no ring of "
                            f"{ref.width}x{ref.height} frames any more")

    @staticmethod
    def _check(ref: FrameRef, header: FileHeader) -> None:
        if header.camera_id != ref.camera_id:
            raise BadFrameRef(f"frame {ref.frame_id}: the ring file in camera {ref.camera_id}'s folder is camera "
                              f"{header.camera_id}'s")
        if ref.frame_id != frame_id_of(ref.camera_id, header.token, ref.sequence):
            if re.fullmatch(rf"{re.escape(ref.camera_id)}-[0-9a-f]+-{ref.sequence}", ref.frame_id):
                raise FrameExpired(f"frame {ref.frame_id} expired: its ring file was replaced (another size, "
                                   "another slot count, or deleted)")
            raise BadFrameRef(f"frame {ref.frame_id} is not a frame id of camera {ref.camera_id}'s ring")
        if ref.slot >= header.slots or ref.slot != ref.sequence % header.slots:
            raise BadFrameRef(f"frame {ref.frame_id}: slot {ref.slot} is not where frame {ref.sequence} goes in a "
                              f"ring of {header.slots} slots")

    @staticmethod
    def _not_in_slot(ref: FrameRef, stamp: int) -> FrameError:
        holds = stamp_sequence(stamp)
        if holds is not None and holds > ref.sequence:
            return FrameExpired(f"frame {ref.frame_id} expired: slot {ref.slot} holds frame {holds} now (the reader "
                                "is slower than the ring's slots allow)")
        return BadFrameRef(f"frame {ref.frame_id}: slot {ref.slot} has no frame {ref.sequence} (it holds "
                           f"{'nothing' if holds is None else f'frame {holds}'}); refused")


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """JPEG bytes of a BGR (or gray) image."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise FrameError(f"JPEG encoding of a {image.shape} image failed")
    return data.tobytes()


def frame_as_jpeg(ref: FrameRef, root: Path | str, *, quality: int | None = None,
                  reader: FrameReader | None = None) -> bytes:
    """This frame as JPEG bytes: the one way to make a JPEG of a frame in the ring (snapshots, annotated
    output, data capture, tools). ``quality``: the camera's jpegQuality unless given; ``reader``: reuse
    one (it keeps its ring files mapped). Raises what :meth:`FrameReader.read` raises."""
    return (reader or FrameReader(root)).jpeg(ref, quality=quality)


def _file_kind(mode: int) -> str:
    kinds = {stat.S_ISDIR: "a folder", stat.S_ISFIFO: "a FIFO", stat.S_ISSOCK: "a socket",
             stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device"}
    return next((kind for test, kind in kinds.items() if test(mode)), "not a regular file")
