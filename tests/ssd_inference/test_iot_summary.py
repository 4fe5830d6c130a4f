"""The per-frame summary sent to IoT Core: ``maxBoxes`` keeps the best boxes while the counts cover every
detection, ``includeEmpty`` decides whether a frame without detections is summarized at all."""

from __future__ import annotations

import time

import pytest

from smartcam.config import LiveConfig
from smartcam.contracts import Box, Detection, Detections, DetectionSummary, ModelInfo, StageLatency, parse
from smartcam.frames import FrameRing
from ssd_inference.app import SsdInferenceApp
from ssd_inference.iot_summary import summarize
from ssd_inference.settings import SsdInferenceConfig
from tests.ssd_inference.helpers import THING, FakeBackend, fake_factories, frame_pixels, frame_ref, write_model_dir
from tests.support.fake_nucleus import FakeNucleus, wait_until

SUMMARY = f"smartcam/{THING}/detections"
RUNTIMES = {"onnxruntime": {"path": "fake.model", "outputs": {}}}


def message(*scored: tuple[str, float]) -> Detections:
    """Detections in the decoders' order (best first), each box a little further right."""
    detections = [Detection(label=label, class_id=0 if label == "person" else 1, score=score,
                            box=Box(x1=0.1 * i, y1=0.1, x2=0.1 * i + 0.05, y2=0.3))
                  for i, (label, score) in enumerate(scored)]
    return Detections(frame=frame_ref(7), detections=detections,
                      model=ModelInfo(name="test-ssd", version="0.1.0", backend="onnxruntime"),
                      latency=StageLatency(read_ms=1, preprocess_ms=1, infer_ms=12.5, postprocess_ms=1),
                      inferred_at=time.time())


@pytest.mark.parametrize("max_boxes", [0, 1, 2, 3, 10])
def test_max_boxes_keeps_the_first_boxes_and_the_counts_cover_every_detection(max_boxes: int):
    scored = [("person", 0.93), ("dog", 0.81), ("person", 0.62)]
    summary = summarize(message(*scored), max_boxes)
    assert [(label, score) for label, score, *_ in summary.boxes] == scored[:max_boxes]
    assert summary.count == 3 and summary.labels == {"person": 2, "dog": 1}
    assert parse(DetectionSummary, summary.to_message()) == summary


@pytest.fixture
def component(tmp_path, monkeypatch):
    """The component on the fake nucleus with the fake backend (a person at 0.9, a dog at 0.6); starts it
    with the given configuration and sends it frames."""
    monkeypatch.setenv("AWS_IOT_THING_NAME", THING)
    ring = FrameRing(tmp_path / "frames", "cam1", capacity=8)
    apps = []

    def start(**configuration):
        gg = FakeNucleus({"healthIntervalS": 3600, "backend": "onnxruntime", **configuration}, "smartcam.SsdInference")
        app = SsdInferenceApp(gg.ipc, LiveConfig(gg.ipc, SsdInferenceConfig),
                              model_dir=write_model_dir(tmp_path / "model", runtimes=RUNTIMES),
                              backend_factories=fake_factories("onnxruntime"), frame_root=ring.root)
        app.start()
        apps.append(app)

        def send(score_threshold: float) -> str:
            """One frame under ``score_threshold`` (0.95 leaves it without detections), once its detections
            are out (the threshold a frame is served with is the one when its inference starts)."""
            gg.update(scoreThreshold=score_threshold)
            frame = ring.write(frame_pixels(), captured_at=time.time(),
                               captured_monotonic_ns=time.monotonic_ns())
            gg.send("smartcam/frames", frame)
            wait_until(lambda: any(m["frame"]["frame_id"] == frame.frame_id for m in gg.on("smartcam/detections")),
                       what=f"the detections of {frame.frame_id}")
            return frame.frame_id

        return gg, send

    yield start
    for app in apps:
        app.stop()


def summaries_once_summarized(gg: FakeNucleus, last: str) -> list[dict]:
    """Every summary sent, once the one of frame ``last`` is there (one delivery thread: frames before it
    were decided first)."""
    wait_until(lambda: any(s["frame_id"] == last for s in gg.on_iot(SUMMARY)), what=f"the summary of {last}")
    return gg.on_iot(SUMMARY)


@pytest.mark.parametrize("include_empty", [False, True])
def test_a_frame_without_detections_is_summarized_only_with_include_empty(component, include_empty: bool):
    gg, send = component(iotSummary={"includeEmpty": include_empty, "minIntervalS": 0})
    empty = send(0.95)
    found = send(0.5)
    summaries = summaries_once_summarized(gg, found)
    if include_empty:
        assert [(s["frame_id"], s["count"], s["labels"], s["boxes"]) for s in summaries[:1]] == [(empty, 0, {}, [])]
    assert [s["frame_id"] for s in summaries] == ([empty] if include_empty else []) + [found]
    assert summaries[-1]["count"] == 2
    # every inferred frame is counted once: in its own summary, or in the next one sent
    assert [s["frames"] for s in summaries] == ([1, 1] if include_empty else [2])


def test_max_boxes_reaches_the_summary_the_component_sends(component):
    gg, send = component(iotSummary={"maxBoxes": 1})
    frame = send(0.5)
    (summary,) = summaries_once_summarized(gg, frame)
    assert summary["labels"] == {"person": 1, "dog": 1} and summary["count"] == 2
    [(label, score, *box)] = summary["boxes"]
    assert (label, score) == ("person", 0.9) and box == pytest.approx(FakeBackend.PERSON_BOX, abs=1e-4)


def test_a_camera_is_summarized_at_most_every_min_interval_s_and_the_next_summary_counts_the_frames_between(component):
    gg, send = component(iotSummary={"minIntervalS": 3600})
    first = send(0.5)
    within = [send(0.5), send(0.5)]
    summaries = summaries_once_summarized(gg, first)
    assert [(s["frame_id"], s["frames"]) for s in summaries] == [(first, 1)]
    gg.update(iotSummary={"minIntervalS": 0})
    after = send(0.5)
    summaries = summaries_once_summarized(gg, after)
    assert [(s["frame_id"], s["frames"]) for s in summaries] == [(first, 1), (after, 3)]
    assert not {s["frame_id"] for s in summaries} & set(within)
