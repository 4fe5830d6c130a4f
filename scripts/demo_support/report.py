"""The table `make demo` prints: what DynamoDB holds for one capture request."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from smartcam.contracts import Detections


def _clock(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch)) + f".{int(epoch * 1000) % 1000:03d}"


def detections_table(items: Iterable[dict[str, Any]], messages: dict[str, Detections]) -> str:
    """One row per stored item. Stage times other than inference come from the detections message
    (the item keeps inferMs only); `capture->infer` is the item's inferredAt - capturedAt."""
    header = ("captured", "camera", "seq", "frame", "label", "n", "scores", "read", "pre", "infer", "post",
              "capture->infer")
    rows = [header]
    for item in sorted(items, key=lambda i: (float(i["capturedAt"]), str(i["label"]))):
        scores = ",".join(f"{float(d['score']):.2f}" for d in item["detections"])
        latency = messages.get(str(item["frameId"]))
        stages = (("-",) * 3 if latency is None else
                  tuple(f"{v:.1f}" for v in (latency.latency.read_ms, latency.latency.preprocess_ms,
                                             latency.latency.postprocess_ms)))
        rows.append((
            _clock(float(item["capturedAt"])), str(item["cameraId"]), str(item["sequence"]),
            str(item["frameId"])[-10:], str(item["label"]), str(item["count"]), scores,
            stages[0], stages[1], f"{float(item['inferMs']):.1f}", stages[2],
            f"{(float(item['inferredAt']) - float(item['capturedAt'])) * 1000:.0f}",
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines) + "\n(stage times in ms)"
