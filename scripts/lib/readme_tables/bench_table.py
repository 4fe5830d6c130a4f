"""The benchmark table: a few rows per result file in docs/bench/; a missing or unreadable file is left out."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import NAMES
from readme_tables.config_reference import GE, LE, TIMES, cell
from repo_layout import REPO_ROOT as ROOT


def _dig(data: Any, *path: Any) -> Any:
    for step in path:
        if isinstance(data, dict):
            data = data.get(step)
        elif isinstance(data, list) and isinstance(step, int) and -len(data) <= step < len(data):
            data = data[step]
        else:
            return None
    return data


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


def _rows(*candidates: tuple[str, str | None, str]) -> list[BenchRow]:
    return [(measure, result, target) for measure, result, target in candidates if result is not None]


def bench_ipc(data: dict[str, Any]) -> list[BenchRow]:
    one_way = data.get("one_way") or {}
    delivered = _fmt(one_way.get("messages_per_s"), "msg/s", 0)
    if delivered is not None:
        delivered += f" ({one_way.get('lost')} lost, in order: {str(one_way.get('in_order')).lower()})"
    return _rows(
        ("round trip p50 / p99, awsiotsdk client to client",
         _pair(_fmt(_dig(data, "round_trip", "p50_ms"), "ms", 2), _fmt(_dig(data, "round_trip", "p99_ms"), "ms", 2)),
         _target(f"p50 {LE}", _fmt(_dig(data, "targets", "p50_round_trip_ms"), "ms", 1))),
        ("one way, small JSON messages", delivered,
         _target(GE, _fmt(_dig(data, "targets", "one_way_messages_per_s"), "msg/s", 0))),
    )


def bench_capture(data: dict[str, Any]) -> list[BenchRow]:
    rows: list[BenchRow] = []
    fps_target = _fmt(_dig(data, "target", "fps_at_640x480"), "fps", 0)
    cpu_target = _dig(data, "target", "cpu_cores_below")
    for size, result in (_dig(data, "results") or {}).items():
        sustained = result.get("sustained") or {}
        target = f"{fps_target} under {cpu_target} core" if size == "640x480" and fps_target and cpu_target else ""
        rows += _rows(
            (f"{size}: grab + encode + ring + publish per frame, p50 (one stream flat out)",
             _pair(_fmt(_dig(result, "per_frame", "ms", "total", "p50"), "ms", 2),
                   _fmt(_dig(result, "per_frame", "max_fps_one_stream"), "fps", 0), "{} ({})"), ""),
            (f"{size}: sustained at {_fmt(sustained.get('requested_fps'), 'fps', 0)}",
             _pair(_fmt(sustained.get("achieved_fps"), "fps", 1), _fmt(sustained.get("cpu_cores"), "cores", 2),
                   "{}, {}"), target),
        )
    return rows


def bench_inference(data: dict[str, Any]) -> list[BenchRow]:
    rows: list[BenchRow] = []
    share = _dig(data, "targets", "overhead_vs_model")
    overhead_target = f"overhead {LE} {share:.0%} of model" if isinstance(share, float) else ""
    for run in data.get("runs") or []:
        threads = run.get("threads")
        checks = run.get("checks") or {}
        for backend, result in (run.get("backends") or {}).items():
            model = _pair(_fmt(_dig(result, "model", "median_ms"), "ms"), _fmt(_dig(result, "model", "p90_ms"), "ms"),
                          "{} (p90 {})")
            overhead = _fmt(_dig(result, "overhead", "median_ms"), "ms")
            ratio = _dig(checks, "overhead_vs_model", backend)
            if overhead is not None and isinstance(ratio, float):
                overhead += f" = {ratio:.0%}"
            rows += _rows((f"{backend}, {threads} thread(s): model median; component overhead median",
                           _pair(model, overhead, "{}; {}"), overhead_target))
        rows += _rows((f"DLR / fastest ({checks.get('fastest_backend')}), {threads} thread(s)",
                       _times(checks.get("dlr_vs_fastest")), _target(LE, _times(checks.get("dlr_vs_fastest_target")))))
    return rows


def bench_writer(data: dict[str, Any]) -> list[BenchRow]:
    results = data.get("results") or {}
    overhead = results.get("spool_overhead")
    return _rows(
        ("through the spool into DynamoDB Local", _fmt(_dig(results, "through_spool", "items_per_s"), "items/s", 0),
         _target(GE, _fmt(data.get("target_items_per_s_through_spool"), "items/s", 0))),
        ("direct BatchWriteItem, no spool", _fmt(_dig(results, "direct", "items_per_s"), "items/s", 0), ""),
        ("spool overhead against direct", f"{overhead:.0%}" if isinstance(overhead, float) else None, ""),
        ("backlog drain after an outage", _fmt(_dig(results, "backlog_drain", "items_per_s"), "items/s", 0), ""),
    )


def bench_pipeline(data: dict[str, Any]) -> list[BenchRow]:
    targets = data.get("targets") or {}
    model = data.get("model") or {}
    rows = _rows(
        (f"standalone model ({model.get('backend')}, {model.get('threads')} threads)",
         _fmt(model.get("fps"), "fps"), ""),
        ("pipeline throughput, max stored / standalone model",
         _pair(_fmt(targets.get("pipeline_fps_max"), "fps"),
               f"{targets['pipeline_fps_vs_model']:.0%}" if isinstance(targets.get("pipeline_fps_vs_model"), float)
               else None, "{} = {}"),
         f"{GE} {targets['pipeline_fps_vs_model_target']:.0%}"
         if isinstance(targets.get("pipeline_fps_vs_model_target"), float) else ""),
    )
    for run in data.get("runs") or []:
        rows += _rows((f"{_fmt(run.get('input_fps'), 'fps', 0)} in: stored fps; capture->stored p50 / p99",
                       _pair(_fmt(run.get("pipeline_fps"), "fps"),
                             _pair(_fmt(run.get("e2e_ms_p50"), "ms", 0), _fmt(run.get("e2e_ms_p99"), "ms", 0)),
                             "{}; {}"),
                       _target(f"p50 {LE}", _fmt(targets.get("e2e_p50_target_ms"), "ms", 0))
                       if run.get("input_fps") == 10.0 else ""))
    runs = [r for r in data.get("runs") or [] if isinstance(r, dict)]
    cpu = runs[-1].get("cpu_ms_per_stored_frame") if runs else None
    if isinstance(cpu, dict) and cpu:
        rows += _rows((f"CPU per stored frame at {_fmt(runs[-1].get('input_fps'), 'fps', 0)} in",
                       ", ".join(f"{k.removeprefix('smartcam.')} {_fmt(v, 'ms', 1)}" for k, v in cpu.items()), ""))
    rss = data.get("rss_mb_max")
    if isinstance(rss, dict):
        rows += _rows(("peak RSS per component", ", ".join(f"{k} {_fmt(v, 'MB', 0)}" for k, v in rss.items()), ""))
    return rows


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


BENCH_READERS: dict[str, Callable[[dict[str, Any]], list[BenchRow]]] = {
    "ipc": bench_ipc, "capture": bench_capture, "inference": bench_inference, "writer": bench_writer,
    "pipeline": bench_pipeline,
}
BENCH_ORDER = NAMES


def _bench_kind(path: Path) -> str:
    """``pipeline-threads1.json`` is another run of the ``pipeline`` benchmark."""
    return path.stem.split("-", 1)[0]


def bench_command(name: str, data: dict[str, Any], root: Path) -> str:
    command = data.get("command")
    if isinstance(command, str) and command:
        return command
    script = root / "scripts" / "lib" / "benchmarks" / f"{name}.py"
    return f".venv/bin/python scripts/bench.py {name}" if script.is_file() else "make bench"


def render_bench_table(root: Path = ROOT) -> str:
    folder = root / "docs" / "bench"
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    files.sort(key=lambda p: (BENCH_ORDER.index(_bench_kind(p)) if _bench_kind(p) in BENCH_ORDER else 99, p.stem))
    table = ["| benchmark | measure | result | target |", "|---|---|---|---|"]
    sources: list[str] = []
    machines: list[str] = []
    for path in files:
        try:
            data = json.loads(path.read_text())
            rows = BENCH_READERS.get(_bench_kind(path), bench_generic)(data) if isinstance(data, dict) else []
        except (OSError, ValueError, TypeError, KeyError):
            continue  # unreadable or of an unexpected shape: left out rather than guessed at
        if not rows:
            continue
        table += [f"| {path.stem} | {cell(m)} | {cell(r)} | {cell(t)} |" for m, r, t in rows]
        when = data.get("when") or data.get("measured_at") or ""
        when_text = f", {when}" if when else ""
        sources.append(f"- `docs/bench/{path.name}`{when_text}: `{bench_command(_bench_kind(path), data, root)}`")
        machine = data.get("machine")
        if isinstance(machine, dict) and machine.get("cpus") and not machines:
            machines.append(f"{machine['cpus']} CPUs, Python {machine.get('python', '?')}, "
                            f"{machine.get('platform', '?')}")
    header = "<!-- Generated by scripts/update_readme.py from docs/bench/*.json. Do not edit by hand. -->"
    if not sources:
        return f"{header}\n\nNo benchmark results yet: run `make bench`."
    where = f" Machine: {machines[0]}." if machines else ""
    return "\n".join([header, "", *table, "", f"Produced by `make bench`; each file by its own script.{where}", "",
                      *sources])
