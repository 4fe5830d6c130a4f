"""What the operator page costs the device: OperatorView's process CPU, as a share of one core, while the
pipeline runs OpenCV's pedestrian video (vtest.avi, 10 fps, motion gate on) on the local Greengrass
runtime, first with no page open, then with the page open in headless Chromium (Debian's, driven by
Playwright) for as long. Target: under 5 % of a core with the page open.

    .venv/bin/python scripts/bench.py operator_view [--seconds 30]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import psutil

from benchmarks.results import OperatorViewResult, OperatorViewTargets, PagePhase, PipelineMachine
from local_device.browser import headless_chromium
from local_device.observe import Operator
from local_device.operator_page import free_page_port, wait_for_page
from local_device.overlay import pipeline_merges, write_overlay
from local_device.process import LocalRuntime
from local_device.video import VTEST, VTEST_FPS
from operator_view.settings import OperatorViewConfig
from repo_layout import REPO_ROOT as REPO

ROOT = REPO / ".local-greengrass" / "bench-operator-view"
COMPONENT = "smartcam.OperatorView"
CAMERA = "cam0"
TARGET_CPU_PERCENT = 5.0
WARMUP_S = 10.0


def echo(line: str) -> None:
    print(f"[operator_view] {line}", flush=True)


def deployment(page_port: int) -> Path:
    camera = {"id": CAMERA, "source": {"type": "file", "path": str(VTEST), "fps": VTEST_FPS}, "width": 768,
              "height": 576, "loop": True}
    merges = pipeline_merges(camera=camera, store="events", page_port=page_port)
    for component in ("smartcam.CameraIngest", "smartcam.SsdInference", "smartcam.EventTracker",
                      "smartcam.DynamoWriter"):  # metrics every 10 s: the page's charts have something to draw
        merges.setdefault(component, {})["metrics"] = {"intervalS": 10}
    return write_overlay(ROOT / "deployment.json", merges, name="smartcam-bench-operator-view")


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def cpu_share(process: psutil.Process, seconds: float) -> tuple[float, float]:
    """(seconds elapsed, the process's CPU over them as a percentage of one core)."""
    before, started = cpu_seconds(process), time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    return elapsed, 100 * (cpu_seconds(process) - before) / elapsed


def without_page(process: psutil.Process, seconds: float) -> PagePhase:
    elapsed, share = cpu_share(process, seconds)
    return PagePhase(seconds=round(elapsed, 1), cpu_percent_of_a_core=round(share, 2), page_open=False,
                     frames_drawn=0)


def with_page(process: psutil.Process, seconds: float, url: str) -> PagePhase:
    """The page open in headless Chromium for ``seconds``, from its first frame on."""
    with headless_chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        drawn = f'figure.camera[data-camera="{CAMERA}"]'
        page.wait_for_selector(f"{drawn}[data-updates]", timeout=60_000)
        drawn_before = int(page.get_attribute(drawn, "data-updates") or 0)
        elapsed, share = cpu_share(process, seconds)
        frames_drawn = int(page.get_attribute(drawn, "data-updates") or 0) - drawn_before
    return PagePhase(seconds=round(elapsed, 1), cpu_percent_of_a_core=round(share, 2), page_open=True,
                     frames_drawn=frames_drawn)


def measure(seconds: float) -> tuple[PagePhase, PagePhase]:
    runtime = LocalRuntime(ROOT, echo=lambda line: echo(f"  {line}"))
    runtime.down()
    port = free_page_port(None)
    operator: Operator | None = None
    try:
        runtime.up(deployment(port))
        url = wait_for_page(port)
        process = runtime.component_process(COMPONENT)
        if process is None:
            raise SystemExit(f"{COMPONENT} is not running")
        operator = Operator(runtime)
        os.nice(10)  # this process (and the browser it starts) yields the CPU to the pipeline it measures
        frames = round((WARMUP_S + 2 * seconds + 30) * VTEST_FPS)
        request_id = f"bench-page-{int(time.time())}"
        echo(f"capture of {frames} frames at {VTEST_FPS:g} fps; page on {url}")
        operator.capture(CAMERA, frames, VTEST_FPS, request_id)
        time.sleep(WARMUP_S)
        echo(f"{seconds:g} s with no page open ...")
        closed = without_page(process, seconds)
        echo(closed.model_dump_json())
        echo(f"{seconds:g} s with the page open in headless Chromium ...")
        opened = with_page(process, seconds, url)
        echo(opened.model_dump_json())
        operator.wait_final(request_id, timeout=frames / VTEST_FPS + 240)
        return closed, opened
    finally:
        if operator is not None:
            operator.close()
        runtime.down()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each phase (no page, page open)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "bench" / "operator_view.json")
    args = parser.parse_args(argv)
    closed, opened = measure(args.seconds)
    result = OperatorViewResult(
        command=" ".join(["scripts/bench.py", "operator_view", *(argv if argv is not None else sys.argv[1:])]),
        when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        machine=PipelineMachine(cpus=os.cpu_count(), platform=platform.platform(), python=platform.python_version(),
                                loadavg_at_end=os.getloadavg()),
        camera="vtest.avi 768x576, motion gate on", capture_fps=VTEST_FPS, max_fps=OperatorViewConfig().max_fps,
        without_page=closed, with_page=opened,
        targets=OperatorViewTargets(cpu_percent_of_a_core=TARGET_CPU_PERCENT,
                                    met=opened.cpu_percent_of_a_core < TARGET_CPU_PERCENT),
    )
    result.write(args.out)
    print(result.targets.model_dump_json(indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
