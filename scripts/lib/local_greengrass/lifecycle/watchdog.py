"""Ends everything the daemon started when the daemon dies, however it dies (kill -9 included).

The daemon starts this process with a pipe on stdin and writes `pgid <n>` for each process group it
creates. EOF on the pipe means the daemon is gone: every registered group and every process that
carries the daemon's marker is ended.
"""

from __future__ import annotations

import argparse
import signal
import sys

from local_greengrass.lifecycle.processes import end_everything


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--marker", required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pgids: set[int] = set()
    for line in sys.stdin:
        words = line.split()
        if len(words) == 2 and words[0] == "pgid" and words[1].isdigit():
            pgids.add(int(words[1]))
        elif words == ["done"]:
            break  # the daemon stopped everything itself; sweep for stragglers anyway
    survivors = end_everything(args.marker, pgids)
    for process in survivors:
        print(f"local-greengrass watchdog: could not end pid {process.pid}", file=sys.stderr)
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
