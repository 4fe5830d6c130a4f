"""Run an S3 API server as the local stand-in for Amazon S3: LocalBucket (PyPI ``localbucket``), a child process.

Used by the local Greengrass runtime and the tests. LocalBucket keeps each bucket as a folder and each
object as a file under ``workdir/data`` (written to a temporary file, then renamed), so the objects
outlive a crash of the server or of the runtime, as S3's outlive a device's. It honours the one
primitive exactly-once uploads need, ``If-None-Match: *`` on PutObject, atomically (a hard link: of two
racing writers one gets 412 PreconditionFailed). The README says why it and not s3rver or moto.

The port is bound here, on 127.0.0.1, when the object is made (so nothing started later can pick the
same free port), and the listening socket is handed to the server process
(``loopback_localbucket.py`` beside this file), which therefore never listens anywhere else.

boto3 needs nothing but the endpoint: with ``AWS_ENDPOINT_URL_S3`` (or ``endpoint_url``) set, botocore
addresses buckets path-style (``http://127.0.0.1:<port>/<bucket>/<key>``), the only style LocalBucket
serves; a client must just not ask for ``addressing_style="virtual"``. Credentials are not checked.

Where it differs from S3 (tests/local_greengrass/test_s3.py pins each):
- Content-MD5 and x-amz-checksum-* are accepted but not verified: a wrong one is stored, not refused
  with 400 BadDigest;
- user metadata (x-amz-meta-*) is not kept, Content-Type comes from the key's extension, and no
  checksum is returned by HeadObject/GetObject;
- If-Match on PutObject is ignored (only If-None-Match: * is a condition);
- a key cannot also be the "folder" of other keys (``a`` and ``a/b``): the second write fails;
- CreateBucket of a bucket that exists answers 409 BucketAlreadyOwnedByYou (S3 in us-east-1: 200).

    s3 = S3Server(tmp_path)     # binds 127.0.0.1:<a free port>; s3.endpoint is known at once
    s3.start()                  # returns once it answers ListBuckets
    os.environ["AWS_ENDPOINT_URL_S3"] = s3.endpoint
    s3.kill(); s3.start()       # an outage; the same port and the same objects again
    s3.stop()
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import time
from http import HTTPStatus
from pathlib import Path
from typing import IO, Any

from local_greengrass.lifecycle.processes import lower_priority
from local_greengrass.standins.child import end_at_once, end_gracefully, local_client

BIND_HOST = "127.0.0.1"
SERVER_MODULE = "local_greengrass.standins.loopback_localbucket"
LOG_NAME = "localbucket.log"
START_TIMEOUT_S = 60.0  # a Python process importing the standard library: ~0.1 s, unless the machine is loaded


class S3ServerError(RuntimeError):
    pass


def is_s3_server(cmdline: list[str]) -> bool:
    """Whether a process's command line is an S3 stand-in started by :class:`S3Server`."""
    return SERVER_MODULE in cmdline


def _listen(port: int) -> socket.socket:
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the same port again right after a kill
        listening.bind((BIND_HOST, port))
        listening.listen(64)
    except OSError:
        listening.close()
        raise
    return listening


class S3Server:
    def __init__(self, workdir: Path, port: int = 0) -> None:
        self.workdir = Path(workdir)
        self.data_dir = self.workdir / "data"
        self._listening: socket.socket | None = _listen(port)
        self.port: int = self._listening.getsockname()[1]  # kept across restarts so the endpoint stays the same
        self.endpoint = f"http://{BIND_HOST}:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def __enter__(self) -> S3Server:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process is not None else None

    def start(self) -> None:
        if self.running:
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        listening = self._listening or _listen(self.port)  # after a stop or kill: the same port again
        self._listening = None
        try:
            self._log = open(self.workdir / LOG_NAME, "ab")  # noqa: SIM115 - lives with the process
            self._process = subprocess.Popen(
                [sys.executable, "-m", SERVER_MODULE, "--socket-fd", str(listening.fileno()), str(self.data_dir)],
                cwd=self.workdir, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                pass_fds=(listening.fileno(),), start_new_session=True,
                preexec_fn=lower_priority,  # noqa: PLW1509 - one syscall, no locks
            )
        finally:
            # The server process holds its own copy: once it is gone, connections are refused as in an outage.
            listening.close()
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise S3ServerError(f"the S3 stand-in exited on start:\n{self._log_tail()}")
            if self._lists_buckets():
                return
            time.sleep(0.05)
        self.kill()
        raise S3ServerError(f"the S3 stand-in did not answer within {START_TIMEOUT_S} s:\n{self._log_tail()}")

    def _lists_buckets(self) -> bool:
        """ListBuckets as plain HTTP: a boto3 S3 client would cost the runtime's start ~0.2 s of CPU."""
        connection = http.client.HTTPConnection(BIND_HOST, self.port, timeout=5)
        try:
            connection.request("GET", "/")
            response = connection.getresponse()
            return response.status == HTTPStatus.OK and b"<ListAllMyBucketsResult" in response.read()
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client for this server (dummy credentials: it checks none)."""
        return local_client("s3", self.endpoint, **config)

    def stop(self) -> None:
        end_gracefully(self._process)
        self._cleanup()

    def kill(self) -> None:
        """SIGKILL, for outage and crash tests."""
        end_at_once(self._process)
        self._cleanup()

    def _cleanup(self) -> None:
        self._process = None
        if self._listening is not None:  # made but never started
            self._listening.close()
            self._listening = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def _log_tail(self) -> str:
        try:
            return (self.workdir / LOG_NAME).read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"
