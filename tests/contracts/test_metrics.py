"""smartcam.contracts.metrics: the aws.greengrass.Cloudwatch input (MetricPut) and its status replies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from smartcam import topics
from smartcam.contracts import UNITS, MetricPut, MetricPutStatus, parse
from tests.contracts.messages import refusal, round_trip


def metric(**datum: Any) -> dict[str, Any]:
    """The component's documented example input, with ``datum`` keys replaced (None removes one)."""
    data: dict[str, Any] = {
        "metricName": "latency",
        "dimensions": [{"name": "hostname", "value": "test_hostname"}],
        "timestamp": 1539027324,
        "value": 123.0,
        "unit": "Seconds",
    }
    data.update(datum)
    return {"request": {"namespace": "Greengrass", "metricData": {k: v for k, v in data.items() if v is not None}}}


def test_the_documented_example_is_accepted_and_round_trips():
    parsed = round_trip(MetricPut, metric())
    assert parsed.request.metric_data.metric_name == "latency"
    assert parsed.request.metric_data.timestamp == 1539027324
    assert parsed.to_message() == metric()  # the wire names are AWS's camelCase, nothing added
    assert "schema" not in parsed.to_message()


def test_the_topics_are_the_components_defaults():
    assert topics.CLOUDWATCH_METRIC_PUT == "cloudwatch/metric/put"
    assert topics.CLOUDWATCH_METRIC_PUT_STATUS == "cloudwatch/metric/put/status"


def test_only_name_and_value_are_required():
    parsed = parse(MetricPut, metric(dimensions=None, timestamp=None, unit=None))
    assert parsed.to_message() == {"request": {"namespace": "Greengrass",
                                               "metricData": {"metricName": "latency", "dimensions": [],
                                                              "value": 123.0}}}
    assert "metricData.metricName: required" in refusal(MetricPut, metric(metricName=None))
    assert "metricData.value: required" in refusal(MetricPut, metric(value=None))


@pytest.mark.parametrize("value", ["123", True, None])
def test_a_value_is_a_json_number(value):
    data = metric()
    data["request"]["metricData"]["value"] = value
    assert "metricData.value" in refusal(MetricPut, data)


def test_a_string_timestamp_or_a_millisecond_one_is_refused():
    assert "metricData.timestamp: must be a number" in refusal(MetricPut, metric(timestamp="1539027324"))
    assert "metricData.timestamp" in refusal(MetricPut, metric(timestamp=1539027324000))


@pytest.mark.parametrize("value", [0.0, 1.0, -5.5, 8.515920e-109, 1.174271e108, -1.174271e108])
def test_values_cloudwatch_stores_are_accepted(value):
    assert parse(MetricPut, metric(value=value)).request.metric_data.value == value


@pytest.mark.parametrize("value", [1e-109, 2e108, -2e108])
def test_values_cloudwatch_rejects_are_refused(value):
    assert "must be 0 or of magnitude" in refusal(MetricPut, metric(value=value))


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(constant):
    text = json.dumps(metric()).replace("123.0", constant)
    assert "not valid JSON" in refusal(MetricPut, text.encode())


@pytest.mark.parametrize("unit", UNITS)
def test_every_cloudwatch_unit_is_accepted(unit):
    assert parse(MetricPut, metric(unit=unit)).request.metric_data.unit == unit


def test_there_are_27_units():
    assert len(UNITS) == 27 and len(set(UNITS)) == 27


@pytest.mark.parametrize("unit", ["seconds", "ms", "Count/Minute", "", 1])
def test_a_unit_outside_the_list_is_refused(unit):
    assert "metricData.unit" in refusal(MetricPut, metric(unit=unit))


def test_unknown_keys_are_refused_at_every_level():
    data = metric()
    data["extra"] = 1
    assert "extra: unknown key" in refusal(MetricPut, data)
    data = metric()
    data["request"]["extra"] = 1
    assert "request.extra: unknown key" in refusal(MetricPut, data)
    assert "metricData.storageResolution: unknown key" in refusal(MetricPut, metric(storageResolution=1))
    assert "dimensions.0.extra: unknown key" in refusal(
        MetricPut, metric(dimensions=[{"name": "a", "value": "b", "extra": "c"}]))


def test_up_to_10_dimensions():
    ten = [{"name": f"d{i}", "value": "v"} for i in range(10)]
    assert len(parse(MetricPut, metric(dimensions=ten)).request.metric_data.dimensions) == 10
    eleven = [*ten, {"name": "d10", "value": "v"}]
    assert "at most 10 items" in refusal(MetricPut, metric(dimensions=eleven))


def test_a_dimension_has_a_name_and_a_value_within_cloudwatchs_lengths():
    assert "dimensions.0.value: required" in refusal(MetricPut, metric(dimensions=[{"name": "a"}]))
    assert "dimensions.0.name: required" in refusal(MetricPut, metric(dimensions=[{"value": "a"}]))
    assert "at least 1 character" in refusal(MetricPut, metric(dimensions=[{"name": "", "value": "a"}]))
    longest = {"name": "n" * 255, "value": "v" * 1024}
    assert parse(MetricPut, metric(dimensions=[longest])).request.metric_data.dimensions[0].value == "v" * 1024
    assert "at most 255 characters" in refusal(MetricPut, metric(dimensions=[{"name": "n" * 256, "value": "v"}]))
    assert "at most 1024 characters" in refusal(MetricPut, metric(dimensions=[{"name": "n", "value": "v" * 1025}]))
    assert "must be a string" in refusal(MetricPut, metric(dimensions=[{"name": "n", "value": 3}]))


def test_dimension_names_are_unique():
    twice = [{"name": "camera", "value": "a"}, {"name": "camera", "value": "b"}]
    assert "dimension names must be unique" in refusal(MetricPut, metric(dimensions=twice))


def test_names_and_namespaces_are_1_to_255_characters():
    assert parse(MetricPut, metric(metricName="m" * 255)).request.metric_data.metric_name == "m" * 255
    assert "at most 255 characters" in refusal(MetricPut, metric(metricName="m" * 256))
    assert "at least 1 character" in refusal(MetricPut, metric(metricName=""))
    data = metric()
    data["request"]["namespace"] = "n" * 256
    assert "request.namespace" in refusal(MetricPut, data)


@pytest.mark.parametrize("namespace", ["AWS/EC2", ":colon", ""])
def test_reserved_or_malformed_namespaces_are_refused(namespace):
    data = metric()
    data["request"]["namespace"] = namespace
    assert "request.namespace" in refusal(MetricPut, data)


def test_a_message_is_one_metric_not_a_list():
    data = metric()
    data["request"]["metricData"] = [data["request"]["metricData"]]
    assert "metricData: must be a JSON object" in refusal(MetricPut, data)


def test_the_documented_status_replies_parse():
    success = {"response": {"cloudwatch_rid": "70573243-d723-11e8-b095-75ff2EXAMPLE", "namespace": "Greengrass",
                            "status": "success"}}
    failure = {"response": {"namespace": "Greengrass", "error": "InvalidInputException",
                            "error_message": "cw metric is invalid", "status": "fail"}}
    assert round_trip(MetricPutStatus, success).response.status == "success"
    assert json.loads(parse(MetricPutStatus, failure).to_bytes()) == failure
    without_reason = {"response": {"namespace": "Greengrass", "status": "fail"}}
    assert "a failure carries error and error_message" in refusal(MetricPutStatus, without_reason)
