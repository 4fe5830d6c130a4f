"""AWS eventstream framing: the binary message codec under Greengrass IPC.

``u32 total_length | u32 headers_length | u32 prelude_crc | headers | payload | u32 message_crc``,
big-endian, CRC32 as in zlib. Limits follow aws-c-event-stream. The decoder is incremental and
rejects an oversize frame as soon as its 12-byte prelude arrives, so a hostile peer cannot make us
buffer more than one maximum-size frame. Anything malformed raises :class:`ProtocolError` and nothing else.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache
from typing import Any, NamedTuple

MAX_MESSAGE_SIZE = 16 * 1024 * 1024
MAX_HEADERS_SIZE = 128 * 1024
MAX_HEADER_NAME_LENGTH = 127
MAX_HEADER_VALUE_LENGTH = 32767
PRELUDE_SIZE = 12
OVERHEAD = PRELUDE_SIZE + 4

_PRELUDE = struct.Struct(">III")
_LENGTHS = struct.Struct(">II")
_U32 = struct.Struct(">I")


class ProtocolError(Exception):
    """The peer sent bytes that are not a valid eventstream message."""


class HeaderType(IntEnum):
    TRUE = 0
    FALSE = 1
    BYTE = 2
    INT16 = 3
    INT32 = 4
    INT64 = 5
    BYTES = 6
    STRING = 7
    TIMESTAMP = 8
    UUID = 9


_INT_FORMATS = {
    HeaderType.BYTE: struct.Struct(">b"),
    HeaderType.INT16: struct.Struct(">h"),
    HeaderType.INT32: struct.Struct(">i"),
    HeaderType.INT64: struct.Struct(">q"),
    HeaderType.TIMESTAMP: struct.Struct(">q"),
}
_U16 = struct.Struct(">H")
_INT32 = _INT_FORMATS[HeaderType.INT32]


class Header(NamedTuple):
    name: str
    type: HeaderType
    value: Any  # bool, int (ints and timestamp in ms), bytes, str or uuid.UUID

    @classmethod
    def int32(cls, name: str, value: int) -> Header:
        return cls(name, HeaderType.INT32, value)

    @classmethod
    def string(cls, name: str, value: str) -> Header:
        return cls(name, HeaderType.STRING, value)


@dataclass(frozen=True)
class Message:
    headers: tuple[Header, ...]
    payload: bytes

    def header(self, name: str) -> Header | None:
        for header in self.headers:
            if header.name == name:
                return header
        return None


_INT32_TYPE = bytes([HeaderType.INT32])


@lru_cache(maxsize=256)
def _encode_name(name: str) -> bytes:
    encoded = name.encode()
    if not 0 < len(encoded) <= MAX_HEADER_NAME_LENGTH:
        raise ValueError(f"header name {name!r} must be 1..{MAX_HEADER_NAME_LENGTH} bytes")
    return bytes([len(encoded)]) + encoded


def _encode_header(header: Header) -> bytes:
    kind = header.type
    if kind == HeaderType.INT32:  # the hot path: three of these on every RPC message
        return _encode_name(header.name) + _INT32_TYPE + _INT_FORMATS[HeaderType.INT32].pack(header.value)
    if kind == HeaderType.STRING:
        return _encode_string_header(header.name, header.value)
    out = _encode_name(header.name)
    kind = HeaderType(kind)
    if kind in (HeaderType.TRUE, HeaderType.FALSE):
        return out + bytes([HeaderType.TRUE if header.value else HeaderType.FALSE])
    out += bytes([kind])
    if kind in _INT_FORMATS:
        return out + _INT_FORMATS[kind].pack(header.value)
    if kind is HeaderType.BYTES:
        data = bytes(header.value)
        if len(data) > MAX_HEADER_VALUE_LENGTH:
            raise ValueError(f"header {header.name!r} value longer than {MAX_HEADER_VALUE_LENGTH} bytes")
        return out + _U16.pack(len(data)) + data
    value = header.value.bytes if isinstance(header.value, uuid.UUID) else bytes(header.value)
    if len(value) != 16:
        raise ValueError("uuid header value must be 16 bytes")
    return out + value


@lru_cache(maxsize=1024)  # content types, model names and operation names repeat endlessly
def _encode_string_header(name: str, value: str) -> bytes:
    data = value.encode()
    if len(data) > MAX_HEADER_VALUE_LENGTH:
        raise ValueError(f"header {name!r} value longer than {MAX_HEADER_VALUE_LENGTH} bytes")
    return _encode_name(name) + bytes([HeaderType.STRING]) + _U16.pack(len(data)) + data


def encode_message(headers: list[Header] | tuple[Header, ...], payload: bytes = b"") -> bytes:
    return encode_frame(b"".join([_encode_header(h) for h in headers]), payload)


def encode_int32_header(name: str, value: int) -> bytes:
    return _encode_name(name) + _INT32_TYPE + _INT32.pack(value)


def encode_headers(headers: list[Header] | tuple[Header, ...]) -> bytes:
    return b"".join([_encode_header(h) for h in headers])


def encode_frame(encoded_headers: bytes, payload: bytes = b"") -> bytes:
    """A frame from an already encoded header block (see :func:`encode_headers`)."""
    total = OVERHEAD + len(encoded_headers) + len(payload)
    if len(encoded_headers) > MAX_HEADERS_SIZE or total > MAX_MESSAGE_SIZE:
        raise ValueError("message exceeds the eventstream size limits")
    lengths = _LENGTHS.pack(total, len(encoded_headers))
    head = lengths + _U32.pack(zlib.crc32(lengths)) + encoded_headers + payload
    return head + _U32.pack(zlib.crc32(head))


def _need(pos: int, count: int, end: int) -> None:
    if pos + count > end:
        raise ProtocolError("header runs past the end of the header block")


def _decode_value(kind: HeaderType, data: bytes, pos: int, end: int) -> tuple[Any, int]:
    """The value of a header of type ``kind`` starting at ``pos``, and the position after it."""
    if kind is HeaderType.TRUE or kind is HeaderType.FALSE:
        return kind is HeaderType.TRUE, pos
    if kind in _INT_FORMATS:
        fmt = _INT_FORMATS[kind]
        _need(pos, fmt.size, end)
        return fmt.unpack_from(data, pos)[0], pos + fmt.size
    if kind is HeaderType.UUID:
        _need(pos, 16, end)
        return uuid.UUID(bytes=data[pos : pos + 16]), pos + 16
    _need(pos, 2, end)
    length = _U16.unpack_from(data, pos)[0]
    if length > MAX_HEADER_VALUE_LENGTH:
        raise ProtocolError(f"header value longer than {MAX_HEADER_VALUE_LENGTH} bytes")
    pos += 2
    _need(pos, length, end)
    raw = data[pos : pos + length]
    return (raw.decode() if kind is HeaderType.STRING else raw), pos + length


def _decode_headers(data: bytes) -> tuple[Header, ...]:
    headers: list[Header] = []
    pos, end = 0, len(data)
    try:
        while pos < end:
            name_length = data[pos]
            if name_length == 0 or name_length > MAX_HEADER_NAME_LENGTH:
                raise ProtocolError(f"invalid header name length {name_length}")
            name_end = pos + 1 + name_length
            _need(name_end, 1, end)
            name = data[pos + 1 : name_end].decode()
            type_byte = data[name_end]
            pos = name_end + 1
            if type_byte == HeaderType.INT32:  # the hot path
                _need(pos, 4, end)
                headers.append(Header(name, HeaderType.INT32, _INT32.unpack_from(data, pos)[0]))
                pos += 4
                continue
            if type_byte > HeaderType.UUID:
                raise ProtocolError(f"unknown header value type {type_byte}")
            kind = HeaderType(type_byte)
            value, pos = _decode_value(kind, data, pos, end)
            headers.append(Header(name, kind, value))
    except UnicodeDecodeError as exc:
        raise ProtocolError("header name or string value is not UTF-8") from exc
    return tuple(headers)


def _check_prelude(prelude: bytes) -> tuple[int, int]:
    total, headers_length, prelude_crc = _PRELUDE.unpack(prelude)
    if zlib.crc32(prelude[:8]) != prelude_crc:
        raise ProtocolError("prelude CRC mismatch")
    if total < OVERHEAD or total > MAX_MESSAGE_SIZE:
        raise ProtocolError(f"message length {total} outside {OVERHEAD}..{MAX_MESSAGE_SIZE}")
    if headers_length > MAX_HEADERS_SIZE:
        raise ProtocolError(f"headers length {headers_length} exceeds {MAX_HEADERS_SIZE}")
    if headers_length > total - OVERHEAD:
        raise ProtocolError("headers length exceeds the message length")
    return total, headers_length


def _decode_frame(frame: bytes, headers_length: int) -> Message:
    if zlib.crc32(frame[:-4]) != _U32.unpack(frame[-4:])[0]:
        raise ProtocolError("message CRC mismatch")
    headers = _decode_headers(frame[PRELUDE_SIZE : PRELUDE_SIZE + headers_length])
    return Message(headers, frame[PRELUDE_SIZE + headers_length : -4])


def decode_message(data: bytes) -> Message:
    """Decode exactly one complete message."""
    if len(data) < PRELUDE_SIZE:
        raise ProtocolError("shorter than a prelude")
    total, headers_length = _check_prelude(data[:PRELUDE_SIZE])
    if len(data) != total:
        raise ProtocolError(f"message length {total} but {len(data)} bytes given")
    return _decode_frame(data, headers_length)


class Decoder:
    """Incremental decoder: feed bytes as they arrive, get whole messages back.

    After a :class:`ProtocolError` the stream is out of sync; the decoder stays failed.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._failed: ProtocolError | None = None

    def feed(self, data: bytes) -> list[Message]:
        if self._failed is not None:
            raise self._failed
        self._buffer += data
        messages: list[Message] = []
        try:
            while len(self._buffer) >= PRELUDE_SIZE:
                total, headers_length = _check_prelude(bytes(self._buffer[:PRELUDE_SIZE]))
                if len(self._buffer) < total:
                    break
                frame = bytes(self._buffer[:total])
                del self._buffer[:total]
                messages.append(_decode_frame(frame, headers_length))
        except ProtocolError as exc:
            self._failed = exc
            self._buffer.clear()
            raise
        return messages
