"""smartcam.metrics: counter deltas, levels, latency percentiles and dimensions as MetricPut messages
(mocked IPC), and the publishing loop's interval."""

from __future__ import annotations

import threading

import pytest
import yaml

from repo_layout import REPO_ROOT
from smartcam import topics
from smartcam.config import ConfigError, validate_config
from smartcam.contracts import MetricPut, parse
from smartcam.metrics import ERROR_COUNTER, MAX_SAMPLES, Metrics, MetricsSettings, percentile
from smartcam.telemetry import Telemetry
from tests.support.fake_nucleus import FakeNucleus, wait_until

THING, COMPONENT = "thing-1", "smartcam.Demo"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def make(settings: MetricsSettings | None = None) -> tuple[FakeNucleus, Telemetry, Metrics, Clock]:
    nucleus = FakeNucleus({})
    telemetry = Telemetry(nucleus.ipc, COMPONENT, THING)
    clock = Clock()
    current = settings or MetricsSettings()
    return nucleus, telemetry, Metrics(nucleus.ipc, telemetry, THING, lambda: current, clock=clock), clock


def by_name(messages: list[MetricPut]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(metric name, extra dimensions beyond Thing and Component) -> value."""
    return {(m.request.metric_data.metric_name,
             tuple((d.name, d.value) for d in m.request.metric_data.dimensions[2:])): m.request.metric_data.value
            for m in messages}


def test_a_counter_is_published_as_its_increase_since_the_last_round_zero_included():
    _, telemetry, metrics, _ = make()
    metrics.counter("FramesIn", "framesReceived")
    telemetry.count("framesReceived", 5)
    assert by_name(metrics.collect())[("FramesIn", ())] == 5
    telemetry.count("framesReceived", 3)
    assert by_name(metrics.collect())[("FramesIn", ())] == 3
    assert by_name(metrics.collect())[("FramesIn", ())] == 0


def test_a_total_per_camera_carries_the_camera_and_restarts_from_zero_when_its_source_does():
    _, _, metrics, _ = make()
    totals = {"cam0": 10, "cam1": 0}
    metrics.total("FramesIn", lambda: dict(totals))
    assert by_name(metrics.collect()) == {("FramesIn", (("Camera", "cam0"),)): 10,
                                          ("FramesIn", (("Camera", "cam1"),)): 0, ("Errors", ()): 0}
    totals.update(cam0=12, cam1=4)
    first = by_name(metrics.collect())
    assert first[("FramesIn", (("Camera", "cam0"),))] == 2 and first[("FramesIn", (("Camera", "cam1"),))] == 4
    totals["cam0"] = 3  # its source began again
    assert by_name(metrics.collect())[("FramesIn", (("Camera", "cam0"),))] == 3


def test_errors_add_up_every_error_counter_and_nothing_else():
    _, telemetry, metrics, _ = make()
    for name, amount in {"internalErrors": 1, "messagesInvalid": 2, "framesLost": 3, "snapshotFailed": 4,
                         "statusError": 5, "framesReceived": 100, "framesDropped": 100, "metricsUnsent": 7}.items():
        telemetry.count(name, amount)
    assert by_name(metrics.collect())[("Errors", ())] == 15
    telemetry.count("publishErrors")
    assert by_name(metrics.collect())[("Errors", ())] == 1


@pytest.mark.parametrize(("name", "error"), [("internalErrors", True), ("iotPublishErrors", True),
                                             ("framePublishFailures", True), ("eventsSpoolUnavailable", True),
                                             ("framesDropped", False), ("framesExpired", False),
                                             ("metricsErrorless", False)])
def test_what_counts_as_an_error(name, error):
    assert bool(ERROR_COUNTER.match(name)) is error


def test_a_level_is_published_as_it_is_in_its_unit_and_none_publishes_nothing():
    _, _, metrics, _ = make()
    depth: list[float | None] = [7]
    metrics.level("SpoolDepth", "Count", lambda: depth[0])
    metrics.level("EventsOpen", "Count", lambda: {"cam0": 2, "cam1": 0})
    messages = metrics.collect()
    assert by_name(messages)[("SpoolDepth", ())] == 7
    assert by_name(messages)[("EventsOpen", (("Camera", "cam1"),))] == 0
    depth[0] = None
    assert ("SpoolDepth", ()) not in by_name(metrics.collect())


def test_latency_percentiles_per_stage_of_the_samples_since_the_last_round():
    _, _, metrics, _ = make()
    for ms in range(1, 101):
        metrics.observe("infer", float(ms))
    metrics.observe("read", 2.0)
    metrics.observe("read", float("nan"))  # ignored
    metrics.observe("read", -1.0)  # ignored
    messages = metrics.collect()
    values = by_name(messages)
    assert values[("LatencyP50", (("Stage", "infer"),))] == 50
    assert values[("LatencyP95", (("Stage", "infer"),))] == 95
    assert values[("LatencyP95", (("Stage", "read"),))] == 2
    assert {m.request.metric_data.unit for m in messages if "Latency" in m.request.metric_data.metric_name} == \
        {"Milliseconds"}
    assert not [k for k in by_name(metrics.collect()) if k[0].startswith("Latency")]  # the window was emptied


def test_a_latency_window_is_bounded():
    _, _, metrics, _ = make()
    for _ in range(MAX_SAMPLES):
        metrics.observe("infer", 1000.0)
    for _ in range(MAX_SAMPLES):
        metrics.observe("infer", 1.0)  # only the newest samples stay
    assert by_name(metrics.collect())[("LatencyP95", (("Stage", "infer"),))] == 1


def test_percentile_is_nearest_rank():
    assert percentile([3.0], 95) == 3.0
    assert percentile([1.0, 2.0], 50) == 1.0
    assert percentile([5.0, 1.0, 4.0, 2.0, 3.0], 50) == 3.0
    assert percentile([float(v) for v in range(1, 21)], 95) == 19.0


def test_every_message_carries_thing_and_component_the_namespace_the_round_time_and_validates():
    _, _, metrics, clock = make(MetricsSettings(namespace="Fleet1"))
    metrics.counter("FramesIn", "framesReceived")
    metrics.observe("infer", 3.0)
    messages = metrics.collect()
    assert len(messages) == 4  # Errors, FramesIn, LatencyP50, LatencyP95
    for message in messages:
        assert parse(MetricPut, message.to_bytes()) == message
        assert message.request.namespace == "Fleet1"
        assert message.request.metric_data.timestamp == clock.now
        assert [(d.name, d.value) for d in message.request.metric_data.dimensions[:2]] == \
            [("Thing", THING), ("Component", COMPONENT)]


def test_publish_sends_each_metric_on_the_cloudwatch_topic():
    nucleus, _, metrics, _ = make()
    metrics.counter("FramesIn", "framesReceived")
    assert metrics.publish() == 2
    assert [m.request.metric_data.metric_name for m in nucleus.parsed(MetricPut, topics.CLOUDWATCH_METRIC_PUT)] == \
        ["Errors", "FramesIn"]


def test_a_metric_that_cannot_be_read_or_sent_is_counted_and_the_rest_go_on():
    nucleus, telemetry, metrics, _ = make()
    metrics.total("Broken", lambda: 1 / 0)
    assert metrics.publish() == 1 and telemetry.counters["metricsUnsent"] == 1
    nucleus.client.publish_to_topic.side_effect = RuntimeError("IPC gone")
    assert metrics.publish() == 0 and telemetry.counters["metricsUnsent"] == 3
    nucleus.client.publish_to_topic.side_effect = None
    assert by_name(metrics.collect())[("Errors", ())] == 0  # not an error of the pipeline


def test_the_loop_publishes_rounds_at_the_interval_until_stopped():
    nucleus, _, metrics, _ = make(MetricsSettings(interval_s=1))
    metrics.start()
    try:
        wait_until(lambda: len(nucleus.on(topics.CLOUDWATCH_METRIC_PUT)) >= 2, 10, "two rounds")
    finally:
        metrics.stop()
    assert not metrics._thread.is_alive()


def test_a_new_interval_applies_without_waiting_for_the_old_one():
    nucleus = FakeNucleus({})
    telemetry = Telemetry(nucleus.ipc, COMPONENT, THING)
    current = [MetricsSettings(interval_s=3600)]
    metrics = Metrics(nucleus.ipc, telemetry, THING, lambda: current[0])
    metrics.start()
    try:
        current[0] = MetricsSettings(interval_s=1)
        wait_until(lambda: len(nucleus.on(topics.CLOUDWATCH_METRIC_PUT)) >= 1, 10, "a round at the new interval")
    finally:
        metrics.stop()


def test_an_interval_of_zero_publishes_nothing():
    nucleus, _, metrics, _ = make(MetricsSettings(interval_s=0))
    stopped = threading.Event()
    metrics.start()
    stopped.wait(1.5)
    metrics.stop()
    assert nucleus.on(topics.CLOUDWATCH_METRIC_PUT) == []


@pytest.mark.parametrize(("raw", "problem"), [({"intervalS": 0.5}, r"0 \(off\) or at least 1"),
                                              ({"intervalS": "60"}, "intervalS"),
                                              ({"intervalS": 3601}, "intervalS"),
                                              ({"namespace": "AWS/IoT"}, "reserved"),
                                              ({"namespace": ""}, "namespace"),
                                              ({"other": 1}, "unknown key")])
def test_settings_refuse_what_cloudwatch_or_the_loop_cannot_use(raw, problem):
    with pytest.raises(ConfigError, match=problem):
        validate_config(MetricsSettings, raw)


def test_settings_default_to_a_minute_in_smartcam():
    settings = validate_config(MetricsSettings, {})
    assert settings.interval_s == 60 and settings.namespace == "SmartCam"
    assert validate_config(MetricsSettings, {"intervalS": 0}).interval_s == 0


@pytest.mark.parametrize("component", ["CameraIngest", "SsdInference", "EventTracker", "DynamoWriter"])
def test_each_recipe_may_publish_metrics_on_that_one_topic_and_defaults_to_a_minute(component):
    recipe = yaml.safe_load((REPO_ROOT / "components" / component / "recipe.yaml").read_text())
    defaults = recipe["ComponentConfiguration"]["DefaultConfiguration"]
    assert validate_config(MetricsSettings, defaults["metrics"]) == MetricsSettings()
    policies = [p for service in defaults["accessControl"].values() for p in service.values()]
    granting = [p for p in policies if any(r.startswith("cloudwatch/") for r in p["resources"])]
    assert [(p["operations"], p["resources"]) for p in granting] == \
        [(["aws.greengrass#PublishToTopic"], [topics.CLOUDWATCH_METRIC_PUT])]
