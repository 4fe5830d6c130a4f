"""The metrics summary `make demo` prints, from the stand-in's metrics file alone."""

from __future__ import annotations

from local_device.metrics_summary import metrics_report, summarize
from smartcam.contracts import MetricPut


def metric(name: str, value: float, at: float, component: str = "smartcam.CameraIngest", unit: str = "Count",
           **extra: str) -> MetricPut:
    dimensions = [{"name": "Thing", "value": "t"}, {"name": "Component", "value": component}]
    dimensions += [{"name": k, "value": v} for k, v in extra.items()]
    return MetricPut.model_validate({"request": {"namespace": "SmartCam", "metricData": {
        "metricName": name, "dimensions": dimensions, "timestamp": at, "value": value, "unit": unit}}})


def test_totals_add_up_levels_keep_the_last_and_latency_its_worst():
    metrics = [
        metric("FramesIn", 5, 1000.0, Camera="cam0"), metric("FramesIn", 7, 1060.0, Camera="cam0"),
        metric("FramesIn", 1, 1060.0, Camera="cam1"),
        metric("SpoolDepth", 40, 1000.0, "smartcam.DynamoWriter"),
        metric("SpoolDepth", 3, 1060.0, "smartcam.DynamoWriter"),
        metric("LatencyP95", 30, 1000.0, "smartcam.SsdInference", "Milliseconds", Stage="infer"),
        metric("LatencyP95", 80, 1060.0, "smartcam.SsdInference", "Milliseconds", Stage="infer"),
        metric("LatencyP95", 50, 1120.0, "smartcam.SsdInference", "Milliseconds", Stage="infer"),
        metric("LatencyP50", 20, 1120.0, "smartcam.SsdInference", "Milliseconds", Stage="infer"),
    ]
    assert summarize(list(reversed(metrics))) == {
        "smartcam.CameraIngest": {"FramesIn[cam0]": 12, "FramesIn[cam1]": 1},
        "smartcam.DynamoWriter": {"SpoolDepth": 3},
        "smartcam.SsdInference": {"LatencyP95[infer]": 80},
    }


def test_the_report_reads_the_file_from_a_time_on(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(b"".join(m.to_bytes() + b"\n" for m in [
        metric("FramesIn", 100, 900.0, Camera="cam0"), metric("FramesIn", 5, 1000.0, Camera="cam0"),
        metric("Errors", 0, 1000.0)]))
    report = metrics_report(path, since=1000.0)
    assert report.splitlines()[0].startswith("2 metrics in 1 rounds, namespace SmartCam")
    assert "smartcam.CameraIngest: Errors=0  FramesIn[cam0]=5" in report
    assert metrics_report(tmp_path / "none.jsonl").startswith("(no metrics in")
