"""Nucleus lite's cloud side, on loopback only: IoT Core, the credentials provider, the data plane.

- IoT Core: the local runtime's mosquitto stand-in (mutual TLS, IoT-policy-shaped ACL) on
  127.0.0.1:8883, the port nucleus lite's iotcored always dials; its server certificate carries
  DNS:localhost and IP:127.0.0.1. The device certificate is a client certificate of its test CA.
- The AWS IoT credentials provider: ``GET /role-aliases/<alias>/credentials`` over mutual TLS, as
  lite's tesd calls it; it answers the local runtime's dummy credentials (only stand-ins take them).
- The Greengrass data plane: a bound socket that never listens, so the thing-group lookup of a
  local deployment is refused at once instead of waiting ~40 s for a timeout.
Everything is per run, in a private folder; nothing is committed, nothing listens beyond loopback.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import shutil
import socket
import ssl
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO

from local_greengrass.credentials import dummy_credentials
from local_greengrass.mosquitto import Mosquitto

log = logging.getLogger(__name__)

IOT_CORE_PORT = 8883  # fixed in lite's iotcored (tls.c)
LOOPBACK = "127.0.0.1"
ROLE_ALIAS = "SmartcamTokenExchangeRoleAlias"
PORT_LOCK = Path("/run/lock/smartcam-nucleus-lite-8883.lock")


class CloudError(RuntimeError):
    pass


def iot_credentials(now: datetime | None = None) -> dict[str, dict[str, str]]:
    """The credentials provider's answer (AWS IoT shape) carrying the local runtime's dummies."""
    dummy = dummy_credentials(now or datetime.now(UTC))
    return {"credentials": {"accessKeyId": dummy["AccessKeyId"], "secretAccessKey": dummy["SecretAccessKey"],
                            "sessionToken": dummy["Token"], "expiration": dummy["Expiration"]}}


class CredentialsProvider:
    """``https://localhost:<port>/role-aliases/<alias>/credentials`` with a client certificate required."""

    def __init__(self, ca: Path, cert: Path, key: Path, role_alias: str = ROLE_ALIAS) -> None:
        self.role_alias = role_alias
        self.requests: list[tuple[str, str]] = []  # (path, x-amzn-iot-thingname) of every call
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer._answer(self)

            def log_message(self, format: str, *args: object) -> None:
                log.debug("credentials provider: " + format, *args)

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        context.load_verify_locations(str(ca))
        context.verify_mode = ssl.CERT_REQUIRED  # mutual TLS, like the real endpoint
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def endpoint(self) -> str:
        """What goes into lite's ``iotCredEndpoint`` (host[:port], no scheme)."""
        return f"localhost:{self.port}"

    def _answer(self, request: BaseHTTPRequestHandler) -> None:
        thing = request.headers.get("x-amzn-iot-thingname", "")
        self.requests.append((request.path, thing))
        expected = f"/role-aliases/{self.role_alias}/credentials"
        status, body = (200, iot_credentials()) if request.path == expected else (
            404, {"message": f"no role alias at {request.path}; this provider serves {expected}"})
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="iot-credentials", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()


class RefusingPort:
    """A loopback port that is bound but never listens: every connection is refused at once."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind((LOOPBACK, 0))
        self.port = int(self._socket.getsockname()[1])

    def close(self) -> None:
        self._socket.close()


class CloudSide:
    """IoT Core + credentials provider + data plane for one nucleus lite, in ``workdir``."""

    def __init__(self, workdir: Path, thing_name: str) -> None:
        self.workdir = workdir
        self.thing_name = thing_name
        self.broker = Mosquitto(workdir / "iot-core", port=IOT_CORE_PORT)
        self.credentials: CredentialsProvider | None = None
        self.data_plane: RefusingPort | None = None
        self._lock: IO[str] | None = None

    def start(self) -> None:
        # Port 8883 is fixed in lite: one lite test at a time per machine.
        PORT_LOCK.parent.mkdir(parents=True, exist_ok=True)
        self._lock = PORT_LOCK.open("w")
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            if probe.connect_ex((LOOPBACK, IOT_CORE_PORT)) == 0:
                self.stop()
                raise CloudError(f"{LOOPBACK}:{IOT_CORE_PORT} is taken by another program; nucleus lite needs it")
        self.broker.start()
        server_cert, server_key = self.broker.workdir / "server.pem", self.broker.workdir / "server.key"
        self.credentials = CredentialsProvider(self.broker.ca_path, server_cert, server_key)
        self.credentials.start()
        self.data_plane = RefusingPort()

    def device_certificates(self, folder: Path) -> dict[str, Path]:
        """The thing's certificate, key and the root CA, copied into ``folder`` for the device."""
        cert, key = self.broker.issue_client_cert(self.thing_name)
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)
        paths = {"cert": folder / "device.pem", "key": folder / "device.key", "ca": folder / "ca.pem"}
        shutil.copyfile(cert, paths["cert"])
        shutil.copyfile(key, paths["key"])
        shutil.copyfile(self.broker.ca_path, paths["ca"])
        paths["key"].chmod(0o600)
        for name in ("cert", "ca"):
            paths[name].chmod(0o644)
        return paths

    def stop(self) -> None:
        if self.credentials is not None:
            self.credentials.stop()
            self.credentials = None
        if self.data_plane is not None:
            self.data_plane.close()
            self.data_plane = None
        self.broker.stop()
        if self._lock is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None
