"""One client connection: handshake, streams, ping, protocol errors. Runs on the server's event loop.

Any protocol violation (bad framing, CRC, size, missing RPC headers, unknown message type, a message
out of place) gets a PROTOCOL_ERROR message and closes THIS connection only.

Slow readers: stream events are dropped (with a rate-limited warning and a drop counter) while the
connection's unsent bytes exceed the server's ``max_pending_event_bytes`` (default 8 MiB); responses
are never dropped. A publisher is therefore never blocked by a subscriber that cannot keep up. A
client that sends requests but does not read the responses is throttled instead: above twice that
limit the server stops reading its socket until the backlog drains, so memory stays bounded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from local_greengrass.ipc.eventstream import Decoder, Header, ProtocolError
from local_greengrass.ipc.rpc import (
    FLAG_CONNECTION_ACCEPTED,
    FLAG_TERMINATE_STREAM,
    JSON,
    OPERATION,
    SERVICE,
    SUPPORTED_VERSION,
    VERSION,
    IpcError,
    MessageType,
    RpcMessage,
    json_bytes,
    model_headers,
    parse_rpc,
    rpc_frame,
    service_error,
)

log = logging.getLogger(__name__)

MAX_PENDING_EVENT_BYTES = 8 * 1024 * 1024
REJECTED_LINGER_SECONDS = 10.0


class Stream:
    """One RPC stream (operation) of a connection. Use from the event loop thread only,
    except :meth:`send_event_threadsafe`."""

    def __init__(self, connection: IpcConnection, stream_id: int, operation: str) -> None:
        self.connection = connection
        self.stream_id = stream_id
        self.operation = operation
        self.closed = False
        self._responded = False
        self._early_events: list[tuple[str, dict[str, Any]]] = []
        self._cleanups: list[Callable[[], None]] = []

    @property
    def component(self) -> str:
        return self.connection.component or ""

    def respond(self, payload: dict[str, Any], *, keep_open: bool = False) -> None:
        if self.closed or self._responded:
            return
        self._responded = True
        flags = 0 if keep_open else FLAG_TERMINATE_STREAM
        self.connection.send(
            rpc_frame(
                MessageType.APPLICATION_MESSAGE,
                self.stream_id,
                flags=flags,
                headers=model_headers(f"{self.operation}Response"),
                payload=json_bytes(payload),
            )
        )
        if not keep_open:
            self.close()
            return
        for model, event in self._early_events:
            self.send_event(model, event)
        self._early_events.clear()

    def fail(self, error: IpcError) -> None:
        if self.closed:
            return
        self.connection.send(
            rpc_frame(
                MessageType.APPLICATION_ERROR,
                self.stream_id,
                flags=FLAG_TERMINATE_STREAM,
                headers=model_headers(error.shape),
                payload=json_bytes(error.payload()),
            )
        )
        self.close()

    def send_event(self, model: str, payload: dict[str, Any]) -> None:
        if self.closed:
            return
        if not self._responded:  # the client takes the first message as the response
            self._early_events.append((model, payload))
            return
        frame = rpc_frame(
            MessageType.APPLICATION_MESSAGE,
            self.stream_id,
            headers=model_headers(model),
            payload=json_bytes(payload),
        )
        self.connection.send_event(frame)

    def send_event_threadsafe(self, model: str, payload: dict[str, Any]) -> None:
        self.connection.loop.call_soon_threadsafe(self.send_event, model, payload)

    def on_close(self, cleanup: Callable[[], None]) -> None:
        if self.closed:
            cleanup()
        else:
            self._cleanups.append(cleanup)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.connection.forget_stream(self.stream_id)
        for cleanup in reversed(self._cleanups):
            try:
                cleanup()
            except Exception:
                log.exception("cleanup of stream %d failed", self.stream_id)
        self._cleanups.clear()


Handler = Callable[[Stream, dict[str, Any]], "Awaitable[None] | None"]


class OperationTable(Protocol):
    def handler(self, operation: str) -> Handler | None: ...


class ConnectionHost(Protocol):
    """What a connection needs from the server that accepted it (the server implements it; the
    connection never imports the server, so the two modules do not depend on each other)."""

    max_pending_event_bytes: int
    operations: OperationTable

    def authenticate(self, token: str) -> str | None: ...

    def connection_opened(self, connection: IpcConnection) -> None: ...

    def connection_closed(self, connection: IpcConnection) -> None: ...


class IpcConnection(asyncio.Protocol):
    def __init__(self, server: ConnectionHost, loop: asyncio.AbstractEventLoop) -> None:
        self.server = server
        self.loop = loop
        self.component: str | None = None
        self.transport: asyncio.Transport | None = None
        self._decoder = Decoder()
        self._state = "awaiting-connect"  # -> connected | rejected | closed
        self._streams: dict[int, Stream] = {}
        self._last_stream_id = 0
        self._dropped_events = 0
        self._last_drop_warning = 0.0
        self._tasks: set[asyncio.Task] = set()

    # asyncio.Protocol ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=2 * self.server.max_pending_event_bytes)
        self.server.connection_opened(self)

    def pause_writing(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self._state in ("rejected", "closed"):
            return
        try:
            for message in self._decoder.feed(data):
                self._handle(parse_rpc(message))
                if self._state in ("rejected", "closed"):
                    return
        except ProtocolError as exc:
            self.protocol_error(str(exc))

    def connection_lost(self, exc: Exception | None) -> None:
        self._state = "closed"
        for stream in list(self._streams.values()):
            stream.close()
        # Pending operations (e.g. a broker subscription in flight) finish on their own: they see the
        # stream closed and release what they acquired.
        self.server.connection_closed(self)

    # sending ---------------------------------------------------------------------------------
    def send(self, frame: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(frame)

    def send_event(self, frame: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        if self.transport.get_write_buffer_size() > self.server.max_pending_event_bytes:
            self._dropped_events += 1
            now = time.monotonic()
            if now - self._last_drop_warning > 1.0:
                self._last_drop_warning = now
                log.warning(
                    "%s is not reading its IPC socket; dropped %d events so far", self.component, self._dropped_events
                )
            return
        self.transport.write(frame)

    @property
    def dropped_events(self) -> int:
        return self._dropped_events

    def protocol_error(self, reason: str) -> None:
        if self._state == "closed":
            return
        log.warning("IPC protocol error from %s: %s", self.component or "unauthenticated client", reason)
        self.send(
            rpc_frame(
                MessageType.PROTOCOL_ERROR,
                0,
                headers=(Header.string(":content-type", JSON),),
                payload=json_bytes({"message": reason}),
            )
        )
        self.close()

    def close(self) -> None:
        self._state = "closed"
        if self.transport is not None:
            self.transport.close()

    def forget_stream(self, stream_id: int) -> None:
        self._streams.pop(stream_id, None)

    # receiving -------------------------------------------------------------------------------
    def _handle(self, rpc: RpcMessage) -> None:
        kind = rpc.message_type
        if self._state == "awaiting-connect":
            if kind is not MessageType.CONNECT:
                raise ProtocolError(f"expected CONNECT, got {kind.name}")
            self._handshake(rpc)
        elif kind is MessageType.PING:
            self.send(rpc_frame(MessageType.PING_RESPONSE, 0, payload=rpc.message.payload))
        elif kind is MessageType.PING_RESPONSE:
            pass
        elif kind in (MessageType.APPLICATION_MESSAGE, MessageType.APPLICATION_ERROR):
            self._handle_stream_message(rpc)
        else:
            raise ProtocolError(f"unexpected {kind.name} from a client")

    def _handshake(self, rpc: RpcMessage) -> None:
        version = rpc.string_header(VERSION)
        if version != SUPPORTED_VERSION:
            raise ProtocolError(f"unsupported :version {version!r}, expected {SUPPORTED_VERSION}")
        token = None
        try:
            body = json.loads(rpc.message.payload or b"{}")
            if isinstance(body, dict) and isinstance(body.get("authToken"), str):
                token = body["authToken"]
        except ValueError:
            pass
        component = self.server.authenticate(token) if token else None
        if component is None:
            log.warning("IPC connection refused: unknown or missing auth token")
            self._state = "rejected"
            self.send(rpc_frame(MessageType.CONNECT_ACK, 0))
            # The client hangs up on the refusal; closing first makes it report a socket error instead.
            self.loop.call_later(REJECTED_LINGER_SECONDS, self.close)
            return
        self.component = component
        self._state = "connected"
        self.send(rpc_frame(MessageType.CONNECT_ACK, 0, flags=FLAG_CONNECTION_ACCEPTED))
        log.info("IPC client connected as %s", component)

    def _handle_stream_message(self, rpc: RpcMessage) -> None:
        stream = self._streams.get(rpc.stream_id)
        if stream is not None:
            # Client-side messages on an open stream: only termination (unsubscribe) matters to us.
            if rpc.flags & FLAG_TERMINATE_STREAM:
                stream.close()
            return
        if rpc.stream_id <= self._last_stream_id:
            return  # late message on a stream that is already closed
        self._last_stream_id = rpc.stream_id
        if rpc.message_type is MessageType.APPLICATION_ERROR:
            return
        operation = rpc.string_header(OPERATION)
        if not operation:
            raise ProtocolError(f"first message on stream {rpc.stream_id} has no operation header")
        short_name = operation.removeprefix(f"{SERVICE}#")
        stream = Stream(self, rpc.stream_id, short_name)
        self._streams[rpc.stream_id] = stream
        if rpc.flags & FLAG_TERMINATE_STREAM:
            stream.closed = True  # the client asked and hung up in one message; answer nothing
            self.forget_stream(rpc.stream_id)
            return
        self._dispatch(stream, operation, rpc.message.payload)

    def _dispatch(self, stream: Stream, operation: str, payload: bytes) -> None:
        handler = self.server.operations.handler(operation)
        if handler is None:
            stream.fail(service_error(f"Operation {operation} is not supported by the local Greengrass runtime"))
            return
        try:
            request = json.loads(payload or b"{}")
        except ValueError:
            request = None
        if not isinstance(request, dict):
            stream.fail(IpcError("InvalidArgumentsError", f"{operation} request is not a JSON object"))
            return
        try:
            result = handler(stream, request)
        except IpcError as error:
            stream.fail(error)
            return
        except Exception:
            log.exception("%s from %s failed", operation, self.component)
            stream.fail(service_error(f"{operation} failed inside the local Greengrass runtime"))
            return
        if result is not None:
            task = self.loop.create_task(self._finish(stream, operation, result))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _finish(self, stream: Stream, operation: str, pending: Awaitable[None]) -> None:
        try:
            await pending
        except IpcError as error:
            stream.fail(error)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s from %s failed", operation, self.component)
            stream.fail(service_error(f"{operation} failed inside the local Greengrass runtime"))
