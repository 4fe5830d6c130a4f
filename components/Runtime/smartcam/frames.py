"""The frame ring: how frames travel from camera ingest to inference by reference.

IPC messages are capped at 128 KB on a device, so a frame never rides in a message. The writer
(camera ingest) puts each JPEG into ``<root>/<camera id>/<sequence>-<frame id>.jpg`` and publishes a
:class:`~smartcam.contracts.FrameRef`; readers call :func:`read_frame`.

Guarantees:
- Every frame gets a file name that is never reused (the sequence goes on across restarts and the
  frame id carries a random per-ring token), and files are written to a temporary name and renamed
  into place, so a reader sees a whole JPEG or nothing.
- The ring deletes its oldest files beyond ``capacity`` frames or ``max_bytes`` bytes, so disk use
  is bounded. A reader that comes too late gets :class:`FrameExpired`, never a different image.
- Folders are 0750 and files 0640: readable by the pipeline's user and group only.
- A reader takes only a regular file at the frame's ring name, never follows a symlink there,
  cannot be hung by a FIFO there, and reads at most ``MAX_FRAME_BYTES``.

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
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import secrets
import stat
import tempfile
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from smartcam.contracts import FrameRef, GatePass, MotionRegion

log = logging.getLogger(__name__)

DIR_MODE = 0o750
FILE_MODE = 0o640
# Set by the nucleus (Java and lite) in the environment of every component it starts.
NUCLEUS_SOCKET_ENV = "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT"
_ROOT_PREFIX = "smartcam-frames"
_DIGEST_CHARS = 16
# Shared and world-writable: ensure_private_dir refuses a folder there that is not our own.
_SHM = Path("/dev/shm")  # noqa: S108  # nosec B108
_FRAME_NAME = re.compile(r"^(?P<sequence>\d{12})-(?P<frame_id>[A-Za-z0-9][A-Za-z0-9_.:-]*)\.jpg$")
_TMPFS_MAGIC = "tmpfs"
# The most a reader takes from one ring file: far above a JPEG of any camera we serve (an 8K frame
# at quality 100 is ~20 MB), far below what would exhaust a device's memory.
MAX_FRAME_BYTES = 32 * 1024 * 1024


class FrameError(Exception):
    """A frame reference that cannot be served; ``str()`` says why."""


class FrameExpired(FrameError):
    """The frame was already recycled out of the ring (the reader came too late)."""


class FrameOutsideRoot(FrameError, ValueError):
    """The reference points outside the frame root (or is not a ring file): refused."""


class FrameTooLarge(FrameError):
    """The ring file is larger than any frame may be (see :data:`MAX_FRAME_BYTES`)."""


class FrameRingError(RuntimeError):
    """The ring's folder cannot be used safely (wrong owner, a symlink, not a folder)."""


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


def frame_file_name(sequence: int, frame_id: str) -> str:
    return f"{sequence:012d}-{frame_id}.jpg"


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


@dataclass(frozen=True)
class _Entry:
    path: Path
    size: int


class FrameRing:
    """Bounded ring of JPEG files for one camera. Thread-safe; one writer per camera folder."""

    def __init__(
        self, root: Path, camera_id: str, capacity: int, max_bytes: int | None = None
    ) -> None:
        if capacity < 1:
            raise ValueError("ring capacity must be at least one frame")
        if max_bytes is not None and max_bytes < 1:
            raise ValueError("ring max_bytes must be positive")
        self.root = Path(root)
        self.camera_id = camera_id
        self.capacity = capacity
        self.max_bytes = max_bytes
        self.directory = self.root / camera_id
        self._token = secrets.token_hex(4)
        self._lock = threading.Lock()
        self._entries: deque[_Entry] = deque()
        self._bytes = 0
        self.recycled = 0
        ensure_private_dir(self.root)
        ensure_private_dir(self.directory)
        self._sequence = self._adopt_existing()
        self._trim()

    # public -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._entries)

    @property
    def total_bytes(self) -> int:
        return self._bytes

    def write(
        self,
        jpeg: bytes,
        *,
        width: int,
        height: int,
        captured_at: float,
        captured_monotonic_ns: int,
        request_id: str | None = None,
        gate: GatePass | None = None,
        motion: list[MotionRegion] | None = None,
    ) -> FrameRef:
        """Store one JPEG and return its reference (``gate`` and ``motion``: the motion gate's verdict,
        see FrameRef). Raises OSError (e.g. ENOSPC) when it cannot be written; the ring stays consistent
        and nothing half-written is left behind."""
        with self._lock:
            sequence = self._sequence
            frame_id = f"{self.camera_id}-{self._token}-{sequence}"
            path = self.directory / frame_file_name(sequence, frame_id)
            _write_atomically(path, jpeg)
            self._sequence += 1
            self._entries.append(_Entry(path, len(jpeg)))
            self._bytes += len(jpeg)
            self._trim()
        return FrameRef(
            frame_id=frame_id,
            camera_id=self.camera_id,
            path=str(path),
            sequence=sequence,
            captured_at=captured_at,
            captured_monotonic_ns=captured_monotonic_ns,
            width=width,
            height=height,
            request_id=request_id,
            gate=gate,
            motion=motion,
        )

    # internals ----------------------------------------------------------------------------
    def _adopt_existing(self) -> int:
        """Count files a previous run left (tmpfs outlives a component restart) so the bounds hold,
        and continue the sequence after them so no name is ever reused."""
        found: list[tuple[int, _Entry]] = []
        for child in self.directory.iterdir():
            if child.name.startswith(".tmp-"):
                child.unlink(missing_ok=True)  # a write interrupted by a crash
                continue
            match = _FRAME_NAME.match(child.name)
            if match and child.is_file():
                found.append((int(match["sequence"]), _Entry(child, child.stat().st_size)))
        found.sort(key=lambda item: item[0])
        for _, entry in found:
            self._entries.append(entry)
            self._bytes += entry.size
        return found[-1][0] + 1 if found else 0

    def _trim(self) -> None:
        # Keep at least the newest frame even if it alone exceeds max_bytes.
        while len(self._entries) > 1 and (
            len(self._entries) > self.capacity or (self.max_bytes is not None and self._bytes > self.max_bytes)
        ):
            oldest = self._entries.popleft()
            self._bytes -= oldest.size
            self.recycled += 1
            try:
                oldest.path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("could not delete recycled frame %s: %s", oldest.path, exc)


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
    """Write ``data`` to ``path`` as the ring writes a frame (for copies of frames kept elsewhere): whole
    or not at all, mode 0640, never through a symlink. A crash may leave ``.tmp-<name>`` beside it,
    which blocks the next write of that name until the caller removes it."""
    _write_atomically(path, data)


