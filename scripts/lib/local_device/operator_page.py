"""OperatorView's page on a local runtime: a port for it and its address, for the demo, the e2e test
and the benchmark."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request

DEFAULT_PORT = 8420  # the recipe's
LOOPBACK = "127.0.0.1"


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def free_page_port(preferred: int | None = DEFAULT_PORT) -> int:
    """``preferred`` when nothing listens there, else (or when None) a free port the system picks:
    another runtime, a demo left running, may hold the recipe's."""
    if preferred is not None and port_is_free(preferred):
        return preferred
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def page_url(port: int) -> str:
    return f"http://{LOOPBACK}:{port}/"


def wait_for_page(port: int, timeout: float = 60.0) -> str:
    """The page's address once it answers (the component may still be starting or moving its server)."""
    url = page_url(port)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url + "api/live", timeout=5) as response:  # noqa: S310  # nosec B310
                if response.status == 200:
                    return url
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"OperatorView's page did not answer on {url} within {timeout:g} s")
        time.sleep(0.5)
