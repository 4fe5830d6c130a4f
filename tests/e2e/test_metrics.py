"""Metrics end to end: every component publishes its metrics on cloudwatch/metric/put at the configured
interval (1 s here), in the aws.greengrass.Cloudwatch request format, and the local runtime's stand-in
for that component (deployed by recipes/dev.json) writes each one it accepts to its metrics file.

Counts, not times: each component's rounds are told apart by their timestamps (one per round), and
their spacing is judged by its median, so a slow machine that delays a round fails nothing."""

from __future__ import annotations

import statistics
import time
from collections import defaultdict

import pytest

from local_greengrass.paths import RuntimePaths
from local_greengrass.standins.cloudwatch import read_metrics
from smartcam.contracts import MetricPut
from tests.e2e.helpers import CAMERA, SMARTCAM_COMPONENTS, Pipeline, merges
from tests.support.fake_nucleus import wait_until

pytestmark = pytest.mark.integration
PUBLISHERS = SMARTCAM_COMPONENTS  # every component, OperatorView's page included

INTERVAL_S = 1.0
ROUNDS = 5
FRAMES = 6
# What each component publishes every round, whatever happened (latencies and events open come with data).
EVERY_ROUND = {
    "smartcam.CameraIngest": {"FramesIn", "FramesGated", "FramesAwaitingReceipts", "Errors"},
    "smartcam.SsdInference": {"FramesIn", "FramesInferred", "FramesDropped", "FramesExpired", "FramesRefused",
                              "Errors"},
    "smartcam.EventTracker": {"FramesIn", "EventsStarted", "EventsEnded", "Errors"},
    "smartcam.DynamoWriter": {"ItemsWritten", "EventsWritten", "SpoolDepth", "SpoolAge", "EventSpoolDepth",
                              "EventSpoolAge", "Errors"},
    "smartcam.OperatorView": {"PageRequests", "FramesServed", "PagesOpen", "Errors"},
}


def dimensions(metric: MetricPut) -> dict[str, str]:
    return {d.name: d.value for d in metric.request.metric_data.dimensions}


@pytest.fixture(scope="module")
def metrics(pipeline: Pipeline) -> dict[str, list[MetricPut]]:
    """The metrics of a short capture, by component: every component at a 1 s interval, for at least
    ROUNDS rounds after the capture ended."""
    metrics_file = RuntimePaths(pipeline.runtime.root).metrics_file
    since = time.time()
    settings = merges(pipeline.runtime.root)  # an extra merge replaces a component's e2e merge: keep it
    pipeline.redeploy(extra={name: {**settings.get(name, {}), "metrics": {"intervalS": INTERVAL_S}}
                             for name in PUBLISHERS})
    capture = pipeline.run_capture(frames=FRAMES, fps=5)
    assert capture.final is not None and capture.final.frames_captured == FRAMES
    ended = time.time()

    def by_component() -> dict[str, list[MetricPut]]:
        found: dict[str, list[MetricPut]] = defaultdict(list)
        for metric in read_metrics(metrics_file):  # parses every line: one that does not validate fails here
            if (metric.request.metric_data.timestamp or 0) >= since:
                found[dimensions(metric)["Component"]].append(metric)
        return found

    def rounds_after_the_capture() -> bool:
        found = by_component()
        return all(len({m.request.metric_data.timestamp for m in found[name]
                        if (m.request.metric_data.timestamp or 0) > ended}) >= ROUNDS for name in PUBLISHERS)

    wait_until(rounds_after_the_capture, 60, f"{ROUNDS} rounds of metrics from every component")
    return by_component()


def rounds(metrics: list[MetricPut]) -> dict[float, set[str]]:
    """Timestamp -> the metric names of that round."""
    found: dict[float, set[str]] = defaultdict(set)
    for metric in metrics:
        found[metric.request.metric_data.timestamp or 0].add(metric.request.metric_data.metric_name)
    return found


@pytest.mark.parametrize("component", PUBLISHERS)
def test_every_component_publishes_every_round_at_the_interval(metrics, pipeline, component):
    mine = metrics[component]
    by_round = rounds(mine)
    assert len(by_round) >= ROUNDS
    # every round but possibly the first (the interval changed during it) holds every metric of the component
    for names in list(by_round.values())[1:]:
        assert EVERY_ROUND[component] <= names, sorted(names)
    spacing = statistics.median(b - a for a, b in zip(sorted(by_round), sorted(by_round)[1:], strict=False))
    assert 0.75 * INTERVAL_S <= spacing <= 1.5 * INTERVAL_S, spacing
    for metric in mine:
        assert metric.request.namespace == "SmartCam"
        assert dimensions(metric)["Thing"] == pipeline.thing


def test_the_runtimes_stand_in_refused_no_metric(metrics, pipeline):
    """What reached the file validated (read_metrics parses every line); nothing was refused on the way."""
    log = RuntimePaths(pipeline.runtime.root).daemon_log.read_text(errors="replace")
    assert "aws.greengrass.Cloudwatch stand-in: metrics on cloudwatch/metric/put" in log
    assert "metric refused" not in log


def total(metrics: list[MetricPut], name: str, **wanted: str) -> float:
    return sum(m.request.metric_data.value for m in metrics
               if m.request.metric_data.metric_name == name and wanted.items() <= dimensions(m).items())


def test_the_frames_of_the_capture_are_counted_where_they_pass(metrics):
    assert total(metrics["smartcam.CameraIngest"], "FramesIn", Camera=CAMERA) >= FRAMES
    assert total(metrics["smartcam.SsdInference"], "FramesIn") >= FRAMES
    assert total(metrics["smartcam.SsdInference"], "FramesInferred") >= FRAMES
    assert total(metrics["smartcam.EventTracker"], "FramesIn") >= FRAMES
    assert total(metrics["smartcam.DynamoWriter"], "ItemsWritten") >= FRAMES  # one person per frame
    for component in PUBLISHERS:
        # the first round carries what was counted since the last one at the old interval (an earlier module's)
        first = min(m.request.metric_data.timestamp or 0 for m in metrics[component])
        later = [m for m in metrics[component] if (m.request.metric_data.timestamp or 0) > first]
        assert total(later, "Errors") == 0, component


def test_inference_latency_comes_per_stage_in_milliseconds(metrics):
    latencies = [m for m in metrics["smartcam.SsdInference"] if m.request.metric_data.metric_name == "LatencyP95"]
    stages = {dimensions(m)["Stage"] for m in latencies}
    assert {"read", "preprocess", "infer", "postprocess"} <= stages
    assert all(m.request.metric_data.unit == "Milliseconds" and m.request.metric_data.value > 0
               for m in latencies if dimensions(m)["Stage"] == "infer")
