"""What a local runtime listens on, read with `ss` (iproute2): every TCP listener of a process the
runtime started (the daemon and everything carrying its marker), with its local address.

In local mode nothing may listen beyond loopback: `make demo` prints these and fails otherwise, and
the e2e tests assert it while the pipeline runs.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from local_greengrass.lifecycle.processes import marked_processes
from local_greengrass.paths import RuntimePaths

_USER = re.compile(r'\("(?P<name>[^"]*)",pid=(?P<pid>\d+),')


@dataclass(frozen=True)
class Listener:
    address: str  # as ss prints it: 127.0.0.1, ::1, 0.0.0.0, *, ...
    port: int
    process: str
    pid: int

    @property
    def loopback(self) -> bool:
        return is_loopback(self.address)

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port} ({self.process}, pid {self.pid})"


def is_loopback(address: str) -> bool:
    if address == "*":  # ss's way of saying every interface
        return False
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def tcp_listeners() -> list[Listener]:
    """Every TCP listener on this machine with its owning processes (`ss -ltnpH`)."""
    ss = shutil.which("ss")
    if ss is None:
        raise FileNotFoundError("ss is not installed (iproute2; scripts/setup-system installs it)")
    out = subprocess.run([ss, "-ltnpH"], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 6:
            continue  # a socket of a process we may not inspect: no users:(...) column
        address, _, port = fields[3].rpartition(":")
        for user in _USER.finditer(" ".join(fields[5:])):
            found.append(Listener(address.strip("[]"), int(port), user["name"], int(user["pid"])))
    return found


def runtime_pids(root: Path) -> set[int]:
    """The runtime daemon under ``root`` and every process it started (they carry its marker)."""
    paths = RuntimePaths(root)
    pids: set[int] = set()
    if paths.pid_file.exists():
        pids.add(int(paths.pid_file.read_text().strip()))
    if paths.instance_file.exists():
        pids |= {p.pid for p in marked_processes(paths.instance_file.read_text().strip())}
    return pids


def runtime_listeners(root: Path) -> list[Listener]:
    pids = runtime_pids(root)
    return [listener for listener in tcp_listeners() if listener.pid in pids]
