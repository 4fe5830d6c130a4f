"""The tables `make demo` prints, from stored items alone: the per-frame detections of one capture
request (stage times included), and its events."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

STAGES = ("queue", "read", "preprocess", "infer", "postprocess")


def _clock(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch)) + f".{int(epoch * 1000) % 1000:03d}"


def _ms(value: Any) -> str:
    return "-" if value is None else f"{float(value):.1f}"


def detections_table(items: Iterable[dict[str, Any]]) -> str:
    """One row per stored item. Every column comes from the item: ``latencyMs`` holds the inference
    component's stage times (queue = capture -> start of inference); `spool` is sentAt - inferredAt
    (receive, spool and batching until the writer sent it); `capture->sent` is sentAt - capturedAt."""
    header = ("captured", "camera", "seq", "frame", "label", "n", "scores", "queue", "read", "pre", "infer",
              "post", "spool", "capture->sent")
    rows = [header]
    for item in sorted(items, key=lambda i: (float(i["capturedAt"]), str(i["label"]))):
        scores = ",".join(f"{float(d['score']):.2f}" for d in item["detections"])
        stages = item.get("latencyMs", {})
        captured, inferred = float(item["capturedAt"]), float(item["inferredAt"])
        sent = float(item["sentAt"]) if "sentAt" in item else None
        rows.append((
            _clock(captured), str(item["cameraId"]), str(item["sequence"]), str(item["frameId"]),
            str(item["label"]), str(item["count"]), scores, *(_ms(stages.get(stage)) for stage in STAGES),
            _ms(None if sent is None else (sent - inferred) * 1000),
            _ms(None if sent is None else (sent - captured) * 1000),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines) + "\n(stage times in ms)"


def _minute_second(epoch: Any) -> str:
    return time.strftime("%M:%S", time.localtime(float(epoch)))


def _zones(item: dict[str, Any]) -> str:
    visits = [f"{z['zone']} {_minute_second(z['entered'])}-{_minute_second(z['left']) if 'left' in z else ''}"
              for z in item.get("zones", [])]
    return ",".join(visits) or "-"


def _lines(item: dict[str, Any]) -> str:
    return ",".join(f"{c['line']} in {c['crossed_in']} out {c['crossed_out']}" for c in item.get("lines", [])) or "-"


def events_table(items: Iterable[dict[str, Any]]) -> str:
    """One row per stored event item, oldest first: what DynamoDB holds for it. Zone visits show the
    minutes:seconds each was entered and left."""
    header = ("event", "label", "start", "end", "dur s", "frames", "best", "state", "zones", "lines",
              "snapshot (S3 key)")
    rows = [header]
    for item in sorted(items, key=lambda i: (float(i["first_seen"]), str(i["event_id"]))):
        snapshot = item.get("snapshot")
        state = str(item["state"]) + (f" ({item['end_reason']})" if "end_reason" in item else "")
        rows.append((
            str(item["event_id"]), str(item["label"]), _clock(float(item["first_seen"])),
            _clock(float(item["last_seen"])), f"{float(item['duration_s']):.1f}", str(item["frames"]),
            f"{float(item['best_score']):.2f}", state, _zones(item), _lines(item),
            str(snapshot["key"]) if snapshot else f"- ({item.get('snapshot_missing', 'none')})",
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