def read_frame(ref: FrameRef, root: Path | str, *, max_bytes: int = MAX_FRAME_BYTES) -> bytes:
    """The JPEG bytes of ``ref``. Raises FrameOutsideRoot for a path that is not a ring file of
    ``ref`` under ``root`` (or is a symlink, a FIFO, a folder: anything but a regular file),
    FrameExpired when the frame has been recycled, and FrameTooLarge over ``max_bytes``.

    The file is opened relative to the camera folder's descriptor, with O_NOFOLLOW (a symlink put
    at a ring name is refused, never followed) and O_NONBLOCK (a FIFO there cannot hang the
    reader), and only read once fstat shows a regular file of bounded size.
    """
    folder, name = _ring_location(ref, root)
    fd = _open_ring_file(ref, folder, name)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FrameOutsideRoot(
                f"frame {ref.frame_id}: {ref.path} is not a regular file ({_file_kind(info.st_mode)}); refused"
            )
        if info.st_size > max_bytes:
            raise FrameTooLarge(
                f"frame {ref.frame_id}: {ref.path} has {info.st_size} bytes, over the {max_bytes}-byte frame limit"
            )
    except BaseException:
        os.close(fd)
        raise
    # Once open, the data stays readable even if the writer recycles the file meanwhile.
    with os.fdopen(fd, "rb", buffering=0) as handle:
        data = bytearray()
        while len(data) <= max_bytes:  # bounded even if the file grew since fstat
            chunk = handle.read(max_bytes + 1 - len(data))
            if not chunk:
                break
            data += chunk
    if len(data) > max_bytes:
        raise FrameTooLarge(f"frame {ref.frame_id}: {ref.path} is over the {max_bytes}-byte frame limit")
    return bytes(data)


def _ring_location(ref: FrameRef, root: Path | str) -> tuple[str, str]:
    """The camera folder (resolved) and file name of ``ref``'s ring file, if ``ref.path`` names it."""
    root_real = os.path.realpath(root)
    folder = os.path.join(root_real, ref.camera_id)
    name = frame_file_name(ref.sequence, ref.frame_id)
    # The folder part of ref.path resolved, its last part as it is: that one is never followed.
    given = os.path.join(os.path.realpath(os.path.dirname(os.path.abspath(ref.path))), os.path.basename(ref.path))
    if os.path.commonpath([root_real, given]) != root_real:
        raise FrameOutsideRoot(f"frame {ref.frame_id}: path {ref.path} is outside the frame root {root}")
    expected = os.path.join(folder, name)
    if given != expected:
        raise FrameOutsideRoot(
            f"frame {ref.frame_id}: path {ref.path} is not the ring file of this frame (expected {expected})"
        )
    return folder, name


def _open_ring_file(ref: FrameRef, folder: str, name: str) -> int:
    expired = FrameExpired(
        f"frame {ref.frame_id} expired: {ref.path} was recycled from the ring "
        "(the reader is slower than the ring's capacity allows)"
    )
    try:
        folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise expired from None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise FrameOutsideRoot(f"frame {ref.frame_id}: camera folder {folder} is not a plain folder") from None
        raise
    try:
        return os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder_fd)
    except FileNotFoundError:
        raise expired from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FrameOutsideRoot(f"frame {ref.frame_id}: {ref.path} is a symlink; refused") from None
        if exc.errno == errno.ENXIO:  # a socket (or a FIFO some systems refuse to open)
            raise FrameOutsideRoot(f"frame {ref.frame_id}: {ref.path} is not a regular file; refused") from None
        raise
    finally:
        os.close(folder_fd)


def _file_kind(mode: int) -> str:
    kinds = {stat.S_ISDIR: "a folder", stat.S_ISFIFO: "a FIFO", stat.S_ISSOCK: "a socket",
             stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device"}
    return next((kind for test, kind in kinds.items() if test(mode)), "not a regular file")
