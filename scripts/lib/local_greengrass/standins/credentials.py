"""A local stand-in for the TokenExchangeService's container-credentials endpoint.

boto3's container provider calls AWS_CONTAINER_CREDENTIALS_FULL_URI with the header
`Authorization: <AWS_CONTAINER_AUTHORIZATION_TOKEN>`; only a registered token gets (dummy)
credentials, in the ECS/Greengrass JSON shape. Only stand-ins (DynamoDB Local) accept them.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger(__name__)

CREDENTIALS_PATH = "/2016-11-01/credentialprovider/"
LIFETIME = timedelta(hours=1)
DUMMY_SESSION_TOKEN = "local-greengrass-session-token"  # noqa: S105  # nosec B105


def send_json(request: BaseHTTPRequestHandler, status: int, body: object) -> None:
    """Answer an HTTP request with ``body`` as JSON (the stand-ins' one way to answer)."""
    data = json.dumps(body).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(data)))
    request.end_headers()
    request.wfile.write(data)


def dummy_credentials(now: datetime | None = None) -> dict[str, str]:
    """Dummies: only the local stand-ins accept them."""
    expiration = (now or datetime.now(UTC)) + LIFETIME
    return {
        "AccessKeyId": "ASIALOCALGREENGRASS0",
        "SecretAccessKey": "local-greengrass-secret-access-key-00000",
        "Token": DUMMY_SESSION_TOKEN,
        "Expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


class CredentialsServer:
    def __init__(self, is_authorized: Callable[[str], bool], host: str = "127.0.0.1", port: int = 0) -> None:
        self._is_authorized = is_authorized
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer._answer(self)

            def log_message(self, format: str, *args: object) -> None:
                log.debug("credentials endpoint: " + format, *args)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def uri(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{CREDENTIALS_PATH}"

    def _answer(self, request: BaseHTTPRequestHandler) -> None:
        if request.path.split("?", 1)[0] != CREDENTIALS_PATH:
            self._send(request, 404, {"message": f"no such path {request.path}; use {CREDENTIALS_PATH}"})
        elif not self._is_authorized(request.headers.get("Authorization", "")):
            self._send(request, 403, {"message": "Authorization header is missing or not a token of a component "
                                                 "that depends on aws.greengrass.TokenExchangeService"})
        else:
            self._send(request, 200, dummy_credentials())

    @staticmethod
    def _send(request: BaseHTTPRequestHandler, status: int, body: dict[str, str]) -> None:
        send_json(request, status, body)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="credentials", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
