"""The background process behind `scripts/local-greengrass up`: a core device for this project.

Starts the stand-ins (mosquitto + the IoT Core bridge, DynamoDB Local, an S3 server, a credentials endpoint),
the IPC server and the launcher, then serves JSON requests on a control socket (status, deploy,
env, shutdown) until told to stop. A watchdog process ends everything it started if it dies.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import socketserver
import subprocess
import sys
import threading
import uuid
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from local_greengrass.configuration.store import ConfigStore
from local_greengrass.deployment.documents import DeploymentError, parse_document, plan_deployment
from local_greengrass.deployment.recipes import scan_built
from local_greengrass.ipc.iot_core import IoTCoreBridge
from local_greengrass.ipc.server import IpcServer
from local_greengrass.lifecycle.launcher import Launcher, RestartPolicy
from local_greengrass.lifecycle.processes import MARKER_VARIABLE
from local_greengrass.lifecycle.specs import LaunchSpec, build_specs
from local_greengrass.paths import RuntimePaths
from local_greengrass.standins.credentials import CredentialsServer
from local_greengrass.standins.dynamodb_local import DynamoDBLocal
from local_greengrass.standins.mosquitto import Mosquitto
from local_greengrass.standins.s3 import S3Server

log = logging.getLogger("local_greengrass")

# Inherited settings that would make a component talk to real AWS, or to the dev tree, instead of the runtime.
_NOT_INHERITED = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                  "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                  "PYTHONPATH", "VIRTUAL_ENV")


class Watchdog:
    """The process that ends our process groups and marked processes if this daemon dies."""

    def __init__(self, marker: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != MARKER_VARIABLE}
        self._lock = threading.Lock()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "local_greengrass.lifecycle.watchdog", "--marker", marker],
            stdin=subprocess.PIPE, env=env, start_new_session=True, text=True)

    def register(self, pgid: int) -> None:
        with self._lock:
            if self._process.stdin:
                self._process.stdin.write(f"pgid {pgid}\n")
                self._process.stdin.flush()

    def finish(self) -> None:
        with self._lock:
            if self._process.stdin:
                self._process.stdin.write("done\n")
                self._process.stdin.close()
                self._process.stdin = None
        self._process.wait(timeout=30)


class _BackgroundStart:
    """A stand-in's start on its own thread, so its start-up overlaps the rest of the runtime's."""

    def __init__(self, standin: DynamoDBLocal | S3Server, name: str) -> None:
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._start, args=(standin,), name=name)
        self._thread.start()

    def _start(self, standin: DynamoDBLocal | S3Server) -> None:
        try:
            standin.start()
        except Exception as exc:  # noqa: BLE001 - handed to the main thread, which raises it
            self._failure = exc

    def wait(self) -> BaseException | None:
        """Until it is up or failed; the failure, if any."""
        self._thread.join()
        return self._failure


class Daemon:
    def __init__(self, paths: RuntimePaths, components_dir: Path, thing_name: str, region: str,
                 policy: RestartPolicy | None = None, *, shared_iot_core: tuple[Path, int] | None = None) -> None:
        self.paths = paths
        # (workdir, port) of another runtime's IoT Core stand-in to use instead of starting one: two
        # local devices then talk to one "IoT Core", as two core devices of one account do.
        self.shared_iot_core = shared_iot_core
        self.components_dir = components_dir
        self.thing_name = thing_name
        self.region = region
        self.marker = secrets.token_hex(16)
        self.config = ConfigStore()
        self.launcher = Launcher(paths, self, policy)
        self.tokens: dict[str, str] = {}
        self.stop_requested = threading.Event()
        self.stopped = threading.Event()
        self._deploy_lock = threading.Lock()
        self.mosquitto: Mosquitto | None = None
        self.dynamodb: DynamoDBLocal | None = None
        self.s3: S3Server | None = None
        self.bridge: IoTCoreBridge | None = None
        self.ipc: IpcServer | None = None
        self.credentials: CredentialsServer | None = None
        self.control: socketserver.ThreadingUnixStreamServer | None = None
        self.watchdog: Watchdog | None = None

    # RuntimeHost (for the launcher) -----------------------------------------------------------------
    def environment(self, spec: LaunchSpec) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
        return {**base, **self.nucleus_variables(spec.name, spec.uses_token_exchange)}

    def configure(self, name: str, configuration: dict) -> None:
        if name not in self.tokens and self.ipc is not None:
            self.tokens[name] = self.ipc.add_component(name)
        self.config.set_component(name, configuration)

    def retire(self, name: str) -> None:
        if self.ipc is not None:
            self.ipc.remove_component(name)
        self.tokens.pop(name, None)
        self.config.remove_component(name)

    def request_validation(self, name: str, deployment_id: str, configuration: dict) -> Future | None:
        if self.ipc is None:
            return None
        if self.config.has_component(name) and self.config.get(name, []) == configuration:
            return None  # nothing changes for it (the component may have changed it itself)
        return self.ipc.validation.request(name, deployment_id, configuration)

    def discard_validation(self, name: str, deployment_id: str) -> None:
        if self.ipc is not None:
            self.ipc.validation.discard(name, deployment_id)

    def spawned(self, pid: int) -> None:
        if self.watchdog is not None:
            self.watchdog.register(pid)

    # what a component sees ------------------------------------------------------------------------------
    def nucleus_variables(self, name: str, uses_token_exchange: bool) -> dict[str, str]:
        assert self.mosquitto is not None and self.dynamodb is not None and self.credentials is not None
        assert self.s3 is not None
        token = self.tokens[name]
        variables = {
            "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT": str(self.paths.ipc_socket),
            "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH": str(self.paths.ipc_socket),
            "SVCUID": token,
            "AWS_IOT_THING_NAME": self.thing_name,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "GG_ROOT_CA_PATH": str(self.mosquitto.ca_path),
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb.endpoint,
            # boto3 addresses buckets path-style at a configured endpoint, the style the stand-in serves.
            "AWS_ENDPOINT_URL_S3": self.s3.endpoint,
        }
        if uses_token_exchange:
            variables["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = self.credentials.uri
            variables["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = token
        return variables

    def standins(self) -> dict[str, Any]:
        assert self.mosquitto is not None and self.dynamodb is not None and self.credentials is not None
        assert self.s3 is not None
        return {"iot_core": {"host": self.mosquitto.host, "port": self.mosquitto.port,
                             "ca_path": str(self.mosquitto.ca_path), "workdir": str(self.mosquitto.workdir)},
                "dynamodb": self.dynamodb.endpoint, "s3": self.s3.endpoint, "credentials": self.credentials.uri}

    def _token_allowed(self, token: str) -> bool:
        for name, known in list(self.tokens.items()):
            if secrets.compare_digest(known, token):
                runner = self.launcher.runner(name)
                return runner is not None and runner.spec.uses_token_exchange
        return False

    # start and stop -----------------------------------------------------------------------------------
    def start(self) -> None:
        self.paths.create()
        os.environ[MARKER_VARIABLE] = self.marker
        self.paths.instance_file.write_text(self.marker)
        self.paths.pid_file.write_text(str(os.getpid()))
        self.watchdog = Watchdog(self.marker)
        # mosquitto dies with the THREAD that started it (PDEATHSIG): start it from this, the main thread.
        self.mosquitto = self._start_mosquitto()
        # The S3 stand-in binds its port and DynamoDB Local picks its free port only now, one after the
        # other, so no two stand-ins can get the same port. Both keep their data on disk: they play cloud
        # services, whose data outlives a crash of the device's runtime.
        self.s3 = S3Server(self.paths.standin("s3"))
        self.dynamodb = DynamoDBLocal(self.paths.standin("dynamodb"), in_memory=False)
        # In parallel with the rest: 3-8 s of Java start-up for DynamoDB Local, ~0.2 s for the S3 server.
        starting = [_BackgroundStart(self.dynamodb, "dynamodb"), _BackgroundStart(self.s3, "s3")]
        cert, key = self.mosquitto.issue_client_cert(self.thing_name)
        self.bridge = IoTCoreBridge(self.mosquitto.host, self.mosquitto.port, self.mosquitto.ca_path, cert, key,
                                    client_id=self.thing_name)
        self.bridge.start()
        self.credentials = CredentialsServer(self._token_allowed)
        self.credentials.start()
        self.ipc = IpcServer(self.paths.ipc_socket, self.config, iot=self.bridge,
                             on_state=self.launcher.report_state, thing_name=self.thing_name)
        self.ipc.start()
        failures = [failure for standin in starting if (failure := standin.wait()) is not None]
        if failures:  # only once none is still starting: shutdown() stops them all
            raise failures[0]
        self.paths.control_socket.unlink(missing_ok=True)  # left by a daemon that was killed
        self.control = _ControlServer(str(self.paths.control_socket), self)
        os.chmod(self.paths.control_socket, 0o600)
        threading.Thread(target=self.control.serve_forever, name="control", daemon=True).start()
        log.info("up: thing %s, region %s, IPC %s, IoT Core stand-in %s:%d, DynamoDB Local %s, S3 stand-in %s, "
                 "credentials %s", self.thing_name, self.region, self.paths.ipc_socket, self.mosquitto.host,
                 self.mosquitto.port, self.dynamodb.endpoint, self.s3.endpoint, self.credentials.uri)

    def _start_mosquitto(self, attempts: int = 3) -> Mosquitto:
        """A free port can be taken by someone else before mosquitto binds it: try another."""
        if self.shared_iot_core is not None:
            workdir, port = self.shared_iot_core
            log.info("IoT Core stand-in shared with another runtime: %s:%d (%s)", "127.0.0.1", port, workdir)
            return Mosquitto(workdir, port)  # not started here, so never stopped here: its owner runs it
        for attempt in range(1, attempts + 1):
            mosquitto = Mosquitto(self.paths.standin("mosquitto"))
            try:
                mosquitto.start()
                return mosquitto
            except RuntimeError as exc:
                if attempt == attempts or "Address already in use" not in str(exc):
                    raise
                log.warning("mosquitto could not bind its port, trying another")
        raise AssertionError("unreachable")

    def shutdown(self) -> None:
        log.info("stopping")
        self.launcher.stop_all()
        for step in (self.ipc, self.bridge, self.credentials, self.dynamodb, self.s3, self.mosquitto):
            if step is None:
                continue
            try:
                step.stop()
            except Exception:
                log.exception("stopping %s failed", type(step).__name__)
        if self.watchdog is not None:
            self.watchdog.finish()
        self.stopped.set()

    def close_control(self) -> None:
        if self.control is not None:
            self.control.shutdown()
            self.control.server_close()
        for path in (self.paths.control_socket, self.paths.pid_file):
            path.unlink(missing_ok=True)

    # requests -----------------------------------------------------------------------------------------
    def deploy(self, document: Any, source: str, *, allow_wildcard_access: bool = False) -> dict[str, Any]:
        with self._deploy_lock:
            parsed = parse_document(document, source, allow_wildcard_access=allow_wildcard_access)
            previous = {}
            for name in parsed.components:
                if self.config.has_component(name):
                    previous[name] = self.config.get(name, [])
            plan = plan_deployment(parsed, scan_built(self.components_dir), previous)
            specs, errors = build_specs(plan, self.paths, self.thing_name)
            versions = {n: c.version for n, c in parsed.components.items()}
            deployment_id = str(uuid.uuid4())
            result = self.launcher.deploy(specs, errors, versions, deployment_id=deployment_id,
                                          validation_timeout=parsed.validation_timeout)
            for name, message in errors.items():
                log.error("%s not deployed: %s", name, message)
            log.info("deployment %s (%s): %s", parsed.name or source, deployment_id, json.dumps(result))
            return {"result": result, "errors": errors, "deployment_id": deployment_id}

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:  # noqa: PLR0911 - one return per command
        command = request.get("command")
        if command == "ping":
            return {"ok": True, "pid": os.getpid()}
        if command == "status":
            return {"ok": True, "thing_name": self.thing_name, "region": self.region, "root": str(self.paths.root),
                    "components": self.launcher.snapshot(), "standins": self.standins()}
        if command == "deploy":
            try:
                return {"ok": True, **self.deploy(request.get("document"), str(request.get("source", "<document>")),
                                                  allow_wildcard_access=request.get("allow_wildcard_access") is True)}
            except DeploymentError as exc:
                return {"ok": False, "error": str(exc)}
        if command == "env":
            name = str(request.get("component"))
            runner = self.launcher.runner(name)
            if runner is None or runner.spec.builtin or name not in self.tokens:
                known = ", ".join(r["component"] for r in self.launcher.snapshot())
                return {"ok": False, "error": f"{name} is not deployed (deployed: {known})"}
            return {"ok": True, "env": self.nucleus_variables(name, runner.spec.uses_token_exchange)}
        if command == "shutdown":
            self.stop_requested.set()
            self.stopped.wait(300)
            return {"ok": True}
        return {"ok": False, "error": f"unknown command {command!r}"}


class _ControlHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        daemon: Daemon = self.server.daemon  # type: ignore[attr-defined]
        try:
            request = json.loads(self.rfile.readline(1 << 22) or b"{}")
            response = daemon.handle(request) if isinstance(request, dict) else {"ok": False, "error": "bad request"}
        except ValueError as exc:
            response = {"ok": False, "error": f"bad request: {exc}"}
        except Exception as exc:
            log.exception("control request failed")
            response = {"ok": False, "error": f"runtime failure: {exc!r}"}
        self.wfile.write(json.dumps(response).encode() + b"\n")


class _ControlServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, daemon: Daemon) -> None:
        self.daemon = daemon
        super().__init__(path, _ControlHandler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="local Greengrass runtime daemon (use scripts/local-greengrass)")
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--components-dir", type=Path, required=True)
    parser.add_argument("--thing-name", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--iot-core-workdir", type=Path, help="use the running IoT Core stand-in of this folder")
    parser.add_argument("--iot-core-port", type=int, help="... listening on this port of 127.0.0.1")
    args = parser.parse_args(argv)
    if (args.iot_core_workdir is None) != (args.iot_core_port is None):
        parser.error("--iot-core-workdir and --iot-core-port go together")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    shared = (args.iot_core_workdir.resolve(), args.iot_core_port) if args.iot_core_workdir else None
    daemon = Daemon(RuntimePaths(args.root.resolve()), args.components_dir.resolve(), args.thing_name, args.region,
                    shared_iot_core=shared)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: daemon.stop_requested.set())
    try:
        daemon.start()
    except Exception:
        log.exception("the runtime could not start")
        daemon.shutdown()
        daemon.close_control()
        return 1
    while not daemon.stop_requested.wait(1.0):
        if not daemon.paths.root.exists() or not daemon.paths.control_socket.exists():
            log.warning("%s is gone: nobody can reach this runtime any more, stopping", daemon.paths.control_socket)
            break
    daemon.shutdown()
    # Let a `down` waiting on the control socket get its answer before the socket goes.
    threading.Event().wait(0.5)
    daemon.close_control()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
