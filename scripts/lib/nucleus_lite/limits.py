"""Nucleus lite's limit on JSON messages between components, computed as its core bus computes it.

A subscriber's copy of a local pub/sub message is decoded by ggipcd into a fixed arena of
``PAYLOAD_MAX_SUBOBJECTS`` (50) x ``sizeof(GgObject)`` (11 bytes on 64-bit) = 550 bytes
(core-bus/src/client_subscribe.c). Decoding allocates, with no padding (byte-aligned types), one
``GgKV`` (8 + 2 + 11 = 21 bytes) per map entry and one ``GgObject`` (11) per list item; strings and
numbers live in the packet. The envelope {topic, type, message} is a 3-entry map. A message that
needs more is dropped with "Insufficient memory to decode packet" and no subscriber sees it.
"""

from __future__ import annotations

from typing import Any

ARENA_BYTES = 50 * 11
KV_BYTES = 21
OBJECT_BYTES = 11
ENVELOPE_BYTES = 3 * KV_BYTES


def decode_bytes(value: Any) -> int:
    """Arena bytes lite needs to decode ``value`` (a JSON-like tree), the envelope excluded."""
    if isinstance(value, dict):
        return sum(KV_BYTES + decode_bytes(v) for v in value.values())
    if isinstance(value, list | tuple):
        return sum(OBJECT_BYTES + decode_bytes(v) for v in value)
    return 0


def fits_as_json(message: Any) -> bool:
    """Whether lite delivers ``message`` as an IPC jsonMessage to a subscriber."""
    return ENVELOPE_BYTES + decode_bytes(message) <= ARENA_BYTES
