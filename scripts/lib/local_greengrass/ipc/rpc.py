"""The eventstream RPC layer of Greengrass IPC: message types, flags, required headers, typed errors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache
from typing import Any

from local_greengrass.ipc.eventstream import (
    Header,
    HeaderType,
    Message,
    ProtocolError,
    encode_frame,
    encode_headers,
    encode_int32_header,
)

MESSAGE_TYPE = ":message-type"
MESSAGE_FLAGS = ":message-flags"
STREAM_ID = ":stream-id"
CONTENT_TYPE = ":content-type"
VERSION = ":version"
OPERATION = "operation"
SERVICE_MODEL_TYPE = "service-model-type"
JSON = "application/json"
SUPPORTED_VERSION = "0.1.0"
SERVICE = "aws.greengrass"

FLAG_CONNECTION_ACCEPTED = 0x1
FLAG_TERMINATE_STREAM = 0x2


class MessageType(IntEnum):
    APPLICATION_MESSAGE = 0
    APPLICATION_ERROR = 1
    PING = 2
    PING_RESPONSE = 3
    CONNECT = 4
    CONNECT_ACK = 5
    PROTOCOL_ERROR = 6
    INTERNAL_ERROR = 7


@dataclass(frozen=True)
class RpcMessage:
    message_type: MessageType
    flags: int
    stream_id: int
    message: Message

    def string_header(self, name: str) -> str | None:
        header = self.message.header(name)
        return header.value if header is not None and header.type is HeaderType.STRING else None


def parse_rpc(message: Message) -> RpcMessage:
    values: dict[str, int] = {}
    for name in (MESSAGE_TYPE, MESSAGE_FLAGS, STREAM_ID):
        header = message.header(name)
        if header is None or header.type is not HeaderType.INT32:
            raise ProtocolError(f"missing or non-int32 {name} header")
        values[name] = header.value
    try:
        message_type = MessageType(values[MESSAGE_TYPE])
    except ValueError as exc:
        raise ProtocolError(f"unknown message type {values[MESSAGE_TYPE]}") from exc
    stream_id = values[STREAM_ID]
    connection_level = message_type not in (MessageType.APPLICATION_MESSAGE, MessageType.APPLICATION_ERROR)
    if connection_level and stream_id != 0:
        raise ProtocolError(f"{message_type.name} must use stream 0")
    if not connection_level and stream_id <= 0:
        raise ProtocolError(f"{message_type.name} needs a stream id > 0")
    return RpcMessage(message_type, values[MESSAGE_FLAGS], stream_id, message)


def rpc_frame(
    message_type: MessageType,
    stream_id: int,
    *,
    flags: int = 0,
    headers: tuple[Header, ...] | bytes = (),
    payload: bytes = b"",
) -> bytes:
    """``headers`` may be pre-encoded bytes (see :func:`model_headers`), the common case."""
    encoded = headers if isinstance(headers, bytes) else encode_headers(headers)
    return encode_frame(
        encode_int32_header(MESSAGE_TYPE, message_type)
        + encode_int32_header(MESSAGE_FLAGS, flags)
        + encode_int32_header(STREAM_ID, stream_id)
        + encoded,
        payload,
    )


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


@lru_cache(maxsize=256)
def model_headers(model: str) -> bytes:
    """The encoded content-type and service-model-type headers of a JSON message of ``model``."""
    return encode_headers((Header.string(CONTENT_TYPE, JSON), Header.string(SERVICE_MODEL_TYPE, f"{SERVICE}#{model}")))


class IpcError(Exception):
    """A typed error the client turns into the matching awsiot.greengrasscoreipc.model exception."""

    def __init__(self, shape: str, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.shape = shape
        self.message = message
        self.fields = fields

    def payload(self) -> dict[str, Any]:
        return {"message": self.message, **self.fields}


def invalid_arguments(message: str) -> IpcError:
    return IpcError("InvalidArgumentsError", message)


def service_error(message: str) -> IpcError:
    return IpcError("ServiceError", message)


def unauthorized(message: str) -> IpcError:
    return IpcError("UnauthorizedError", message)


def resource_not_found(message: str, resource_type: str, resource_name: str) -> IpcError:
    return IpcError("ResourceNotFoundError", message, resourceType=resource_type, resourceName=resource_name)
