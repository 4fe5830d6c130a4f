"""smartcam.contracts.detections: SsdInference's Detections and the DetectionSummary for IoT Core."""

from __future__ import annotations

import pytest

from smartcam.contracts import Box, Detection, Detections, DetectionSummary, ModelInfo, parse
from smartcam.contracts.detections import MAX_DETECTIONS
from tests.contracts.messages import box, detection, detections, refusal, round_trip, summary


def test_detections_round_trip_with_their_schema():
    parsed = round_trip(Detections, detections(candidates=[detection(score=0.3)]))
    assert parsed.to_message()["schema"] == "smartcam.detections/1"
    assert parsed.detections[0].box == Box(x1=0.1, y1=0.2, x2=0.4, y2=0.8)


@pytest.mark.parametrize("corners", [(0.3, 0.2, 0.3, 0.8), (0.1, 0.5, 0.4, 0.5), (0, 0, 0, 0), (1, 1, 1, 1)])
def test_a_box_may_be_a_line_or_a_point(corners):
    assert parse(Box, box(*corners)) == Box(x1=corners[0], y1=corners[1], x2=corners[2], y2=corners[3])


@pytest.mark.parametrize("corners", [(0.5, 0.2, 0.4, 0.8), (0.1, 0.9, 0.4, 0.8), (0.5, 0.9, 0.4, 0.8)])
def test_a_box_with_corners_out_of_order_is_refused(corners):
    assert refusal(Box, box(*corners)) == "invalid Box: message: box corners out of order"


def test_a_label_is_1_to_64_characters():
    assert parse(Detection, detection(label="l" * 64)).label == "l" * 64
    assert parse(Detection, detection(label="l")).label == "l"
    assert "at most 64 characters" in refusal(Detection, detection(label="l" * 65))
    assert "at least 1 character" in refusal(Detection, detection(label=""))


def test_a_detection_is_strict():
    assert "class_id: must be a whole number" in refusal(Detection, detection(class_id=True))
    assert "class_id: must be greater than or equal to 0" in refusal(Detection, detection(class_id=-1))
    assert "score: must be less than or equal to 1" in refusal(Detection, detection(score=1.01))
    assert "box: must be a JSON object" in refusal(Detection, detection(box=[0.1, 0.2, 0.4, 0.8]))


def test_up_to_1000_detections_and_candidates():
    assert MAX_DETECTIONS == 1000
    many = [detection()] * 1000
    parsed = parse(Detections, detections(detections=many, candidates=many))
    assert len(parsed.detections) == 1000 and len(parsed.candidates or []) == 1000
    assert "detections: List should have at most 1000 items" in refusal(Detections, detections(detections=many * 2))
    assert "detections: List should have at most 1000 items" in refusal(
        Detections, detections(detections=[*many, detection()]))
    assert "candidates: List should have at most 1000 items" in refusal(
        Detections, detections(candidates=[*many, detection()]))


def test_no_detections_is_a_result():
    assert parse(Detections, detections(detections=[])).detections == []


def test_a_model_has_a_name_a_version_and_a_backend():
    info = round_trip(ModelInfo, {"name": "ssd", "version": "v" * 64, "backend": "litert", "variant": "litert-xnn"})
    assert info.variant == "litert-xnn"
    assert "variant" not in parse(ModelInfo, {"name": "ssd", "version": "1", "backend": "onnxruntime"}).to_message()
    assert "version: String should have at most 64 characters" in refusal(
        ModelInfo, {"name": "ssd", "version": "v" * 65, "backend": "dlr"})
    assert "version: String should have at least 1 character" in refusal(
        ModelInfo, {"name": "ssd", "version": "", "backend": "dlr"})
    assert "backend: must be 'dlr', 'onnxruntime' or 'litert'" in refusal(
        ModelInfo, {"name": "ssd", "version": "1", "backend": "tensorflow"})


