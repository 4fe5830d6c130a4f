"""mosquitto as a local stand-in for AWS IoT Core: mutual TLS on 127.0.0.1 and an IoT-policy-shaped ACL.

The certificate's CN is the MQTT identity (``use_identity_as_username``), like a thing's certificate
in IoT Core. ACL, shaped like the project's IoT policy:
- a thing may publish and subscribe under ``smartcam/<its CN>/#`` and subscribe to ``smartcam/fleet/#``;
- the identity ``operator`` may publish ``smartcam/+/capture`` and ``smartcam/fleet/capture``, and
  subscribe to ``smartcam/#``.
Limits like IoT Core's: QoS 0/1 only, packets up to 132000 bytes (128 KiB payload plus headers).
Persistent sessions survive a restart of mosquitto (it restarts with the runtime, IoT Core does not):
a client that connects with ``clean_start`` off finds its subscriptions and the QoS 1 messages that
arrived while it was away, as it would on IoT Core.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

from local_greengrass.lifecycle.processes import lower_priority

log = logging.getLogger(__name__)

OPERATOR = "operator"
START_TIMEOUT_SECONDS = 20.0
_PROBE_IDENTITY = "local-greengrass-probe"
_PR_SET_PDEATHSIG = 1

ACL = f"""\
# Shaped like the smartcam IoT policy. %u is the client certificate's CN.
pattern readwrite smartcam/%u/#
pattern read smartcam/fleet/#
# The nucleus's own topics (GreengrassShadowJobsHealth, GreengrassSubscriptions in the policy):
# nucleus lite asks for its jobs at start and retries every 30 s while they are refused.
pattern readwrite $aws/things/%u/jobs/#
pattern readwrite $aws/things/%u/shadow/#
pattern readwrite $aws/things/%u/greengrassv2/health/json
pattern readwrite $aws/things/%u/greengrassv2/health/json/accepted
pattern readwrite $aws/things/%u/greengrass/health/json

user {OPERATOR}
topic write smartcam/+/capture
topic write smartcam/fleet/capture
topic read smartcam/#
"""


def _mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if found is None:
        raise FileNotFoundError("mosquitto is not installed (apt-get install -y mosquitto mosquitto-clients)")
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _openssl(*args: str) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise FileNotFoundError("openssl is not installed (scripts/setup-system installs it)")
    subprocess.run([openssl, *args], check=True, capture_output=True)


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    lower_priority()


class Mosquitto:
    def __init__(self, workdir: Path, port: int = 0) -> None:
        self.workdir = Path(workdir)
        self.host = "127.0.0.1"
        self.port = port
        self.ca_path = self.workdir / "ca.pem"
        self._ca_key = self.workdir / "ca.key"
        self._server_cert = self.workdir / "server.pem"
        self._server_key = self.workdir / "server.key"
        self._config_path = self.workdir / "mosquitto.conf"
        self._acl_path = self.workdir / "acl"
        self.log_path = self.workdir / "mosquitto.log"
        self._process: subprocess.Popen | None = None

    # certificates ------------------------------------------------------------------------------
    def _ensure_ca(self) -> None:
        if self.ca_path.exists() and self._ca_key.exists():
            return
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650", "-subj",
                 "/CN=local-greengrass test CA", "-keyout", str(self._ca_key), "-out", str(self.ca_path))

    def _issue(self, name: str, cert: Path, key: Path, *, server: bool) -> None:
        csr = cert.with_suffix(".csr")
        extensions = cert.with_suffix(".ext")
        if server:
            extensions.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
        else:
            extensions.write_text("extendedKeyUsage=clientAuth\n")
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(csr))
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(self.ca_path), "-CAkey", str(self._ca_key),
                 "-CAcreateserial", "-days", "3650", "-sha256", "-extfile", str(extensions), "-out", str(cert))
        csr.unlink()
        extensions.unlink()

    def issue_client_cert(self, name: str) -> tuple[Path, Path]:
        """(certificate, key) for a client whose MQTT identity is ``name``."""
        if not name or "/" in name or any(c in name for c in "+#\n"):
            raise ValueError(f"{name!r} is not usable as an MQTT identity")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._ensure_ca()
        clients = self.workdir / "clients"
        clients.mkdir(exist_ok=True)
        cert, key = clients / f"{name}.pem", clients / f"{name}.key"
        if not (cert.exists() and key.exists()):
            self._issue(name, cert, key, server=False)
        return cert, key

    # process -----------------------------------------------------------------------------------
    def _write_config(self) -> None:
        self._acl_path.write_text(ACL)
        user = "root" if os.geteuid() == 0 else ""  # as root, keep root so it can read the keys in workdir
        self._config_path.write_text(
            "\n".join(
                [
                    "per_listener_settings false",
                    "persistence true",
                    f"persistence_location {self.workdir}/",
                    "autosave_interval 5",
                    "log_dest stdout",
                    "log_type error",
                    "log_type warning",
                    "log_type notice",
                    "connection_messages true",
                    *([f"user {user}"] if user else []),
                    "max_packet_size 132000",
                    f"acl_file {self._acl_path}",
                    f"listener {self.port} {self.host}",
                    # Listener-scoped: before any `listener` line it would open a default listener on 1883.
                    "max_qos 1",
                    f"cafile {self.ca_path}",
                    f"certfile {self._server_cert}",
                    f"keyfile {self._server_key}",
                    "require_certificate true",
                    "use_identity_as_username true",
                    "",
                ]
            )
        )

    def start(self) -> None:
        if self._process is not None:
            raise RuntimeError("mosquitto already started")
        self.workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.workdir, 0o700)
        self._ensure_ca()
        if not self._server_cert.exists():
            self._issue("localhost", self._server_cert, self._server_key, server=True)
        if self.port == 0:
            self.port = _free_port()
        self._write_config()
        log_file = self.log_path.open("ab")
        try:
            self._process = subprocess.Popen(
                [_mosquitto_binary(), "-c", str(self._config_path)],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, no locks taken
            )
        finally:
            log_file.close()
        try:
            self._wait_until_serving()
        except BaseException:
            self.stop()
            raise
        log.info("mosquitto serving TLS on %s:%d", self.host, self.port)

    def _wait_until_serving(self) -> None:
        cert, key = self.issue_client_cert(_PROBE_IDENTITY)
        context = ssl.create_default_context(cafile=str(self.ca_path))
        context.load_cert_chain(str(cert), str(key))
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self._process.returncode}: {self._log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=2) as raw, \
                        context.wrap_socket(raw, server_hostname="localhost"):
                    return
            except OSError as exc:
                last_error = exc
                time.sleep(0.1)
        raise TimeoutError(f"mosquitto did not accept TLS on {self.host}:{self.port}: {last_error}")

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-2000:]
        return ""

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> Mosquitto:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
