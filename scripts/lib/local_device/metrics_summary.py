"""A short summary of the metrics the local runtime's aws.greengrass.Cloudwatch stand-in wrote, per
component: totals summed over the rounds, levels as last seen, latency p95 per stage at its worst."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from local_greengrass.standins.cloudwatch import read_metrics
from smartcam.contracts import MetricPut

# Published as they are now (smartcam.metrics levels); every other count is an increase per round.
LEVELS = frozenset({"FramesAwaitingReceipts", "SpoolDepth", "SpoolAge", "EventSpoolDepth", "EventSpoolAge",
                    "EventsOpen"})
WORST = frozenset({"LatencyP95"})
SKIPPED = frozenset({"LatencyP50"})  # the summary keeps one latency per stage


def _key(metric: MetricPut) -> tuple[str, str]:
    """(component, metric name with its camera or stage, e.g. ``FramesIn[cam0]``)."""
    dims = {d.name: d.value for d in metric.request.metric_data.dimensions}
    detail = dims.get("Camera") or dims.get("Stage")
    name = metric.request.metric_data.metric_name
    return dims.get("Component", "?"), f"{name}[{detail}]" if detail else name


def summarize(metrics: list[MetricPut]) -> dict[str, dict[str, float]]:
    """component -> metric -> its value over the run (sum, last or worst as the metric is)."""
    summary: dict[str, dict[str, float]] = defaultdict(dict)
    ordered = sorted(metrics, key=lambda m: m.request.metric_data.timestamp or 0)
    for metric in ordered:
        data = metric.request.metric_data
        if data.metric_name in SKIPPED:
            continue
        component, name = _key(metric)
        seen = summary[component].get(name)
        if data.metric_name in LEVELS or seen is None:
            summary[component][name] = data.value
        elif data.metric_name in WORST:
            summary[component][name] = max(seen, data.value)
        else:
            summary[component][name] = seen + data.value
    return summary


def metrics_report(metrics_file: Path, since: float = 0.0) -> str:
    """The summary as text, of the metrics timestamped at ``since`` or later."""
    metrics = [m for m in read_metrics(metrics_file) if (m.request.metric_data.timestamp or 0) >= since]
    if not metrics:
        return f"(no metrics in {metrics_file})"
    rounds = len({m.request.metric_data.timestamp for m in metrics})
    lines = [f"{len(metrics)} metrics in {rounds} rounds, namespace {metrics[0].request.namespace} ({metrics_file}):"]
    for component, values in sorted(summarize(metrics).items()):
        shown = "  ".join(f"{name}={value:.4g}" for name, value in sorted(values.items()))
        lines.append(f"  {component}: {shown}")
    return "\n".join(lines)
