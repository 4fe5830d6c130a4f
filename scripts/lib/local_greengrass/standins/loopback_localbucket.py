"""The S3 stand-in's server process: LocalBucket's request handler on a socket its parent already bound.

Started by :class:`local_greengrass.standins.s3.S3Server` as
``python -m local_greengrass.standins.loopback_localbucket --socket-fd N DATA_DIR``. The parent binds
127.0.0.1 and listens before this process starts, so the port is the parent's choice, known at once, and
never on another interface; this process only serves it. LocalBucket (PyPI ``localbucket``, pinned in
requirements-dev.txt) keeps each bucket as a folder and each object as a file under DATA_DIR, written to
a temporary file and renamed, so a killed server leaves whole objects only.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from http.server import ThreadingHTTPServer
from pathlib import Path

import localbucket


def serve(listening: socket.socket, data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    localbucket.S3Handler.data_root = data_dir.resolve()  # how LocalBucket's own main() configures it
    server = ThreadingHTTPServer(listening.getsockname(), localbucket.S3Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = listening
    server.server_name, server.server_port = listening.getsockname()[:2]
    server.daemon_threads = True
    server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--socket-fd", type=int, required=True, help="a listening TCP socket inherited from the parent")
    parser.add_argument("data_dir", type=Path)
    args = parser.parse_args(argv)
    # LocalBucket logs one line per request: the stand-in's log, like DynamoDB Local's, is for debugging.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(socket.socket(fileno=args.socket_fd), args.data_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
