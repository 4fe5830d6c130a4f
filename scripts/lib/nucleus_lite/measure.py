"""Nucleus lite against the local runtime's daemon: memory and CPU of the nucleus itself at idle and
during a 10 fps capture, and the time from deployment to every component RUNNING.

    .venv/bin/python -m nucleus_lite.measure [--idle 20] [--frames 100] [--out docs/nucleus-lite.json]

"Nucleus" is what the device owner runs besides the components: for lite its daemons (the ggl
binaries; the private systemd, journald and dbus it needs are listed apart, as a device has them
anyway), for the local runtime its daemon process. Components, stand-ins and the test process are
not counted. CPU is user+system time over wall time (1.0 = one core); memory is the sum of RSS and of
PSS (shared pages split between the processes that map them; the fairer sum).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from local_device.observe import Operator
from nucleus_lite.devices import CAMERA, LiteRuntimeDevice, LocalRuntimeDevice
from nucleus_lite.sources import find_sources
from repo_layout import REPO_ROOT

E2E_ROOT = REPO_ROOT / ".local-greengrass" / "e2e"


def sample(processes: Callable[[], list[psutil.Process]], seconds: float) -> dict[str, Any]:
    """CPU (cores) and RSS (MB, mean and peak) of ``processes()`` over ``seconds``."""
    per_process: dict[str, float] = {}

    def cpu_and_memory(sign: float = 0.0) -> tuple[float, float, float]:
        cpu = rss = pss = 0.0
        for process in processes():
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                cpu += times.user + times.system
                name = _name(process)
                per_process[name] = per_process.get(name, 0.0) + sign * (times.user + times.system)
                memory = process.memory_full_info()
                rss += memory.rss
                pss += memory.pss
        return cpu, rss / 1e6, pss / 1e6

    start_cpu = cpu_and_memory(-1.0)[0]
    started = time.monotonic()
    memory_samples = []
    while time.monotonic() - started < seconds:
        memory_samples.append(cpu_and_memory()[1:])
        time.sleep(0.5)
    end_cpu = cpu_and_memory(1.0)[0]
    elapsed = time.monotonic() - started
    return {"cpu_cores": round((end_cpu - start_cpu) / elapsed, 4),
            "cpu_cores_by_process": {k: round(v / elapsed, 4) for k, v in sorted(per_process.items()) if v > 0},
            "rss_mb": round(sum(s[0] for s in memory_samples) / len(memory_samples), 1),
            "pss_mb": round(sum(s[1] for s in memory_samples) / len(memory_samples), 1),
            "rss_peak_mb": round(max(s[0] for s in memory_samples), 1), "processes": len(processes())}


def measure(device: LiteRuntimeDevice | LocalRuntimeDevice, idle_s: float, frames: int) -> dict[str, Any]:
    result: dict[str, Any] = {"device": device.name}
    device.up()
    try:
        result["deploy_to_running_s"] = round(device.deploy_seconds, 1)
        time.sleep(5)  # let the deployment's own work settle
        result["idle"] = sample(device.nucleus_processes, idle_s)
        operator = Operator(device)  # type: ignore[arg-type]
        try:
            request = operator.capture(CAMERA, frames, 10)
            result["capture_10fps"] = sample(device.nucleus_processes, frames / 10)
            final = operator.wait_final(request, timeout=120)
            result["capture_10fps"]["frames_captured"] = final.frames_captured
        finally:
            operator.close()
        if isinstance(device, LiteRuntimeDevice):
            device_processes = device._lite().processes()
            support = [p for p in device_processes if p not in device.nucleus_processes()
                       and not _is_component(p)]
            result["lite_support_processes"] = sorted({_name(p) for p in support})
            result["lite_support_pss_mb"] = round(sum(_pss(p) for p in support) / 1e6, 1)
    finally:
        device.down()
    return result


def _is_component(process: psutil.Process) -> bool:
    with contextlib.suppress(psutil.Error):
        return "/work/" in process.cwd() or process.name() in ("recipe-runner", "sleep", "sh")
    return False


def _name(process: psutil.Process) -> str:
    with contextlib.suppress(psutil.Error):
        return process.name()
    return "?"


def _pss(process: psutil.Process) -> int:
    with contextlib.suppress(psutil.Error):
        return int(process.memory_full_info().pss)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of idle sampling")
    parser.add_argument("--frames", type=int, default=100, help="frames of the 10 fps capture")
    # Not in docs/bench: those are `make bench`'s results, each read through its benchmark's model.
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "nucleus-lite.json")
    args = parser.parse_args(argv)
    sources = find_sources()
    if sources is None:
        parser.error("nucleus lite sources not found")
    results = [measure(LocalRuntimeDevice(E2E_ROOT), args.idle, args.frames),
               measure(LiteRuntimeDevice(sources), args.idle, args.frames)]
    document = {"measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "command": f".venv/bin/python -m nucleus_lite.measure --idle {args.idle:g} --frames {args.frames}",
                "machine": f"{psutil.cpu_count()} CPUs, Python {platform.python_version()}, {platform.platform()}",
                "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
