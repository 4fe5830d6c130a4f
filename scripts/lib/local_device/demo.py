"""`make demo`: the whole pipeline on the local Greengrass runtime, end to end, in one command.

1. writes an overlay of recipes/dev.json and starts the runtime with it: mosquitto as IoT Core,
   DynamoDB Local, the S3 stand-in and the components from their built recipes. Camera cam0 replays
   OpenCV's pedestrian video (vtest.avi, 795 frames at 10 fps, installed by scripts/setup-system) with
   its motion gate on; the tracker watches a zone `lawn` and a line `walkway` on it; the writer stores
   events (its default mode) and creates its table and bucket on first use;
2. sends a capture of the whole video the way an operator does (MQTT, operator certificate, the MQTT
   test client's code path) and follows the capture status, down to what became of every frame;
3. waits until every event the tracker started for the capture has ended and is stored in DynamoDB as
   of its end message, prints the events as read back from DynamoDB, fetches every snapshot from S3
   and puts the crops, captioned with their track ids, on a contact sheet, and prints a summary of the
   components' metrics (every 10 s here); then shuts everything down (also on Ctrl-C or failure).
It prints the address of the operator page (smartcam.OperatorView) once the runtime is up; with
--keep-running the pipeline and the page stay up until Ctrl-C.
Exit status 0 only if every frame was accounted for, every event of the capture was stored once as of
its end, and every snapshot an event names is in S3 (and, on vtest.avi, people were seen).

    .venv/bin/python scripts/demo.py [--camera SOURCE] [--frames N] [--fps 10] [--root DIR] [--keep-running]
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from fleet.mqtt import MqttError
from local_device.camera import CameraChoiceError, camera_source
from local_device.contact_sheet import Tile, caption, contact_sheet
from local_device.listeners import runtime_listeners
from local_device.metrics_summary import metrics_report, wait_for_round
from local_device.observe import Operator, PipelineObserver
from local_device.operator_page import free_page_port, wait_for_page
from local_device.overlay import LOCAL_SNAPSHOT_BUCKET, pipeline_merges, write_overlay
from local_device.process import LocalRuntime, RuntimeFailure
from local_device.report import events_table
from local_device.store import EVENTS_TABLE, table, wait_for_events
from local_device.video import VTEST
from local_greengrass.paths import RuntimePaths
from local_greengrass.standins.child import local_client
from repo_layout import REPO_ROOT
from smartcam.contracts import CaptureStatus, TrackEvent

STARTED = time.monotonic()
CAMERA = "cam0"
VTEST_FRAMES = 795
# Each component's metrics (aws.greengrass.Cloudwatch's topic; the runtime's stand-in writes them to a file)
# every 10 s instead of every minute, so a run of the video shows a few rounds.
METRICS_INTERVAL_S = 10
METRICS_COMPONENTS = ("smartcam.CameraIngest", "smartcam.SsdInference", "smartcam.EventTracker",
                      "smartcam.DynamoWriter", "smartcam.OperatorView")
OTHER_CAMERA_FRAMES = 100
# What the tracker watches on vtest.avi (coordinates 0..1 from the top left): the lawn below the
# walkway, and a line across the walkway ("in" = walking left to right, as seen in the picture).
# Data capture for labeling, on in the demo: uncertain frames, each new track's first frame and 1 frame in 50,
# at most 30 a camera-hour (a few MB in the S3 stand-in).
DEMO_CAPTURE = {"enabled": True, "sampleRate": 0.02, "maxPerHour": 30, "maxPerDay": 200}
VTEST_ZONES = {
    "zones": [{"name": "lawn", "polygon": [[0.0, 0.43], [0.52, 0.62], [1.0, 0.85], [1.0, 1.0], [0.0, 1.0]],
               "labels": ["person"]}],
    "lines": [{"name": "walkway", "points": [[0.5, 0.8], [0.5, 0.2]], "labels": ["person"]}],
}


def say(message: str) -> None:
    print(f"[demo {time.monotonic() - STARTED:6.1f}s] {message}", flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=REPO_ROOT / ".local-greengrass",
                        help="runtime root (default .local-greengrass; the device venv is kept there)")
    parser.add_argument("--frames", type=int, default=None,
                        help=f"frames to capture (default: the whole of vtest.avi, {VTEST_FRAMES}; "
                        f"{OTHER_CAMERA_FRAMES} from another camera)")
    parser.add_argument("--fps", type=float, default=10.0,
                        help="capture rate; a file or folder camera is replayed at it too, so no image is skipped")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for each stage's results")
    parser.add_argument("--keep-running", action="store_true",
                        help="keep the pipeline and the operator page up at the end, until Ctrl-C")
    parser.add_argument("--camera", default="", help="capture from this camera instead of vtest.avi: "
                        "/dev/videoN (or N), an rtsp(s)/http(s) URL, a video file or a folder of images "
                        "(make demo CAMERA=...)")
    args = parser.parse_args(argv)
    if args.frames is not None and args.frames < 1:
        parser.error("--frames must be at least 1")
    try:
        args.source = camera_source(args.camera, args.fps) if args.camera else None
    except CameraChoiceError as exc:
        parser.error(str(exc))
    if args.frames is None:
        args.frames = OTHER_CAMERA_FRAMES if args.source else VTEST_FRAMES
    return args


def status_printer(progress_every_s: float = 10.0) -> Callable[[CaptureStatus], None]:
    """Says each capture status; progress at most every ``progress_every_s`` seconds."""
    last_progress = [-progress_every_s]

    def show(status: CaptureStatus) -> None:
        if status.state == "progress":
            if time.monotonic() - last_progress[0] < progress_every_s:
                return
            last_progress[0] = time.monotonic()
        captured = status.frames_captured
        counts = f" {captured}/{status.frames_requested} frames" if captured is not None else ""
        gated = f", {status.frames_gated} gated (no motion)" if status.frames_gated else ""
        say(f"capture status: {status.state}{counts}{gated}" + (f" ({status.reason})" if status.reason else ""))
        if status.accounting is not None:
            say("every frame accounted for: " + ", ".join(
                f"{count} {name.replace('_', ' ')}" for name, count in status.accounting.model_dump().items() if count))

    return show


def _raise_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def camera_settings(args: argparse.Namespace) -> dict[str, Any]:
    if args.source is not None:
        say(f"camera: {args.source}")
        return {"id": CAMERA, "source": args.source, "width": 640, "height": 480, "loop": True}
    if not VTEST.is_file():
        raise FileNotFoundError(f"{VTEST} is missing: scripts/setup-system installs it (Debian's opencv-doc)")
    say(f"camera: {VTEST} (OpenCV's pedestrian scene, 768x576, replayed at {args.fps:g} fps), motion gate on")
    return {"id": CAMERA, "source": {"type": "file", "path": str(VTEST), "fps": args.fps}, "loop": True}


def loopback_only(runtime: LocalRuntime) -> bool:
    """Says what the runtime listens on (as `ss -ltnp` shows it); False if anything is beyond loopback."""
    listeners = runtime_listeners(runtime.root)
    say("listening (ss -ltnp): " + ", ".join(str(listener) for listener in listeners))
    exposed = [listener for listener in listeners if not listener.loopback]
    if exposed:
        say(f"NOT loopback only: {', '.join(str(listener) for listener in exposed)}")
    return not exposed


def ended_events(observer: PipelineObserver, request_id: str, timeout: float) -> dict[str, TrackEvent]:
    """The end message of every event the tracker published for the request, once none is open."""
    deadline = time.monotonic() + timeout
    while True:
        messages: dict[str, list[TrackEvent]] = {}
        for event in observer.events():
            if event.request_id == request_id:
                messages.setdefault(event.event_id, []).append(event)
        ends = {event_id: next((m for m in ms if m.kind == "end"), None) for event_id, ms in messages.items()}
        if all(ends.values()):
            return {event_id: end for event_id, end in ends.items() if end is not None}
        if time.monotonic() > deadline:
            still_open = sum(1 for end in ends.values() if end is None)
            raise TimeoutError(f"{still_open} events still open after {timeout:g} s")
        time.sleep(0.5)


def snapshot_tiles(runtime: LocalRuntime, items: list[dict[str, Any]]) -> tuple[list[Tile], list[str]]:
    """Each event's crop fetched from S3 (as a consumer of the table would), and the keys an item
    names that are not in S3."""
    s3 = local_client("s3", runtime.status()["standins"]["s3"])
    tiles, missing = [], []
    for item in items:
        snapshot = item.get("snapshot")
        if snapshot is None:
            continue
        for key in (str(snapshot["key"]), str(snapshot["crop_key"])):
            try:
                s3.head_object(Bucket=str(snapshot["bucket"]), Key=key)
            except ClientError:
                missing.append(key)
        if str(snapshot["crop_key"]) not in missing:
            crop = s3.get_object(Bucket=str(snapshot["bucket"]), Key=str(snapshot["crop_key"]))["Body"].read()
            tiles.append(Tile(crop, caption(item)))
    return tiles, missing


def captured_for_labeling(runtime: LocalRuntime, thing: str) -> str:
    """How many frames the data capture put in S3 for labeling so far (a JPEG, predictions, a manifest part)."""
    s3 = local_client("s3", runtime.status()["standins"]["s3"])
    prefix = f"captures/{thing}/{CAMERA}/"
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=LOCAL_SNAPSHOT_BUCKET, Prefix=prefix)
    try:
        parts = [e["Key"] for page in pages for e in page.get("Contents", []) if e["Key"].endswith(".manifest.jsonl")]
    except ClientError as exc:  # no bucket yet: nothing was uploaded
        return f"data capture for labeling: nothing in S3 yet ({exc.response['Error']['Code']})"
    return (f"data capture for labeling: {len(parts)} frames in s3://{LOCAL_SNAPSHOT_BUCKET}/{prefix} so far (JPEG, "
            "predictions and a Ground Truth manifest line each; bounded per camera-hour, so later runs add fewer)")


def summarize(items: list[dict[str, Any]]) -> str:
    labels: dict[str, int] = {}
    for item in items:
        labels[str(item["label"])] = labels.get(str(item["label"]), 0) + 1
    zones: dict[str, int] = {}
    crossings: dict[str, list[int]] = {}
    for item in items:
        for zone in {str(z["zone"]) for z in item.get("zones", [])}:
            zones[zone] = zones.get(zone, 0) + 1
        for line in item.get("lines", []):
            counts = crossings.setdefault(str(line["line"]), [0, 0])
            counts[0] += int(line["crossed_in"])
            counts[1] += int(line["crossed_out"])
    parts = [", ".join(f"{count} {label}" for label, count in sorted(labels.items())) or "no events"]
    parts += [f"zone {zone} entered in {count} events" for zone, count in sorted(zones.items())]
    parts += [f"line {line} crossed {c[0]} times in, {c[1]} out" for line, c in sorted(crossings.items())]
    return "; ".join(parts)


def shortfalls(final: CaptureStatus, ends: dict[str, TrackEvent], items: list[dict[str, Any]], missing: list[str],
               *, vtest: bool) -> list[str]:
    """What keeps the demo from passing: frames without an outcome, events not stored as they ended,
    snapshots not in S3, no person on vtest.avi."""
    problems = []
    accounting = final.accounting
    if accounting is None or accounting.lost or accounting.pending:
        problems.append(f"frames lost or pending: {accounting}")
    stored = {str(item["event_id"]): int(item["sequence"]) for item in items}
    if stored != {event_id: end.sequence for event_id, end in ends.items()}:
        problems.append(f"DynamoDB holds {len(stored)} events, not the {len(ends)} the tracker ended as they ended")
    if missing:
        problems.append(f"{len(missing)} snapshot objects an event names are not in S3: {', '.join(missing)}")
    if vtest and not any(item["label"] == "person" for item in items):
        problems.append("no person event from vtest.avi")
    return problems


def print_metrics(runtime: LocalRuntime, since: float) -> None:
    """The components' metrics since ``since``, once each has published a round after this moment."""
    metrics_file = RuntimePaths(runtime.root).metrics_file
    say(f"waiting for the components' next round of metrics (every {METRICS_INTERVAL_S} s here)")
    wait_for_round(metrics_file, time.time(), len(METRICS_COMPONENTS), METRICS_INTERVAL_S + 10)
    print("\nMetrics (cloudwatch/metric/put, as aws.greengrass.Cloudwatch would send them to CloudWatch):")
    print(metrics_report(metrics_file, since=since))


