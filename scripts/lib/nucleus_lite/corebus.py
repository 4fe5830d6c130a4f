"""A minimal client of nucleus lite's core bus (the Unix sockets in its /run/greengrass/).

Wire format, from lite's core-bus sources: one eventstream message per call, headers ``method``
(string) and ``type`` (int32: 0 notify, 1 call, 2 subscribe), payload an object in lite's own
serialisation: a type byte (0 null, 1 bool, 2 i64, 3 f64, 4 buffer, 5 list, 6 map) then the value,
little endian; buffers and lists and maps carry a u32 length, map keys are bare buffers. An
``error`` header in the answer carries a GgError code. Used for what ``ggl-cli`` cannot do: a local
deployment with ``component_to_configuration`` (a configuration merge), and component states.
"""

from __future__ import annotations

import socket
import struct
from pathlib import Path
from typing import Any

from nucleus_lite.reuse import Decoder, Header, encode_message

CALL = 1
_NULL, _BOOL, _I64, _F64, _BUF, _LIST, _MAP = range(7)
_U32 = struct.Struct("<I")


class CoreBusError(RuntimeError):
    def __init__(self, interface: str, method: str, code: int | None, detail: str = "") -> None:
        super().__init__(f"{interface}.{method} failed" + (f" (GgError {code})" if code is not None else "")
                         + (f": {detail}" if detail else ""))
        self.code = code


def encode(value: Any) -> bytes:  # noqa: PLR0911 - one return per wire type
    if value is None:
        return bytes([_NULL])
    if isinstance(value, bool):
        return bytes([_BOOL, int(value)])
    if isinstance(value, int):
        return bytes([_I64]) + struct.pack("<q", value)
    if isinstance(value, float):
        return bytes([_F64]) + struct.pack("<d", value)
    if isinstance(value, str | bytes):
        data = value.encode() if isinstance(value, str) else value
        return bytes([_BUF]) + _U32.pack(len(data)) + data
    if isinstance(value, list | tuple):
        return bytes([_LIST]) + _U32.pack(len(value)) + b"".join(encode(v) for v in value)
    if isinstance(value, dict):
        parts = [bytes([_MAP]), _U32.pack(len(value))]
        for key, item in value.items():
            raw = str(key).encode()
            parts += [_U32.pack(len(raw)), raw, encode(item)]
        return b"".join(parts)
    raise TypeError(f"cannot send {type(value).__name__} on the core bus")


def decode(data: bytes) -> Any:
    value, end = _decode(data, 0)
    if end != len(data):
        raise ValueError(f"{len(data) - end} trailing bytes in a core bus payload")
    return value


def _decode(data: bytes, pos: int) -> tuple[Any, int]:  # noqa: PLR0911 - one return per wire type
    kind = data[pos]
    pos += 1
    if kind == _NULL:
        return None, pos
    if kind == _BOOL:
        return bool(data[pos]), pos + 1
    if kind == _I64:
        return struct.unpack_from("<q", data, pos)[0], pos + 8
    if kind == _F64:
        return struct.unpack_from("<d", data, pos)[0], pos + 8
    (length,) = _U32.unpack_from(data, pos)
    pos += 4
    if kind == _BUF:
        raw = data[pos:pos + length]
        try:
            return raw.decode(), pos + length
        except UnicodeDecodeError:
            return raw, pos + length
    if kind == _LIST:
        items = []
        for _ in range(length):
            item, pos = _decode(data, pos)
            items.append(item)
        return items, pos
    if kind == _MAP:
        result = {}
        for _ in range(length):
            (key_length,) = _U32.unpack_from(data, pos)
            key = data[pos + 4:pos + 4 + key_length].decode()
            result[key], pos = _decode(data, pos + 4 + key_length)
        return result, pos
    raise ValueError(f"unknown core bus object type {kind}")


def call(socket_dir: Path, interface: str, method: str, params: dict[str, Any], timeout: float = 30.0) -> Any:
    """One core bus call: connect to ``<socket_dir>/<interface>``, send, read one answer."""
    message = encode_message([Header.string("method", method), Header.int32("type", CALL)], encode(params))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        conn.connect(str(socket_dir / interface))
        conn.sendall(message)
        decoder = Decoder()
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                raise CoreBusError(interface, method, None, "connection closed without an answer")
            for answer in decoder.feed(chunk):
                error = answer.header("error")
                if error is not None:
                    raise CoreBusError(interface, method, int(error.value))
                return decode(answer.payload) if answer.payload else None