def test_the_queue_time_is_optional_the_other_latencies_are_not():
    parsed = parse(Detections, detections(latency={"queue_ms": 3.0, "read_ms": 1.0, "preprocess_ms": 2.0,
                                                   "infer_ms": 5.0, "postprocess_ms": 1.0}))
    assert parsed.latency.queue_ms == 3.0
    assert "latency.infer_ms: required" in refusal(Detections, detections(latency={"read_ms": 1.0,
                                                                                   "preprocess_ms": 2.0,
                                                                                   "postprocess_ms": 1.0}))


def test_a_summary_round_trips_with_its_schema():
    parsed = round_trip(DetectionSummary, summary(request_id="req-1"))
    assert parsed.to_message()["schema"] == "smartcam.detection-summary/1"
    assert parsed.boxes == [("person", 0.9, 0.1, 0.2, 0.4, 0.8)]


@pytest.mark.parametrize("over", [
    {"count": 0, "labels": {}, "boxes": []},
    {"count": 2, "labels": {"person": 2}, "boxes": [["person", 0.9, 0, 0, 1, 1]] * 2},  # as many boxes as count
    {"count": 3, "labels": {"person": 1, "dog": 2}, "boxes": []},
])
def test_a_summary_adds_up(over):
    assert parse(DetectionSummary, summary(**over)).count == over["count"]


@pytest.mark.parametrize("over", [
    {"count": 3},  # labels add up to 2
    {"count": 1},
    {"count": 1, "labels": {"person": 1}, "boxes": [["person", 0.9, 0, 0, 1, 1]] * 2},  # more boxes than count
    {"count": 0, "labels": {}, "boxes": [["person", 0.9, 0, 0, 1, 1]]},
])
def test_a_summary_that_does_not_add_up_is_refused(over):
    assert refusal(DetectionSummary, summary(**over)) == (
        "invalid DetectionSummary: message: labels must add up to count, and boxes cannot be more than count")


def test_a_summary_has_at_most_1000_boxes():
    row = ["person", 0.9, 0, 0, 1, 1]
    assert len(parse(DetectionSummary, summary(count=1000, labels={"person": 1000}, boxes=[row] * 1000)).boxes) == 1000
    assert "boxes: List should have at most 1000 items" in refusal(
        DetectionSummary, summary(count=1001, labels={"person": 1001}, boxes=[row] * 1001))


@pytest.mark.parametrize(("row", "why"), [
    (["person", "0.9", 0, 0, 1, 1], "boxes.0.1: must be a number"),
    (["person", 0.9, 0, 0, 1, 1.5], "boxes.0.5: must be less than or equal to 1"),
    (["person", 0.9, 0, 0, 1], "boxes.0"),
    ([7, 0.9, 0, 0, 1, 1], "boxes.0.0: must be a string"),
])
def test_a_summary_box_row_is_read_strictly_item_by_item(row, why):
    assert why in refusal(DetectionSummary, summary(count=1, labels={"person": 1}, boxes=[row]))


@pytest.mark.parametrize("model", ["a@b", "ssd@1", "m" * 96 + "@" + "v" * 96])
def test_a_summary_names_its_model_as_name_at_version(model):
    assert parse(DetectionSummary, summary(model=model)).model == model


@pytest.mark.parametrize(("model", "why"), [("@b", "should have at least 3 characters"), ("ab@", "should match"),
                                            ("ssd", "should match"), ("a@b@c", "should match"),
                                            ("m" * 97 + "@" + "v" * 96, "at most 193 characters")])
def test_a_summary_model_not_name_at_version_is_refused(model, why):
    assert why in refusal(DetectionSummary, summary(model=model))


def test_a_summary_may_count_the_frames_since_the_last_one_and_an_older_one_without_them_stays_valid():
    assert parse(DetectionSummary, summary()).frames is None
    assert "frames" not in parse(DetectionSummary, summary()).to_message()
    assert round_trip(DetectionSummary, summary(frames=4)).frames == 4


@pytest.mark.parametrize(("frames", "why"), [(0, "frames: must be greater than or equal to 1"),
                                             ("2", "frames: must be a whole number"),
                                             (2.0, "frames: must be a whole number"),
                                             (True, "frames: must be a whole number")])
def test_a_summary_frames_count_is_read_strictly(frames, why):
    assert why in refusal(DetectionSummary, summary(frames=frames))
