"""The benchmark table: a few rows per result file in docs/bench/, each file read with its benchmark's
result model (benchmarks.results); a missing, unreadable or differently shaped file is left out."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from benchmarks import NAMES
from benchmarks.cost import RETENTION_DAYS, camera_day
from benchmarks.results import (
    About,
    BenchResult,
    CamerasResult,
    CaptureResult,
    EventsResult,
    InferenceResult,
    IpcResult,
    OperatorViewResult,
    PipelineResult,
    StreamsResult,
    TrackingResult,
    TuningResult,
    WriterResult,
)
from readme_tables.config_reference import GE, LE, TIMES, cell
from repo_layout import REPO_ROOT as ROOT


def _fmt(value: Any, unit: str = "", digits: int = 1) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    text = f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"
    return f"{text} {unit}".strip()


def _times(value: Any) -> str | None:
    text = _fmt(value, "", 2)
    return None if text is None else text + TIMES


def _pair(first: str | None, second: str | None, pattern: str = "{} / {}") -> str | None:
    return pattern.format(first, second) if first is not None and second is not None else None


def _target(prefix: str, value: str | None) -> str:
    return f"{prefix} {value}" if value is not None else ""


BenchRow = tuple[str, str, str]  # measure, result, target
R = TypeVar("R", bound=BenchResult)


def _rows(*candidates: tuple[str, str | None, str]) -> list[BenchRow]:
    return [(measure, result, target) for measure, result, target in candidates if result is not None]


def bench_ipc(data: IpcResult) -> list[BenchRow]:
    one_way = data.one_way
    delivered = _fmt(one_way.messages_per_s, "msg/s", 0)
    if delivered is not None:
        delivered += f" ({one_way.lost} lost, in order: {str(one_way.in_order).lower()})"
    return _rows(
        ("round trip p50 / p99, awsiotsdk client to client",
         _pair(_fmt(data.round_trip.p50_ms, "ms", 2), _fmt(data.round_trip.p99_ms, "ms", 2)),
         _target(f"p50 {LE}", _fmt(data.targets.p50_round_trip_ms, "ms", 1))),
        ("one way, small JSON messages", delivered,
         _target(GE, _fmt(data.targets.one_way_messages_per_s, "msg/s", 0))),
    )


def bench_capture(data: CaptureResult) -> list[BenchRow]:
    rows: list[BenchRow] = []
    fps_target = _fmt(data.target.fps_at_640x480, "fps", 0)
    cpu_target = data.target.cpu_cores_below
    for size, result in data.results.items():
        sustained = result.sustained
        target = f"{fps_target} under {cpu_target} core" if size == "640x480" and fps_target and cpu_target else ""
        rows += _rows(
            (f"{size}: grab + {'encode + ring' if result.per_frame.ms.encode else 'ring copy'} + publish per frame, "
             "p50 (one stream flat out)",
             _pair(_fmt(result.per_frame.ms.total.p50, "ms", 2),
                   _fmt(result.per_frame.max_fps_one_stream, "fps", 0), "{} ({})"), ""),
            (f"{size}: sustained at {_fmt(sustained.requested_fps, 'fps', 0)}",
             _pair(_fmt(sustained.achieved_fps, "fps", 1), _fmt(sustained.cpu_cores, "cores", 2), "{}, {}"), target),
        )
    return rows


def bench_inference(data: InferenceResult) -> list[BenchRow]:
    rows: list[BenchRow] = []
    overhead_target = f"overhead {LE} {data.targets.overhead_vs_model:.0%} of model"
    for run in data.runs:
        checks = run.checks
        for backend, result in run.backends.items():
            model = _pair(_fmt(result.model.median_ms, "ms"), _fmt(result.model.p90_ms, "ms"), "{} (p90 {})")
            overhead = _fmt(result.overhead.median_ms, "ms")
            ratio = checks.overhead_vs_model.get(backend)
            if overhead is not None and ratio is not None:
                overhead += f" = {ratio:.0%}"
            rows += _rows((f"{backend}, {run.threads} thread(s): model median; component overhead median",
                           _pair(model, overhead, "{}; {}"), overhead_target))
        rows += _rows((f"DLR build run here / fastest ({checks.fastest_backend}), {run.threads} thread(s)",
                       _times(checks.dlr_vs_fastest), _target(LE, _times(checks.dlr_vs_fastest_target))))
    return rows


def bench_tuning(data: TuningResult) -> list[BenchRow]:
    target = "tuned build shipped only if faster" + (" (it is)" if data.tuned_is_faster else " (it is not)")
    return [(f"{data.build} untuned / MetaSchedule-tuned, {run.threads} thread(s): median of {run.repeats} "
             "repeat medians",
             f"{run.untuned.median_ms:.2f} ms / {run.tuned.median_ms:.2f} ms = {run.tuned_vs_untuned:.2f}{TIMES}, "
             f"tuned faster in {run.tuned_wins_repeats}/{run.repeats}", target) for run in data.runs]


def bench_streams(data: StreamsResult) -> list[BenchRow]:
    return [(f"{run.variant}, model alone on {run.cores} cores: 1 copy x {run.cores} threads / {run.cores} copies x 1 "
             "thread (streams), median fps",
             f"{run.one_copy.fps:.1f} / {run.copies.fps:.1f} fps = {run.copies_vs_one_copy:.2f}{TIMES}; "
             f"CPU {run.one_copy.cpu_ms_per_frame:.1f} / {run.copies.cpu_ms_per_frame:.1f} ms per frame", "")
            for run in data.runs]


def bench_writer(data: WriterResult) -> list[BenchRow]:
    results = data.results
    return _rows(
        ("through the spool into DynamoDB Local", _fmt(results.through_spool.items_per_s, "items/s", 0),
         _target(GE, _fmt(data.target_items_per_s_through_spool, "items/s", 0))),
        ("direct BatchWriteItem, no spool", _fmt(results.direct.items_per_s, "items/s", 0), ""),
        ("spool overhead against direct", f"{results.spool_overhead:.0%}", ""),
        ("backlog drain after an outage", _fmt(results.backlog_drain.items_per_s, "items/s", 0), ""),
    )


def _ratio(value: float) -> str | None:
    return f"1/{1 / value:.0f}" if isinstance(value, float) and 0 < value < float("inf") else None


def bench_events(data: EventsResult) -> list[BenchRow]:
    targets = data.targets
    runs = data.runs
    rows: list[BenchRow] = []
    events = runs.get("events")
    if events is not None:
        noise = events.phases["noise"]
        rows += _rows(
            (f"still frame + sensor noise ({_fmt(noise.video_s, 's', 0)}): frames gated; model runs",
             f"{noise.gated_share:.1%} ({noise.frames_gated:,} of {noise.frames_taken:,}); "
             f"{noise.model_invocations:,}", f"{GE} {targets.noise_gated_share_target:.0%}"),
            ("still frame + sensor noise: events from noise (started; objects in the still)",
             f"{events.events_from_noise} ({events.events_started_in_noise}; {events.still_objects})", "0"),
        )
    detections = runs.get("detections")
    if events is not None and detections is not None:
        rows += _rows(
            ("vtest.avi: DynamoDB items per camera-hour, store events / detections",
             f"{events.scene_items_per_camera_hour:,.0f} / {detections.scene_items_per_camera_hour:,.0f} "
             f"= {_ratio(targets.scene_items_ratio) or 'n/a'}",
             _target(LE, _ratio(targets.scene_items_ratio_target))),
            ("vtest.avi: events (under 2 s); duration p50",
             f"{events.events} ({events.events_under_2s}); {events.event_duration_s_p50:.1f} s", ""),
        )
    if events is not None and detections is not None:
        for phase, scene in (("scene", "vtest.avi's crowd"), ("noise", "the still scene")):
            by_mode = {mode: camera_day(run.phases[phase]) for mode, run in (("events", events),
                                                                              ("detections", detections))}
            rows += _rows((
                f"cost per camera-day of {scene} all day, store events / detections "
                f"(list prices, {RETENTION_DAYS}-day retention)",
                " / ".join(f"${day.total_usd:,.2f} (DynamoDB ${day.dynamodb_usd:,.2f}, S3 ${day.s3_usd:,.2f})"
                           for day in by_mode.values()), ""),)
    offline = data.every_frame_served
    rows += _rows(
        ("vtest.avi, every frame served (frame path + tracker, no runtime): events (under 2 s) / detection items",
         f"{offline.events} ({offline.events_under_2s}) / {offline.detection_items:,} "
         f"= {_ratio(offline.items_ratio) or 'n/a'}", _target(LE, _ratio(targets.scene_items_ratio_target))),
    )
    for mode, run in runs.items():
        noise, scene = run.phases["noise"], run.phases["scene"]
        rows += _rows(
            (f"store {mode}, per minute of video (noise / scene): CPU of all processes",
             _pair(_fmt(noise.cpu_s_per_video_min_total, "s"), _fmt(scene.cpu_s_per_video_min_total, "s")), ""),
            (f"store {mode}, per minute of vtest.avi: model runs; DynamoDB items, KB; S3 objects, KB",
             f"{scene.model_invocations * 60 / max(scene.video_s, 1e-9):,.0f}; {scene.dynamodb_items_per_min:,.1f}, "
             f"{scene.dynamodb_bytes_per_min / 1000:,.1f}; {scene.s3_objects_per_min:,.1f}, "
             f"{scene.s3_bytes_per_min / 1000:,.0f}", ""),
        )
    multi = data.multi_camera
    cameras = multi.cameras
    if cameras:
        accounted = {key: sum(c.accounting.get(key, 0) for c in cameras)
                     for key in ("dropped", "lost", "expired", "refused", "pending")}
        shape = f"{len(cameras)} cameras {TIMES} {multi.fps_per_camera:g} fps, {multi.seconds:g} s"
        rows += _rows(
            (f"{shape}: frames served / expected (dropped; lost, expired, refused, pending)",
             f"{sum(c.frames_served for c in cameras):,} / {sum(c.frames_expected for c in cameras):,} "
             f"({accounted['dropped']:,}; {accounted['lost']}, {accounted['expired']}, {accounted['refused']}, "
             f"{accounted['pending']})", "all served, nothing lost"),
            (f"{shape}: events stored once / published",
             f"{sum(c.events_stored for c in cameras)} / {sum(c.events_published for c in cameras)}"
             f"{'' if all(c.events_stored_once_as_ended for c in cameras) else ' (not each once as ended)'}", ""),
            (f"{shape}: cores used; needed to serve every frame (estimate)",
             _pair(_fmt(multi.cores_used, "", 2), _fmt(multi.cores_needed_to_serve_all, "", 2), "{}; {}"),
             _target(LE, _fmt(targets.multi_camera_cores, "cores"))),
        )
    return rows


def bench_pipeline(data: PipelineResult) -> list[BenchRow]:
    targets = data.targets
    model = data.model
    rows = _rows(
        (f"standalone model ({model.backend}, {model.threads} threads"
         + (f" x {model.streams} streams" if model.streams else "") + ")", _fmt(model.fps, "fps"), ""),
        ("pipeline throughput, max stored / standalone model",
         _pair(_fmt(targets.pipeline_fps_max, "fps"), f"{targets.pipeline_fps_vs_model:.0%}", "{} = {}"),
         f"{GE} {targets.pipeline_fps_vs_model_target:.0%}"),
    )
    for run in data.runs:
        rows += _rows((f"{_fmt(run.input_fps, 'fps', 0)} in: stored fps; capture->stored p50 / p99",
                       _pair(_fmt(run.pipeline_fps, "fps"),
                             _pair(_fmt(run.e2e_ms_p50, "ms", 0), _fmt(run.e2e_ms_p99, "ms", 0)), "{}; {}"),
                       _target(f"p50 {LE}", _fmt(targets.e2e_p50_target_ms, "ms", 0))
                       if run.input_fps == 10.0 else ""))
    cpu = data.runs[-1].cpu_ms_per_stored_frame if data.runs else None
    if cpu:
        rows += _rows((f"CPU per stored frame at {_fmt(data.runs[-1].input_fps, 'fps', 0)} in",
                       ", ".join(f"{k.removeprefix('smartcam.')} {_fmt(v, 'ms', 1)}" for k, v in cpu.items()), ""))
    outside = data.runs[-1].cpu_ms_outside_model_per_frame if data.runs else None
    if outside:
        ours = {k: v for k, v in outside.items() if k.startswith("smartcam.")}
        rows += _rows((f"CPU per stored frame outside the model at {_fmt(data.runs[-1].input_fps, 'fps', 0)} in, "
                       "our components",
                       f"{_fmt(sum(ours.values()), 'ms', 1)}: "
                       + ", ".join(f"{k.removeprefix('smartcam.')} {_fmt(v, 'ms', 1)}" for k, v in ours.items()),
                       f"{LE} 5 ms"))
    if data.cpu_affinity:
        rows += _rows(("CPUs per process (--pin-inference)",
                       ", ".join(f"{k.removeprefix('smartcam.')} {v}" for k, v in data.cpu_affinity.items()), ""))
    if data.rss_mb_max:
        rows += _rows(("peak RSS per component",
                       ", ".join(f"{k} {_fmt(v, 'MB', 0)}" for k, v in data.rss_mb_max.items()), ""))
    return rows


def bench_tracking(data: TrackingResult) -> list[BenchRow]:
    target = data.target
    rows: list[BenchRow] = []
    for name, measured in data.trackers.items():
        label = measured.label
        people = " / ".join(str(scene.people) for scene in measured.scenes)
        at_target = measured.on(target.people)
        speed = " / ".join(f"{scene.times.median_ms:.2f}" for scene in measured.scenes) + " ms"
        if at_target is not None:
            speed += f" (p90 {at_target.times.p90_ms:.2f} ms at {target.people})"
        rows += _rows((f"{label}: median ms per frame at {people} people", speed,
                       f"{LE} {target.median_ms:g} ms at {target.people} objects" if name == "tracker" else ""))
        if at_target is not None and at_target.quality is not None:
            quality = at_target.quality
            rows += _rows((f"{label} at {target.people} people, {data.seconds:g} s: ID switches, fragmentation, "
                           "recall / precision",
                           f"{quality.id_switches}, {quality.fragmentation}, {quality.recall:.1%} / "
                           f"{quality.precision:.1%}", ""))
    for name, install in data.libraries.items():
        conflicts = "; ".join(install.conflicts) or "none"
        rows += _rows((f"{name}: installed size, packages (new to the device venv); conflicts with the device venv",
                       f"{install.megabytes:,.0f} MB, {install.packages} ({install.new_megabytes:,.0f} MB, "
                       f"{len(install.new_packages)}); {conflicts}", ""))
    return rows


def _share(value: float) -> str:
    return f"{value:.1%}" if isinstance(value, float) and not math.isnan(value) else "n/a"


def bench_cameras(data: CamerasResult) -> list[BenchRow]:
    targets = data.targets
    goal = (f"at {targets.cameras}: {LE} {targets.unserved_share_max:.0%} / {LE} "
            f"{targets.unserved_share_per_camera_max:.0%}; p99 {LE} {targets.capture_to_stored_ms_p99_max:g} ms")
    rows: list[BenchRow] = []
    for configuration in data.configurations:
        for run in configuration.runs:
            latency = _pair(_fmt(run.capture_to_stored_ms_p50, "", 0), _fmt(run.capture_to_stored_ms_p99, "ms", 0))
            events = (f"{sum(c.events_stored for c in run.per_camera)} / "
                      f"{sum(c.events_published for c in run.per_camera)}")
            rows += _rows((
                f"{configuration.name}, {run.cameras} camera(s) {TIMES} {run.fps_per_camera:g} fps, "
                f"{run.seconds:g} s: frames unserved, all / worst camera; capture->stored p50 / p99; "
                "events stored / published; cores used",
                f"{_share(run.unserved_share)} / {_share(run.unserved_share_worst_camera)}; {latency or 'n/a'}; "
                f"{events}; {run.cores_used:.2f}",
                goal if run.cameras == targets.cameras else ""))
    return rows


def bench_operator_view(data: OperatorViewResult) -> list[BenchRow]:
    opened, closed = data.with_page, data.without_page
    return _rows(
        (f"OperatorView's CPU with the page open in headless Chromium ({opened.frames_drawn} frames drawn in "
         f"{opened.seconds:g} s)", _fmt(opened.cpu_percent_of_a_core, "% of a core", 2),
         _target("<", _fmt(data.targets.cpu_percent_of_a_core, "% of a core", 0))),
        ("... with no page open", _fmt(closed.cpu_percent_of_a_core, "% of a core", 2), ""),
    )


def bench_generic(data: dict[str, Any]) -> list[BenchRow]:
    """A file without its own reader: a top-level ``summary`` of scalars, else numeric leaves of ``results``."""
    summary = data.get("summary")
    if isinstance(summary, dict):
        return [(str(k), str(v), "") for k, v in summary.items() if isinstance(v, str | int | float)][:20]
    rows: list[BenchRow] = []

    def leaves(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                leaves(child, f"{path}.{key}" if path else str(key))
        elif not isinstance(value, bool) and isinstance(value, int | float) and len(rows) < 20:
            rows.append((path, _fmt(value, "", 2) or "", ""))

    leaves(data.get("results"), "")
    return rows


def _reader(model: type[R], rows: Callable[[R], list[BenchRow]]) -> Callable[[str], tuple[BenchResult, list[BenchRow]]]:
    def read(text: str) -> tuple[BenchResult, list[BenchRow]]:
        result = model.parse(text)
        return result, rows(result)

    return read


# Each benchmark's file is read with the model the benchmark writes it with (benchmarks.results).
BENCH_READERS: dict[str, Callable[[str], tuple[BenchResult, list[BenchRow]]]] = {
    "ipc": _reader(IpcResult, bench_ipc), "capture": _reader(CaptureResult, bench_capture),
    "inference": _reader(InferenceResult, bench_inference), "writer": _reader(WriterResult, bench_writer),
    "events": _reader(EventsResult, bench_events), "pipeline": _reader(PipelineResult, bench_pipeline),
    "tracking": _reader(TrackingResult, bench_tracking), "cameras": _reader(CamerasResult, bench_cameras),
    "operator_view": _reader(OperatorViewResult, bench_operator_view),
    "tuning": _reader(TuningResult, bench_tuning), "streams": _reader(StreamsResult, bench_streams),
}
BENCH_ORDER = NAMES


def _bench_kind(path: Path) -> str:
    """``pipeline-threads1.json`` is another run of the ``pipeline`` benchmark."""
    return path.stem.split("-", 1)[0]


def bench_command(name: str, recorded: str | None, root: Path) -> str:
    if recorded:
        return recorded
    script = root / "scripts" / "lib" / "benchmarks" / f"{name}.py"
    return f".venv/bin/python scripts/bench.py {name}" if script.is_file() else "make bench"


def _generic(text: str) -> tuple[dict[str, Any], list[BenchRow]]:
    data = json.loads(text)
    return data, bench_generic(data) if isinstance(data, dict) else []


def _about(result: BenchResult | dict[str, Any]) -> About:
    if isinstance(result, BenchResult):
        return result.about()
    machine = result.get("machine")
    line = (f"{machine['cpus']} CPUs, Python {machine.get('python', '?')}, {machine.get('platform', '?')}"
            if isinstance(machine, dict) and machine.get("cpus") else None)
    command, when = result.get("command"), result.get("when") or result.get("measured_at")
    return About(command if isinstance(command, str) else None, str(when) if when else None, line)


def render_bench_table(root: Path = ROOT) -> str:
    folder = root / "docs" / "bench"
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    files.sort(key=lambda p: (BENCH_ORDER.index(_bench_kind(p)) if _bench_kind(p) in BENCH_ORDER else 99, p.stem))
    table = ["| benchmark | measure | result | target |", "|---|---|---|---|"]
    sources: list[str] = []
    machines: list[str] = []
    for path in files:
        read = BENCH_READERS.get(_bench_kind(path), _generic)
        try:
            result, rows = read(path.read_text())
        except (OSError, ValueError, TypeError, KeyError):
            continue  # unreadable or not of its benchmark's result model: left out rather than guessed at
        if not rows:
            continue
        table += [f"| {path.stem} | {cell(m)} | {cell(r)} | {cell(t)} |" for m, r, t in rows]
        about = _about(result)
        when_text = f", {about.when}" if about.when else ""
        command = bench_command(_bench_kind(path), about.command, root)
        sources.append(f"- `docs/bench/{path.name}`{when_text}: `{command}`")
        if about.machine and not machines:
            machines.append(about.machine)
    header = "<!-- Generated by scripts/update_readme.py from docs/bench/*.json. Do not edit by hand. -->"
    if not sources:
        return f"{header}\n\nNo benchmark results yet: run `make bench`."
    where = f" Machine: {machines[0]}." if machines else ""
    return "\n".join([header, "", *table, "", f"Produced by `make bench`; each file by its own script.{where}", "",
                      *sources])
