"""The eventstream codec: round trips, limits, and a decoder that fails only with ProtocolError."""

from __future__ import annotations

import contextlib
import uuid
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local_greengrass.ipc.eventstream import (
    MAX_HEADERS_SIZE,
    MAX_MESSAGE_SIZE,
    Decoder,
    Header,
    HeaderType,
    ProtocolError,
    decode_message,
    encode_message,
)
from local_greengrass.ipc.rpc import MessageType, parse_rpc, rpc_frame

names = st.text(min_size=1, max_size=40).filter(lambda n: 0 < len(n.encode()) <= 127)
header_values = st.one_of(
    st.builds(lambda n: Header(n, HeaderType.TRUE, True), names),
    st.builds(lambda n: Header(n, HeaderType.FALSE, False), names),
    st.builds(lambda n, v: Header(n, HeaderType.BYTE, v), names, st.integers(-(2**7), 2**7 - 1)),
    st.builds(lambda n, v: Header(n, HeaderType.INT16, v), names, st.integers(-(2**15), 2**15 - 1)),
    st.builds(lambda n, v: Header(n, HeaderType.INT32, v), names, st.integers(-(2**31), 2**31 - 1)),
    st.builds(lambda n, v: Header(n, HeaderType.INT64, v), names, st.integers(-(2**63), 2**63 - 1)),
    st.builds(lambda n, v: Header(n, HeaderType.TIMESTAMP, v), names, st.integers(-(2**63), 2**63 - 1)),
    st.builds(lambda n, v: Header(n, HeaderType.BYTES, v), names, st.binary(max_size=300)),
    st.builds(lambda n, v: Header(n, HeaderType.STRING, v), names, st.text(max_size=100)),
    st.builds(lambda n, v: Header(n, HeaderType.UUID, v), names, st.uuids()),
)
messages = st.tuples(st.lists(header_values, max_size=8), st.binary(max_size=2000))


@given(messages)
def test_round_trip(message):
    headers, payload = message
    decoded = decode_message(encode_message(headers, payload))
    assert decoded.headers == tuple(headers)
    assert decoded.payload == payload


@given(st.lists(messages, min_size=1, max_size=5), st.integers(min_value=1, max_value=64))
def test_incremental_decoder_reassembles_any_chunking(batch, chunk):
    stream = b"".join(encode_message(h, p) for h, p in batch)
    decoder = Decoder()
    decoded = []
    for start in range(0, len(stream), chunk):
        decoded += decoder.feed(stream[start : start + chunk])
    assert [(m.headers, m.payload) for m in decoded] == [(tuple(h), p) for h, p in batch]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_decoder_on_random_bytes_raises_only_protocol_error(data):
    decoder = Decoder()
    with contextlib.suppress(ProtocolError):
        decoder.feed(data)


def _reframe(body: bytes) -> bytes:
    """Give mutated bytes valid lengths and CRCs, so the header parser itself is exercised."""
    headers_length = len(body)
    total = 16 + headers_length
    head = total.to_bytes(4, "big") + headers_length.to_bytes(4, "big")
    head += zlib.crc32(head).to_bytes(4, "big") + body
    return head + zlib.crc32(head).to_bytes(4, "big")


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_random_header_blocks_with_valid_crcs_raise_only_protocol_error(body):
    with contextlib.suppress(ProtocolError):
        decode_message(_reframe(body))


@given(messages, st.data())
def test_single_bit_flips_are_detected(message, data):
    frame = bytearray(encode_message(*message))
    position = data.draw(st.integers(0, len(frame) - 1))
    frame[position] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(ProtocolError):
        Decoder().feed(bytes(frame))


def _prelude(total: int, headers_length: int) -> bytes:
    head = total.to_bytes(4, "big") + headers_length.to_bytes(4, "big")
    return head + zlib.crc32(head).to_bytes(4, "big")


@pytest.mark.parametrize(
    ("total", "headers_length"),
    [(MAX_MESSAGE_SIZE + 1, 0), (2**32 - 1, 0), (15, 0), (1000, MAX_HEADERS_SIZE + 1), (100, 90)],
)
def test_bad_lengths_are_refused_from_the_prelude_alone(total, headers_length):
    with pytest.raises(ProtocolError):
        Decoder().feed(_prelude(total, headers_length))


def test_failed_decoder_stays_failed():
    decoder = Decoder()
    with pytest.raises(ProtocolError):
        decoder.feed(b"\x00" * 16)
    with pytest.raises(ProtocolError):
        decoder.feed(encode_message([], b""))


def test_encoder_refuses_oversize_values():
    with pytest.raises(ValueError):
        encode_message([Header("x" * 128, HeaderType.STRING, "")])
    with pytest.raises(ValueError):
        encode_message([Header("x", HeaderType.BYTES, b"\x00" * 32768)])
    with pytest.raises(ValueError):
        encode_message([], b"\x00" * MAX_MESSAGE_SIZE)


def test_known_bytes_of_a_connect_ack():
    frame = rpc_frame(MessageType.CONNECT_ACK, 0, flags=1)
    rpc = parse_rpc(decode_message(frame))
    assert (rpc.message_type, rpc.flags, rpc.stream_id) == (MessageType.CONNECT_ACK, 1, 0)
    assert frame[:4] == len(frame).to_bytes(4, "big")
    assert int.from_bytes(frame[-4:], "big") == zlib.crc32(frame[:-4])


def test_uuid_header_round_trip():
    value = uuid.uuid4()
    assert decode_message(encode_message([Header("id", HeaderType.UUID, value)])).headers[0].value == value


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [Header.int32(":message-type", 0), Header.int32(":message-flags", 0)],
        [Header.string(":message-type", "0"), Header.int32(":message-flags", 0), Header.int32(":stream-id", 1)],
        [Header.int32(":message-type", 99), Header.int32(":message-flags", 0), Header.int32(":stream-id", 1)],
        [Header.int32(":message-type", 0), Header.int32(":message-flags", 0), Header.int32(":stream-id", 0)],
        [Header.int32(":message-type", 2), Header.int32(":message-flags", 0), Header.int32(":stream-id", 3)],
    ],
    ids=["none", "no-stream-id", "string-type", "unknown-type", "app-on-stream-0", "ping-on-stream-3"],
)
def test_rpc_layer_refuses_malformed_messages(headers):
    with pytest.raises(ProtocolError):
        parse_rpc(decode_message(encode_message(headers)))
