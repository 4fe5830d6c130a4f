"""Nucleus lite's cloud side, on loopback only: IoT Core, the credentials provider, the data plane.

- IoT Core: the local runtime's mosquitto stand-in (mutual TLS, IoT-policy-shaped ACL) on
  127.0.0.1:8883, the port nucleus lite's iotcored always dials; its server certificate carries
  DNS:localhost and IP:127.0.0.1. The device certificate is a client certificate of its test CA.
- The AWS IoT credentials provider: ``GET /role-aliases/<alias>/credentials`` over mutual TLS, as
  lite's tesd calls it; it answers the local runtime's dummy credentials (only stand-ins take them).
- The Greengrass data plane (``greengrassDataPlanePort``): answers the thing-group lookup of a local
  deployment at once with "no groups". A refused connection is no shortcut: lite retries it with
  backoff (1 + 2 + 4 + ... s, ~36 s measured) before it falls back to the local deployment.
Everything is per run, in a private folder; nothing is committed, nothing listens beyond loopback.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import shutil
import socket
import ssl
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

from nucleus_lite.reuse import Mosquitto, dummy_credentials, send_json

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


Answer = tuple[int, dict[str, Any]]


class MutualTlsService:
    """An HTTPS service on 127.0.0.1 that requires a client certificate of the test CA (like AWS
    IoT's endpoints) and answers GETs with ``route(path, thing name header)``."""

    def __init__(self, name: str, ca: Path, cert: Path, key: Path, route: Callable[[str, str], Answer]) -> None:
        self.name = name
        self.requests: list[tuple[str, str]] = []  # (path, x-amzn-iot-thingname) of every call
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer._answer(self, route)

            def log_message(self, format: str, *args: object) -> None:
                log.debug(f"{name}: " + format, *args)

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        context.load_verify_locations(str(ca))
        context.verify_mode = ssl.CERT_REQUIRED
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def _answer(self, request: BaseHTTPRequestHandler, route: Callable[[str, str], Answer]) -> None:
        thing = request.headers.get("x-amzn-iot-thingname", "")
        self.requests.append((request.path, thing))
        status, body = route(request.path.split("?", 1)[0], thing)
        send_json(request, status, body)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()


def credentials_route(role_alias: str) -> Callable[[str, str], Answer]:
    """The AWS IoT credentials provider: the role alias's (dummy) credentials, else 404."""
    expected = f"/role-aliases/{role_alias}/credentials"

    def route(path: str, _thing: str) -> Answer:
        if path == expected:
            return 200, iot_credentials()
        return 404, {"message": f"no role alias at {path}; this provider serves {expected}"}

    return route


def data_plane_route(thing_name: str) -> Callable[[str, str], Answer]:
    """The Greengrass data plane as it answers a core device that is in no thing group: an empty
    list for ListThingGroupsForCoreDevice, 404 for anything else. Lite retries a refused
    connection with backoff for ~40 s, but takes an answer at once."""
    groups = f"/greengrass/v2/coreDevices/{thing_name}/thingGroups"

    def route(path: str, _thing: str) -> Answer:
        if path == groups:
            return 200, {"thingGroups": []}
        return 404, {"message": f"{path} is not served by this stand-in"}

    return route


class CloudSide:
    """IoT Core + credentials provider + data plane for one nucleus lite, in ``workdir``."""

    def __init__(self, workdir: Path, thing_name: str) -> None:
        self.workdir = workdir
        self.thing_name = thing_name
        self.broker = Mosquitto(workdir / "iot-core", port=IOT_CORE_PORT)
        self.credentials: MutualTlsService | None = None
        self.data_plane: MutualTlsService | None = None
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
        # Both answer as localhost with the broker's server certificate (DNS:localhost, IP:127.0.0.1).
        tls = (self.broker.ca_path, self.broker.workdir / "server.pem", self.broker.workdir / "server.key")
        self.credentials = MutualTlsService("iot-credentials", *tls, credentials_route(ROLE_ALIAS))
        self.data_plane = MutualTlsService("greengrass-data-plane", *tls, data_plane_route(self.thing_name))
        for service in (self.credentials, self.data_plane):
            service.start()

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
            self.data_plane.stop()
            self.data_plane = None
        self.broker.stop()
        if self._lock is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None
