"""`make demo`: the whole pipeline on the local Greengrass runtime, end to end, in one command.

1. makes a short sample video from real photos (three people, one cat) into the runtime root;
2. writes an overlay of recipes/dev.json (camera cam0 = that video, table created on first use,
   annotated frames on) and starts the runtime with it: mosquitto as IoT Core, DynamoDB Local, and
   the four components from their built recipes;
3. sends a capture command the way an operator does (MQTT, operator certificate, the MQTT test
   client's code path) and follows the capture status;
4. waits until every detection of that request is stored in DynamoDB, prints the items, says where
   the annotated frames are, and shuts everything down (also on Ctrl-C or failure).
Exit status 0 only if every detection the pipeline produced for the request was stored.

    .venv/bin/python scripts/demo.py [--root DIR] [--frames 20] [--fps 5] [--keep-running]
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from fleet.mqtt import MqttError
from local_device.camera import CameraChoiceError, camera_source
from local_device.listeners import runtime_listeners
from local_device.observe import Operator, PipelineObserver
from local_device.overlay import pipeline_merges, write_overlay
from local_device.process import LocalRuntime, RuntimeFailure
from local_device.report import detections_table
from local_device.store import expected_keys, stored_keys, table, wait_for_items
from local_device.video import make_sample_video
from repo_layout import REPO_ROOT
from smartcam.contracts import CaptureStatus

STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"[demo {time.monotonic() - STARTED:6.1f}s] {message}", flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=REPO_ROOT / ".local-greengrass",
                        help="runtime root (default .local-greengrass; the device venv is kept there)")
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--fps", type=float, default=5.0,
                        help="capture rate; a file or folder camera (and the sample video) is replayed at it too, "
                        "so no image is skipped")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for the results")
    parser.add_argument("--keep-running", action="store_true", help="leave the runtime up at the end")
    parser.add_argument("--camera", default="", help="capture from this camera instead of the sample video: "
                        "/dev/videoN (or N), an rtsp(s)/http(s) URL, a video file or a folder of images "
                        "(make demo CAMERA=...)")
    args = parser.parse_args(argv)
    try:
        args.source = camera_source(args.camera, args.fps) if args.camera else None
    except CameraChoiceError as exc:
        parser.error(str(exc))
    return args


def show_status(status: CaptureStatus) -> None:
    counts = f" {status.frames_captured}/{status.frames_requested} frames" if status.frames_captured is not None else ""
    say(f"capture status: {status.state}{counts}" + (f" ({status.reason})" if status.reason else ""))
    if status.accounting is not None:
        say("every frame accounted for: " + ", ".join(
            f"{count} {name.replace('_', ' ')}" for name, count in status.accounting.model_dump().items() if count))


def _raise_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def demo_source(args: argparse.Namespace, demo: Path) -> dict[str, Any]:
    if args.source is not None:
        say(f"camera: {args.source}")
        return args.source
    video = make_sample_video(demo / "sample.avi", fps=args.fps)
    say(f"sample video {video} (640x480 MJPG at {args.fps:g} fps, 8 s: Grace Hopper, Eileen Collins, the cameraman, "
        "Chelsea the cat)")
    return {"type": "file", "path": str(video), "fps": args.fps}


def loopback_only(runtime: LocalRuntime) -> bool:
    """Says what the runtime listens on (as `ss -ltnp` shows it); False if anything is beyond loopback."""
    listeners = runtime_listeners(runtime.root)
    say("listening (ss -ltnp): " + ", ".join(str(listener) for listener in listeners))
    exposed = [listener for listener in listeners if not listener.loopback]
    if exposed:
        say(f"NOT loopback only: {', '.join(str(listener) for listener in exposed)}")
    return not exposed


def run(args: argparse.Namespace, runtime: LocalRuntime) -> int:
    demo = runtime.root / "demo"
    source = demo_source(args, demo)
    annotated = demo / "annotated"
    shutil.rmtree(annotated, ignore_errors=True)  # only this run's frames
    camera = {"id": "cam0", "source": source, "width": 640, "height": 480, "loop": True}
    document = write_overlay(demo / "deployment.json", pipeline_merges(camera=camera, annotated_dir=annotated),
                             name="smartcam-local-demo")
    say(f"deployment document {document} (recipes/dev.json + local settings)")
    say("starting the local Greengrass runtime (the first run builds the device venv: about a minute)")
    runtime.up(document)
    if not loopback_only(runtime):
        return 1
    thing = runtime.thing_name()
    store = table(runtime.dynamodb_endpoint())
    observer = PipelineObserver(runtime)
    operator = None
    try:
        operator = Operator(runtime)
        request_id = f"demo-{uuid.uuid4().hex[:8]}"
        say(f"operator -> smartcam/{thing}/capture: capture {args.frames} frames at {args.fps:g} fps from cam0, "
            f"request {request_id}")
        operator.capture("cam0", args.frames, args.fps, request_id)
        final = operator.wait_final(request_id, timeout=args.timeout, on_status=show_status)
        if final.state != "finished":
            say(f"capture did not finish: {final.state} {final.reason or ''}")
            return 1
        captured = final.frames_captured or 0
        observer.wait_inferred(request_id, captured, timeout=args.timeout, quiet=20.0)
        inferred = {m.frame.frame_id: m for _, m in observer.detections(request_id)}  # a resend counts once
        say(f"{captured} frames captured, {len(inferred)} inferred, "
            f"{sum(1 for m in inferred.values() if m.detections)} with detections")
        last = [-1]

        def progress(have: int, want: int) -> None:
            if have != last[0]:
                last[0] = have
                say(f"DynamoDB: {have}/{want} items stored")

        def expected() -> set[tuple[str, str]]:
            return expected_keys(m for _, m in observer.detections(request_id))

        items = wait_for_items(store, thing, request_id, expected, timeout=args.timeout, on_poll=progress)
        print(f"\nDynamoDB table {store.name}, device {thing}, request {request_id}:")
        print(detections_table(items))
        annotated_files = sorted(annotated.rglob("*.jpg")) if annotated.exists() else []
        say(f"annotated frames: {annotated} ({len(annotated_files)} JPEGs)")
        keys = stored_keys(items)
        missing = expected() - set(keys)
        duplicated = len(keys) - len(set(keys))
        # The sample video has people in 6 of its 8 seconds; a real camera may see nobody.
        if len(inferred) < captured or missing or duplicated or (not items and args.source is None):
            say(f"NOT everything arrived: {captured - len(inferred)} frames not inferred, {len(missing)} items "
                f"missing, {duplicated} duplicated")
            return 1
        say(f"every detection stored exactly once ({len(items)} items from {captured} frames)")
        return 0
    finally:
        if operator is not None:
            operator.close()
        observer.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    runtime = LocalRuntime(args.root, echo=lambda line: say(f"  {line}"))
    code = 1
    try:
        code = run(args, runtime)
    except KeyboardInterrupt:
        say("interrupted")
        code = 130
    except (RuntimeFailure, MqttError, TimeoutError, OSError) as exc:
        say(f"failed: {exc}")
        say(f"component logs: {runtime.root / 'logs'}")
    finally:
        # A second Ctrl-C must not cut the shutdown short and leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if args.keep_running:
            say(f"runtime left running (root {runtime.root}); stop it with scripts/local-greengrass down")
        else:
            say("shutting down the runtime")
            runtime.down()
    say(f"done in {time.monotonic() - STARTED:.0f} s (exit {code})")
    return code


if __name__ == "__main__":
    sys.exit(main())
