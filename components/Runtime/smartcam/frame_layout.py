"""The byte layout of a frame ring file, and the memory fence its seqlock needs.

A ring file holds one camera's frames of one geometry (width, height, pixel format): a file header,
then ``slots`` fixed-size slots, each a slot header and the pixels. All numbers little-endian.

File header (``FILE_HEADER_BYTES``, one page)::

    0   magic b"SCRING\\x00\\x01"
    8   layout version (u32), file header bytes (u32)
    16  slots, width, height, channels, pixel format code, JPEG quality (u32 each)
    40  slot stride, frame bytes (u64 each)
    56  token: 8 ASCII characters, in every frame id written to this file
    64  camera id: 128 bytes, NUL-padded

Slot header (``SLOT_HEADER_BYTES``; the pixels follow it, 64-byte aligned)::

    0   stamp (u64): 0 never written; 2*sequence+1 while the writer writes it (odd: in progress);
        2*sequence+2 once the frame is whole
    8   sequence (u64), 16 capture time (f64, epoch s), 24 capture monotonic ns (u64)
    32  width, height, pixel format code (u32 each)

The stamp is a seqlock: the writer sets the odd stamp, fences, writes header and pixels, fences, and
sets the even stamp. A reader reads the stamp, fences, copies (or resizes) what it needs, fences, and
reads the stamp again: a frame is returned only when both readings are the whole-frame stamp of the
sequence it asked for, so it can never get a frame half overwritten by a later one.
"""

from __future__ import annotations

import ctypes
import logging
import platform
import struct
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

MAGIC = b"SCRING\x00\x01"
LAYOUT_VERSION = 1
FILE_HEADER_BYTES = 4096
SLOT_HEADER_BYTES = 64
PAGE = 4096
TOKEN_CHARS = 8
CAMERA_ID_BYTES = 128
CHANNELS = 3
# Pixel formats by the name FrameRef carries; the code is what the headers hold.
FORMATS = {"bgr8": 1}

_FILE_HEADER = struct.Struct(f"<8sII6IQQ{TOKEN_CHARS}s{CAMERA_ID_BYTES}s")
_SLOT_FIELDS = struct.Struct("<QdQIII")  # sequence, captured_at, captured_monotonic_ns, width, height, format
SLOT_FIELDS_OFFSET = 8
SLOT_FIELDS_BYTES = _SLOT_FIELDS.size
QUALITY_OFFSET = 36  # the JPEG quality's place in the file header, updated in place


@dataclass(frozen=True)
class FileHeader:
    slots: int
    width: int
    height: int
    pixel_format: str
    jpeg_quality: int
    token: str
    camera_id: str

    @property
    def frame_bytes(self) -> int:
        return self.width * self.height * CHANNELS

    @property
    def slot_stride(self) -> int:
        """Slot header and pixels, rounded up to whole pages (each slot starts page-aligned)."""
        return -(-(SLOT_HEADER_BYTES + self.frame_bytes) // PAGE) * PAGE

    @property
    def file_bytes(self) -> int:
        return FILE_HEADER_BYTES + self.slots * self.slot_stride

    def slot_offset(self, slot: int) -> int:
        return FILE_HEADER_BYTES + slot * self.slot_stride

    def pack(self) -> bytes:
        return _FILE_HEADER.pack(
            MAGIC, LAYOUT_VERSION, FILE_HEADER_BYTES, self.slots, self.width, self.height, CHANNELS,
            FORMATS[self.pixel_format], self.jpeg_quality, self.slot_stride, self.frame_bytes,
            self.token.encode("ascii"), self.camera_id.encode(),
        )

    @classmethod
    def unpack(cls, data: bytes) -> FileHeader:
        """The header in ``data``; ValueError when it is not a ring file header this code wrote."""
        if len(data) < _FILE_HEADER.size:
            raise ValueError("shorter than a ring file header")
        (magic, version, header_bytes, slots, width, height, channels, code, quality, stride, frame_bytes, token,
         camera) = _FILE_HEADER.unpack_from(data)
        if magic != MAGIC or version != LAYOUT_VERSION or header_bytes != FILE_HEADER_BYTES:
            raise ValueError("not a ring file of this layout version")
        names = {value: name for name, value in FORMATS.items()}
        if channels != CHANNELS or code not in names or not (slots and width and height):
            raise ValueError("ring file header with an unknown geometry or pixel format")
        try:
            header = cls(slots, width, height, names[code], quality, token.decode("ascii"),
                         camera.rstrip(b"\x00").decode())
        except UnicodeDecodeError:
            raise ValueError("ring file header with an unreadable token or camera id") from None
        if (stride, frame_bytes) != (header.slot_stride, header.frame_bytes):
            raise ValueError("ring file header whose slot size does not follow from its geometry")
        return header


def pack_slot_fields(sequence: int, *, captured_at: float, captured_monotonic_ns: int, width: int, height: int,
                     pixel_format: str) -> bytes:
    return _SLOT_FIELDS.pack(sequence, captured_at, captured_monotonic_ns, width, height, FORMATS[pixel_format])


def in_progress(sequence: int) -> int:
    return 2 * sequence + 1


def whole(sequence: int) -> int:
    return 2 * sequence + 2


def stamp_sequence(stamp: int) -> int | None:
    """The sequence a stamp is about (written or being written), None for a slot never written."""
    return None if stamp == 0 else (stamp - 1) // 2


def _fence_function() -> Callable[[], None]:
    """A full memory barrier (C11 ``atomic_thread_fence(memory_order_seq_cst)`` from libatomic).

    Without it, a weakly ordered CPU (ARM) may make the pixel stores visible before the odd stamp, or
    load pixels before the first stamp load. x86-64 keeps stores and loads in order (TSO), and every
    numpy or OpenCV call is an opaque C call the compiler cannot move memory accesses across, so
    there a missing libatomic costs nothing."""
    try:
        library = ctypes.CDLL("libatomic.so.1")
        fence = library.atomic_thread_fence
    except (OSError, AttributeError):
        if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686"):
            log.warning("libatomic.so.1 not found: the frame ring's seqlock runs without memory fences on %s",
                        platform.machine())
        return lambda: None
    fence.argtypes = [ctypes.c_int]
    fence.restype = None
    seq_cst = 5  # memory_order_seq_cst
    return lambda: fence(seq_cst)


fence = _fence_function()
