#!/usr/bin/env python3
"""Benchmark of camera ingest: per-frame capture + ring write + publish, and sustained fps.

    .venv/bin/python scripts/bench.py capture [--frames 300] [--seconds 10] [--publish ipc|stub]
                                              [--out docs/bench/capture.json]

For 640x480 and 1280x720 an MJPG video (a pan over a real photo) is made, then a child process
(the component side, so its CPU time is the component's alone):
- per frame: decodes the file as fast as it goes (OpenCvSource, unpaced) and times each stage:
  grab + decode, ring write (the raw frame copied into its slot, tmpfs when available), publish of
  the FrameRef on smartcam/frames; the process CPU ms per frame is the capture cost per frame;
- sustained: runs the real CaptureSession at 30 fps for --seconds from the file replayed at its
  own 30 fps, and reports the achieved fps and the process CPU time / wall time (1.0 = one core).
Publishing goes through the repo's local Greengrass IPC server (scripts/local_greengrass) with the
real awsiotsdk client (--publish ipc, the default), or is only JSON-encoded (--publish stub).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess  # nosec B404
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.results import (
    CaptureAtSize,
    CaptureResult,
    CaptureStages,
    CaptureTarget,
    Machine,
    PerFrame,
    Spread,
    Sustained,
)
from repo_layout import REPO_ROOT as REPO

RESOLUTIONS = ((640, 480), (1280, 720))
TARGET_FPS = 30.0
COMPONENT = "smartcam.CameraIngest"
QUALITY = 85


# media ---------------------------------------------------------------------------------------------
def make_video(path: Path, size: tuple[int, int], count: int, fps: float = TARGET_FPS) -> None:
    import cv2
    import matplotlib
    import numpy as np

    photo = cv2.imread(str(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    for i in range(count):
        shifted = np.roll(photo, shift=i * 5, axis=1)[i % 30 : i % 30 + 540, :]
        writer.write(cv2.resize(shifted, size, interpolation=cv2.INTER_LINEAR))
    writer.release()


# the component side (child process) ----------------------------------------------------------------
class _NullStatus:
    """Status replies are not what is measured here."""

    def send(self, *args: Any, **kwargs: Any) -> None:
        return None


def _publisher(mode: str) -> tuple[Callable[[Any], None], Callable[[], None]]:
    if mode == "stub":
        return (lambda ref: json.dumps(ref.to_message()).encode()), (lambda: None)
    from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

    from smartcam import topics
    from smartcam.ipc import Ipc

    ipc = Ipc(GreengrassCoreIPCClientV2(executor=ThreadPoolExecutor(max_workers=1)))
    return (lambda ref: ipc.publish(topics.FRAMES, ref)), ipc.close


def _camera(video: Path) -> Any:
    from camera_ingest.settings import CameraSettings

    return CameraSettings.model_validate(
        {"id": "bench", "source": {"type": "file", "path": str(video)}, "jpegQuality": QUALITY}
    )


def per_frame(video: Path, frame_root: Path, frames: int, publish: Callable[[Any], None]) -> PerFrame:
    from camera_ingest.sources import OpenCvSource
    from smartcam.frames import FrameRing

    source = OpenCvSource(_camera(video), pace=False)
    ring = FrameRing(frame_root, "per-frame", capacity=100)
    stages: dict[str, list[float]] = {"grab_decode": [], "ring_write": [], "publish": []}
    source.open()
    for _ in range(10):  # warm up decoder, ring file and connection
        source.grab()
        publish(ring.write(source.retrieve(), captured_at=time.time(), captured_monotonic_ns=time.monotonic_ns()))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(frames):
        t0 = time.perf_counter()
        source.grab()
        image = source.retrieve()
        t1 = time.perf_counter()
        ref = ring.write(image, captured_at=time.time(), captured_monotonic_ns=time.monotonic_ns())
        t2 = time.perf_counter()
        publish(ref)
        t3 = time.perf_counter()
        for name, value in zip(stages, (t1 - t0, t2 - t1, t3 - t2), strict=True):
            stages[name].append(value * 1000)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    source.close()
    totals = [sum(parts) for parts in zip(*stages.values(), strict=True)]
    return PerFrame(
        frames=frames,
        ms=CaptureStages(**{name: _stats(values) for name, values in stages.items()}, total=_stats(totals)),
        slot_kb=round(ring.path.stat().st_size / max(1, ring.slots) / 1024, 1) if ring.path else None,
        max_fps_one_stream=round(frames / wall, 1),
        cpu_cores_at_max_fps=round(cpu / wall, 2),
        cpu_ms_per_frame=round(cpu / frames * 1000, 2),
    )


def sustained(video: Path, frame_root: Path, seconds: float, publish: Callable[[Any], None]) -> Sustained:
    from camera_ingest.commands import CaptureRequest
    from camera_ingest.session import CaptureSession
    from camera_ingest.settings import ReconnectSettings
    from camera_ingest.sources import OpenCvSource
    from smartcam.frames import FrameRing

    camera = _camera(video)
    request = CaptureRequest("capture", camera, "bench", period_s=1 / TARGET_FPS, duration_s=seconds)
    session = CaptureSession(
        request, OpenCvSource(camera), FrameRing(frame_root, "sustained", capacity=300), _NullStatus(),  # type: ignore[arg-type]
        publish, reconnect=ReconnectSettings(), progress_interval_s=3600,
    )
    cpu0, wall0 = time.process_time(), time.perf_counter()
    session.run()  # on this thread: the session is the only work of the process
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    stamps = session.stats.timestamps_ns
    gaps = [(b - a) / 1e6 for a, b in itertools.pairwise(stamps)]
    return Sustained(
        requested_fps=TARGET_FPS,
        seconds=seconds,
        frames=session.stats.frames,
        achieved_fps=round(session.stats.achieved_fps() or 0.0, 2),
        frame_gap_ms=_stats(gaps) if gaps else None,
        cpu_cores=round(cpu / wall, 3),
        outcome=session.outcome[0] if session.outcome else None,
    )


def child(args: argparse.Namespace) -> None:
    import cv2

    publish, close = _publisher(args.publish)
    try:
        result = CaptureAtSize(
            opencv=cv2.__version__,
            opencv_threads=cv2.getNumThreads(),
            per_frame=per_frame(args.video, args.frame_root, args.frames, publish),
            sustained=sustained(args.video, args.frame_root, args.seconds, publish),
        )
    finally:
        close()
    print(result.model_dump_json(), flush=True)


# orchestration --------------------------------------------------------------------------------------
def _stats(values: list[float]) -> Spread:
    ordered = sorted(values)
    return Spread(
        mean=round(statistics.fmean(values), 3),
        p50=round(ordered[len(ordered) // 2], 3),
        p95=round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3),
    )


def _frame_root_parent() -> Path:
    from smartcam.frames import frame_base

    return frame_base()  # the same filesystem the component writes to


def run(frames: int, seconds: float, publish: str) -> CaptureResult:
    work = Path(tempfile.mkdtemp(prefix="capture-bench-"))
    frame_root = Path(tempfile.mkdtemp(prefix="capture-bench-frames-", dir=_frame_root_parent()))
    server = None
    env = dict(os.environ)
    try:
        if publish == "ipc":
            from local_greengrass.configuration.store import ConfigStore
            from local_greengrass.ipc.server import IpcServer

            config = ConfigStore()
            policy = {"operations": ["aws.greengrass#PublishToTopic"], "resources": ["smartcam/frames"]}
            access = {"aws.greengrass.ipc.pubsub": {f"{COMPONENT}:bench": policy}}
            config.set_component(COMPONENT, {"accessControl": access})
            server = IpcServer(work / "ipc.sock", config)
            server.start()
            env["AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT"] = str(server.socket_path)
            env["SVCUID"] = server.add_component(COMPONENT)
        results: dict[str, CaptureAtSize] = {}
        for width, height in RESOLUTIONS:
            video = work / f"bench-{width}x{height}.avi"
            make_video(video, (width, height), count=max(60, min(frames, 300)))
            # Fixed argv: this script and paths it made itself.
            output = subprocess.run(  # nosec B603
                [sys.executable, __file__, "--role", "child", "--video", str(video), "--frame-root", str(frame_root),
                 "--frames", str(frames), "--seconds", str(seconds), "--publish", publish],
                env=env, capture_output=True, text=True, timeout=600, check=False,
            )
            if output.returncode != 0:
                raise RuntimeError(f"benchmark child failed:\n{output.stderr[-4000:]}")
            results[f"{width}x{height}"] = CaptureAtSize.model_validate_json(output.stdout.strip().splitlines()[-1])
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(frame_root, ignore_errors=True)
    vga = results["640x480"].sustained
    return CaptureResult(
        command=".venv/bin/python scripts/bench.py capture",
        when=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        machine=Machine.here(),
        publish="local Greengrass IPC server + awsiotsdk GreengrassCoreIPCClientV2" if publish == "ipc"
        else "JSON encoding only (no IPC)",
        frame_root_filesystem=str(_frame_root_parent()),
        jpeg_quality=QUALITY,
        results=results,
        target=CaptureTarget(
            fps_at_640x480=TARGET_FPS,
            cpu_cores_below=0.5,
            met=vga.achieved_fps >= 0.95 * TARGET_FPS and vga.cpu_cores < 0.5,
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300, help="frames timed per resolution")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the sustained 30 fps run")
    parser.add_argument("--publish", choices=["ipc", "stub"], default="ipc")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "bench" / "capture.json")
    parser.add_argument("--role", choices=["child"], help=argparse.SUPPRESS)
    parser.add_argument("--video", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--frame-root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "child":
        child(args)
        return
    report = run(args.frames, args.seconds, args.publish)
    report.write(args.out)
    print(report.to_json(), end="")


if __name__ == "__main__":
    main()