def demo_merges(camera: dict[str, Any], page_port: int, *, vtest: bool) -> dict[str, dict[str, Any]]:
    """The demo's settings over recipes/dev.json: events, data capture on, metrics every few seconds, the
    page's port, and on vtest.avi its zones."""
    merges = pipeline_merges(camera=camera, store="events", page_port=page_port)
    merges["smartcam.EventTracker"] = {"dataCapture": DEMO_CAPTURE}
    if vtest:
        merges["smartcam.EventTracker"]["cameras"] = {CAMERA: VTEST_ZONES}
    for component in METRICS_COMPONENTS:  # the other settings of a component stay
        merges.setdefault(component, {})["metrics"] = {"intervalS": METRICS_INTERVAL_S}
    return merges


def run(args: argparse.Namespace, runtime: LocalRuntime) -> int:
    demo = runtime.root / "demo"
    camera = camera_settings(args)
    page_port = free_page_port()
    started_at = time.time()
    document = write_overlay(demo / "deployment.json", demo_merges(camera, page_port, vtest=args.source is None),
                             name="smartcam-local-demo")
    say(f"deployment document {document} (recipes/dev.json + local settings)")
    say("starting the local Greengrass runtime (the first run builds the device venv: about a minute)")
    runtime.up(document)
    # once it answers, so the check below sees its socket too
    say(f"operator page (smartcam.OperatorView): {wait_for_page(page_port)}")
    if not loopback_only(runtime):
        return 1
    thing = runtime.thing_name()
    observer = PipelineObserver(runtime)
    operator = None
    try:
        operator = Operator(runtime)
        request_id = f"demo-{uuid.uuid4().hex[:8]}"
        say(f"operator -> smartcam/{thing}/capture: capture {args.frames} frames at {args.fps:g} fps from {CAMERA}, "
            f"request {request_id}")
        operator.capture(CAMERA, args.frames, args.fps, request_id)
        final = operator.wait_final(request_id, timeout=args.frames / args.fps + args.timeout,
                                    on_status=status_printer())
        if final.state != "finished" or final.accounting is None:
            say(f"capture did not finish: {final.state} {final.reason or ''}")
            return 1
        say("waiting for the last events to end (EventTracker ends an event after its object has gone unseen "
            "for tracking.endAfterS, 10 s by default)")
        ends = ended_events(observer, request_id, timeout=args.timeout)
        last = [-1]

        def progress(have: int, want: int) -> None:
            if have != last[0]:
                last[0] = have
                say(f"DynamoDB: {have}/{want} events stored as of their end message")

        items = wait_for_events(table(runtime.dynamodb_endpoint(), EVENTS_TABLE), thing, request_id,
                                lambda: {event_id: end.sequence for event_id, end in ends.items()},
                                timeout=args.timeout, on_poll=progress)
        print(f"\nDynamoDB table {EVENTS_TABLE}, device {thing}, request {request_id} "
              f"(snapshots in S3 bucket {LOCAL_SNAPSHOT_BUCKET}):")
        print(events_table(items) if items else "(no events)")
        say(summarize(items))
        tiles, missing = snapshot_tiles(runtime, items)
        if tiles:
            sheet = contact_sheet(tiles, demo / "events.jpg")
            say(f"contact sheet of the {len(tiles)} snapshots read back from S3: {sheet}")
        print_metrics(runtime, since=started_at)
        say(captured_for_labeling(runtime, thing))
        problems = shortfalls(final, ends, items, missing, vtest=args.source is None)
        if problems:
            say("NOT everything arrived: " + "; ".join(problems))
            return 1
        say(f"every event stored exactly once as it ended ({len(items)} events from {final.frames_captured} frames, "
            f"{sum(1 for item in items if 'snapshot' in item)} with their snapshots in S3)")
        return 0
    finally:
        if operator is not None:
            operator.close()
        observer.close()


def keep_running(runtime: LocalRuntime) -> None:
    """Leave the pipeline and the operator page up until Ctrl-C (or SIGTERM)."""
    say(f"the pipeline and the operator page stay up (root {runtime.root}); Ctrl-C stops them")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        while True:
            signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


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
    except (RuntimeFailure, MqttError, TimeoutError, OSError, ValueError) as exc:
        say(f"failed: {exc}")
        say(f"component logs: {runtime.root / 'logs'}")
    finally:
        # A second Ctrl-C must not cut the shutdown short and leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if args.keep_running and code != 130:
            keep_running(runtime)
        say("shutting down the runtime")
        runtime.down()
    say(f"done in {time.monotonic() - STARTED:.0f} s (exit {code})")
    return code


if __name__ == "__main__":
    sys.exit(main())
