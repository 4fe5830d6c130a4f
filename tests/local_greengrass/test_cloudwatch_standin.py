"""local_greengrass.standins.cloudwatch: accepted metrics into the JSON-lines file, refused ones answered
on the status topic as aws.greengrass.Cloudwatch answers them (real LocalPubSub, no IPC socket)."""

from __future__ import annotations

import base64
import json
import stat
from types import SimpleNamespace
from typing import Any

from local_greengrass.daemon import Daemon
from local_greengrass.ipc.pubsub import LocalPubSub
from local_greengrass.paths import RuntimePaths
from local_greengrass.standins.cloudwatch import CloudwatchStandIn, read_metrics
from smartcam.contracts import MetricPut, MetricPutStatus, parse
from tests.support.fake_nucleus import wait_until

METRIC = {"request": {"namespace": "SmartCam", "metricData": {
    "metricName": "FramesIn", "dimensions": [{"name": "Thing", "value": "t"}, {"name": "Camera", "value": "cam0"}],
    "timestamp": 1_700_000_000.5, "value": 12.0, "unit": "Count"}}}


def running(tmp_path, **configuration: Any) -> tuple[LocalPubSub, CloudwatchStandIn, list[dict[str, Any]]]:
    pubsub = LocalPubSub()
    replies: list[dict[str, Any]] = []
    pubsub.subscribe(configuration.get("OutputTopic", "cloudwatch/metric/put/status"), "observer",
                     lambda _topic, message: replies.append(message["jsonMessage"]["message"]))
    standin = CloudwatchStandIn(pubsub, RuntimePaths(tmp_path).metrics_file, configuration)
    standin.start()
    return pubsub, standin, replies


def publish(pubsub: LocalPubSub, message: Any, topic: str = "cloudwatch/metric/put") -> None:
    pubsub.publish(topic, "smartcam.Demo", {"jsonMessage": {"message": message}})


def test_an_accepted_metric_is_one_json_line_in_the_runtimes_metrics_file(tmp_path):
    pubsub, standin, replies = running(tmp_path)
    try:
        publish(pubsub, METRIC)
        binary = base64.b64encode(json.dumps(METRIC).encode()).decode()
        pubsub.publish("cloudwatch/metric/put", "smartcam.Demo", {"binaryMessage": {"message": binary}})
        wait_until(lambda: len(read_metrics(standin.file)) == 2, 10, "two lines")
    finally:
        standin.stop()
    assert standin.file == tmp_path / "metrics" / "metrics.jsonl"
    assert [json.loads(line) for line in standin.file.read_text().splitlines()] == [METRIC, METRIC]
    assert read_metrics(standin.file) == [parse(MetricPut, METRIC)] * 2
    assert replies == [] and standin.accepted == 2
    assert stat.S_IMODE(standin.file.stat().st_mode) & 0o027 == 0
    assert stat.S_IMODE(standin.file.parent.stat().st_mode) == 0o750


def test_a_refused_metric_is_answered_like_the_component_and_not_written(tmp_path):
    pubsub, standin, replies = running(tmp_path)
    bad = json.loads(json.dumps(METRIC))
    bad["request"]["metricData"]["value"] = "12"
    try:
        publish(pubsub, bad)
        publish(pubsub, {"unexpected": True})
    finally:
        standin.stop()
    assert not standin.file.exists() and standin.refused == 2
    first, second = (parse(MetricPutStatus, reply).response for reply in replies)
    assert first.status == "fail" and first.error == "InvalidInputException" and first.namespace == "SmartCam"
    assert "metricData.value: must be a number" in (first.error_message or "")
    assert second.namespace == "" and "request: required" in (second.error_message or "")


def test_the_topics_follow_the_components_configuration(tmp_path):
    pubsub, standin, replies = running(tmp_path, InputTopic="custom/in", OutputTopic="custom/out")
    try:
        publish(pubsub, METRIC)  # the default topic is no longer served
        publish(pubsub, {"request": {}}, topic="custom/in")
        publish(pubsub, METRIC, topic="custom/in")
        wait_until(lambda: standin.file.exists() and len(read_metrics(standin.file)) == 1, 10, "one line")
    finally:
        standin.stop()
    assert len(replies) == 1 and standin.accepted == 1


def test_a_full_file_moves_aside_and_both_are_read(tmp_path):
    pubsub = LocalPubSub()
    line_bytes = len(parse(MetricPut, METRIC).to_bytes()) + 1
    standin = CloudwatchStandIn(pubsub, RuntimePaths(tmp_path).metrics_file, {}, max_bytes=line_bytes * 3)
    standin.start()
    try:
        for _ in range(5):
            publish(pubsub, METRIC)
        wait_until(lambda: len(read_metrics(standin.file)) == 5, 10, "five lines")
    finally:
        standin.stop()
    assert len(standin.file.with_name("metrics.jsonl.1").read_text().splitlines()) == 3
    assert len(standin.file.read_text().splitlines()) == 2


def test_the_daemon_serves_the_topic_while_a_deployment_includes_the_component(tmp_path):
    daemon = Daemon(RuntimePaths(tmp_path), tmp_path, "thing-1", "eu-west-1")
    pubsub = LocalPubSub()
    daemon.ipc = SimpleNamespace(pubsub=pubsub)  # type: ignore[assignment]  # only its pub/sub is used
    try:
        daemon._serve_cloudwatch({"PublishInterval": 10})
        first = daemon.cloudwatch
        assert first is not None and first.file == RuntimePaths(tmp_path).metrics_file
        daemon._serve_cloudwatch({"PublishInterval": 10})  # the same configuration: the same stand-in
        assert daemon.cloudwatch is first
        daemon._serve_cloudwatch({"InputTopic": "custom/in"})  # another one: served as configured
        assert daemon.cloudwatch is not first and daemon.cloudwatch.input_topic == "custom/in"
        assert publish_count(pubsub, "cloudwatch/metric/put") == 0
        assert publish_count(pubsub, "custom/in") == 1
        daemon._serve_cloudwatch(None)  # no longer deployed
        assert daemon.cloudwatch is None and publish_count(pubsub, "custom/in") == 0
    finally:
        daemon._serve_cloudwatch(None)


def publish_count(pubsub: LocalPubSub, topic: str) -> int:
    """How many subscribers got a metric published on ``topic``."""
    return pubsub.publish(topic, "smartcam.Demo", {"jsonMessage": {"message": METRIC}})
