"""Metric series for the charts, from MetricPut messages on cloudwatch/metric/put: one per name and
dimensions (Thing left out), bounded in points and in series, anything else counted."""

from __future__ import annotations

from operator_view import metric_series
from operator_view.metric_series import MetricSeries
from smartcam import topics
from smartcam.contracts import MetricPut

T = 1_780_000_000.0


def put(name: str, value: float, at: float | None = T, camera: str | None = "cam0", unit: str = "Count") -> dict:
    dimensions = [{"name": "Thing", "value": "thing-1"}, {"name": "Component", "value": "smartcam.CameraIngest"}]
    if camera:
        dimensions.append({"name": "Camera", "value": camera})
    datum = {"metricName": name, "dimensions": dimensions, "value": value, "unit": unit}
    if at is not None:
        datum["timestamp"] = at
    return MetricPut.model_validate({"request": {"namespace": "SmartCam", "metricData": datum}}).to_message()


def test_one_series_per_name_and_dimensions_oldest_point_first():
    series = MetricSeries(points=lambda: 10)
    series.on_metric(topics.CLOUDWATCH_METRIC_PUT, put("FramesIn", 5, T + 60))
    series.on_metric(topics.CLOUDWATCH_METRIC_PUT, put("FramesIn", 3, T))
    series.on_metric(topics.CLOUDWATCH_METRIC_PUT, put("FramesIn", 7, T, camera="cam1"))
    series.on_metric(topics.CLOUDWATCH_METRIC_PUT, put("Errors", 0, T, camera=None))
    assert series.snapshot() == [
        {"name": "Errors", "dimensions": "Component=smartcam.CameraIngest", "unit": "Count", "points": [[T, 0]]},
        {"name": "FramesIn", "dimensions": "Component=smartcam.CameraIngest, Camera=cam0", "unit": "Count",
         "points": [[T, 3], [T + 60, 5]]},
        {"name": "FramesIn", "dimensions": "Component=smartcam.CameraIngest, Camera=cam1", "unit": "Count",
         "points": [[T, 7]]},
    ]


def test_a_metric_without_a_timestamp_is_taken_at_its_arrival():
    series = MetricSeries(points=lambda: 10, clock=lambda: T + 5)
    series.on_metric(topics.CLOUDWATCH_METRIC_PUT, put("FramesIn", 1, at=None))
    assert series.snapshot()[0]["points"] == [[T + 5, 1]]


def test_a_series_keeps_its_newest_points_only():
    series = MetricSeries(points=lambda: 3)
    for minute in range(5):
        series.on_metric(topics.CLOUDWATCH_METRIC_PUT, put("FramesIn", minute, T + 60 * minute))
    assert [v for _, v in series.snapshot()[0]["points"]] == [2, 3, 4]


def test_series_are_bounded_and_what_is_not_a_metric_put_is_counted(monkeypatch):
    monkeypatch.setattr(metric_series, "MAX_SERIES", 2)
    series = MetricSeries(points=lambda: 3)
    for camera in ("a", "b", "c"):
        series.on_metric(topics.CLOUDWATCH_METRIC_PUT, put("FramesIn", 1, camera=camera))
    series.on_metric(topics.CLOUDWATCH_METRIC_PUT, {"request": {"namespace": "SmartCam"}})
    series.on_metric(topics.CLOUDWATCH_METRIC_PUT, b"nope")
    assert len(series.snapshot()) == 2 and series.refused == 3
