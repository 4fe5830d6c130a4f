"""The selection's and NMS's bounds, each pinned where a mutation test found it loose
(docs/mutation/survivors.md, module ssd_inference.decoders.selection)."""

import numpy as np
import pytest

from ssd_inference.decoders import DecoderError, Selection, select, select_weak, to_detections
from ssd_inference.decoders.base import Candidates, output, squeeze_batch
from ssd_inference.decoders.nms import class_aware_nms, iou_one_to_many, suppressed_by

# IoU of these two is exactly 1/2 in float64: intersection 1, union 2.
WIDE, SQUARE = [0.0, 0.0, 2.0, 1.0], [0.0, 0.0, 1.0, 1.0]


def test_nms_keeps_a_box_whose_iou_is_exactly_the_threshold_and_suppressed_by_agrees():
    boxes = np.asarray([WIDE, SQUARE])
    assert class_aware_nms(boxes, np.asarray([0.9, 0.8]), np.zeros(2, np.int64), 0.5, 10).tolist() == [0, 1]
    assert class_aware_nms(boxes, np.asarray([0.9, 0.8]), np.zeros(2, np.int64), 0.49, 10).tolist() == [0]
    mask = suppressed_by(boxes[1:], np.zeros(1, np.int64), boxes[:1], np.zeros(1, np.int64), 0.5)
    assert mask.tolist() == [False]


def test_nms_keeps_classes_apart_for_boxes_in_pixels_too():
    boxes = np.asarray([[10, 10, 50, 50], [10, 10, 50, 50], [12, 12, 52, 52]], np.float32)
    kept = class_aware_nms(boxes, np.asarray([0.9, 0.8, 0.7]), np.asarray([0, 1, 2]), 0.5, 10)
    assert kept.tolist() == [0, 1, 2]


def test_a_weak_detection_at_the_tracking_threshold_is_kept_and_one_at_the_score_threshold_is_not():
    # Far apart, so NMS never joins them; top-k of 1 leaves the one at the score threshold out of the results.
    boxes = np.asarray([[0, 0, 0.2, 0.2], [0.4, 0.4, 0.6, 0.6], [0.8, 0.8, 1, 1]], np.float32)
    candidates = Candidates(boxes, np.asarray([0.9, 0.5, 0.25], np.float32), np.zeros(3, np.int64))
    selection = Selection(0.5, 0.5, 1, tracking_score_threshold=0.25)
    results = select(candidates, selection)
    assert results.scores.tolist() == pytest.approx([0.9])
    assert select_weak(candidates, selection, results).scores.tolist() == [0.25]


def test_boxes_are_clipped_to_the_frame_before_their_area_is_measured():
    candidates = Candidates(np.asarray([[-0.2, 0.1, 0.3, 0.5]], np.float32), np.asarray([0.9], np.float32),
                            np.zeros(1, np.int64))
    kept = select(candidates, Selection(0.5, 0.5, 10))
    assert kept.boxes.tolist() == [pytest.approx([0.0, 0.1, 0.3, 0.5])]
    assert len(select(candidates, Selection(0.5, 0.5, 10, min_box_area=0.13))) == 0  # 0.3 x 0.4 inside


def test_a_negative_score_from_a_raw_logit_becomes_zero_in_the_detection():
    candidates = Candidates(np.asarray([[0.1, 0.1, 0.2, 0.2]], np.float32), np.asarray([-0.5], np.float32),
                            np.zeros(1, np.int64))
    (detection,) = to_detections(candidates, ("person",))
    assert detection.score == 0.0
    assert detection.box.x1 == pytest.approx(0.1)


def test_no_candidates_have_the_shapes_of_any_decoder_output():
    empty = Candidates.empty()
    assert (empty.boxes.shape, empty.scores.shape, empty.class_ids.shape) == ((0, 4), (0,), (0,))


def test_squeeze_batch_drops_a_batch_of_one_from_a_two_dimensional_output_and_checks_the_trailing_size():
    assert squeeze_batch(np.zeros((1, 5)), "scores", None).shape == (5,)
    assert squeeze_batch(np.zeros((1, 3, 4)), "boxes", 4).shape == (3, 4)
    assert squeeze_batch(np.zeros((2, 5)), "scores", None).shape == (2, 5)
    with pytest.raises(DecoderError, match=r"'boxes' has shape \(3, 5\), expected \(N, 4\)"):
        squeeze_batch(np.zeros((3, 5)), "boxes", 4)
    with pytest.raises(DecoderError, match="expected"):
        squeeze_batch(np.zeros(4), "boxes", 4)


@pytest.mark.parametrize("outside", [
    [1.1, 0.2, 1.3, 0.4],  # right of the frame: clipped to zero width
    [0.2, -0.4, 0.4, -0.1],  # above it: zero height
    [0.2, 0.5, 0.4, 0.5],  # a line, inside the frame
])
def test_a_box_with_no_area_inside_the_frame_is_dropped_even_without_a_minimum_area(outside):
    candidates = Candidates(np.asarray([outside, [0.1, 0.1, 0.3, 0.3]], np.float32), np.asarray([0.9, 0.8], np.float32),
                            np.zeros(2, np.int64))
    assert select(candidates, Selection(0.5, 0.5, 10)).scores.tolist() == [pytest.approx(0.8)]


def test_a_box_of_exactly_the_minimum_area_is_kept():
    # 0.5 x 0.25 = 0.125, exact in float32 and float64; the second box is a float32 step narrower
    narrower = np.nextafter(np.float32(0.5), np.float32(0))
    candidates = Candidates(np.asarray([[0, 0, 0.5, 0.25], [0, 0.5, narrower, 0.75]], np.float32),
                            np.asarray([0.9, 0.8], np.float32), np.zeros(2, np.int64))
    kept = select(candidates, Selection(0.5, 0.5, 10, min_box_area=0.125))
    assert kept.scores.tolist() == [pytest.approx(0.9)]


@pytest.mark.parametrize("class_id, label", [(0, "person"), (1, "car"), (2, "class_2")])
def test_a_class_id_past_the_labels_is_named_by_its_number(class_id, label):
    candidates = Candidates(np.asarray([[0.1, 0.1, 0.2, 0.2]], np.float32), np.asarray([0.9], np.float32),
                            np.asarray([class_id], np.int64))
    (detection,) = to_detections(candidates, ("person", "car"))
    assert (detection.label, detection.class_id) == (label, class_id)


@pytest.mark.parametrize("raw, reported", [(-0.5, 0.0), (1.5, 1.0), (0.25, 0.25)])
def test_a_raw_score_outside_0_1_is_reported_at_the_nearer_end(raw, reported):
    # raw logits (score activation "none") can lie anywhere; a detection's score is a probability
    candidates = Candidates(np.asarray([[0.1, 0.1, 0.2, 0.2]], np.float32), np.asarray([raw], np.float32),
                            np.zeros(1, np.int64))
    (detection,) = to_detections(candidates, ("person",))
    assert detection.score == reported


def test_candidates_whose_arrays_disagree_in_length_are_an_error_not_cut_short():
    two_boxes = Candidates(np.asarray([[0.1, 0.1, 0.2, 0.2]] * 2, np.float32), np.asarray([0.9], np.float32),
                           np.zeros(1, np.int64))
    with pytest.raises(ValueError, match="zip"):
        to_detections(two_boxes, ("person",))
    with pytest.raises(ValueError, match="2 kept boxes but 1 class ids"):
        suppressed_by(two_boxes.boxes, np.zeros(2, np.int64), two_boxes.boxes, np.zeros(1, np.int64), 0.5)
    with pytest.raises(ValueError, match="2 boxes but 1 class ids"):
        suppressed_by(two_boxes.boxes, np.zeros(1, np.int64), two_boxes.boxes, np.zeros(2, np.int64), 0.5)


def test_a_missing_output_error_names_the_outputs_the_model_has():
    with pytest.raises(DecoderError, match=r"'scores' missing \(got boxes, classes\)"):
        output({"boxes": np.zeros(1), "classes": np.zeros(1)}, "scores")
    with pytest.raises(DecoderError, match=r"'scores' missing \(got none\)"):
        output({}, "scores")


def test_squeeze_batch_leaves_a_one_element_vector_alone():
    # (1,) has no dimension under the "batch": it is one value, not a batch of one
    assert squeeze_batch(np.zeros(1), "num_detections", None).shape == (1,)


@pytest.mark.parametrize("other, iou", [
    ([0.0, 0.0, 1.0, 1.0], 1.0),  # the same box
    ([0.5, 0.0, 1.5, 1.0], 1 / 3),  # half of it: 0.5 / 1.5
    ([2.0, 0.0, 3.0, 1.0], 0.0),  # beside it: apart in x only, overlapping in y
    ([0.0, 3.0, 1.0, 4.0], 0.0),  # below it
    ([2.0, 2.0, 3.0, 3.0], 0.0),  # apart in both
])
def test_iou_is_a_fraction_that_is_zero_for_boxes_apart(other, iou):
    assert iou_one_to_many(np.asarray([0.0, 0.0, 1.0, 1.0]), np.asarray([other])).tolist() == [pytest.approx(iou)]


def test_iou_of_boxes_with_no_area_is_zero_not_nan():
    point = np.asarray([0.5, 0.5, 0.5, 0.5])
    assert iou_one_to_many(point, np.asarray([point, [0.5, 0.2, 0.5, 0.8]])).tolist() == [0.0, 0.0]


def test_nms_at_an_iou_threshold_of_1_keeps_every_box_once():
    # 1 is the largest nmsIouThreshold: nothing is suppressed, not even the same box twice
    boxes = np.asarray([[0.1, 0.1, 0.5, 0.5]] * 3, np.float32)
    assert class_aware_nms(boxes, np.asarray([0.9, 0.8, 0.7]), np.zeros(3, np.int64), 1.0, 10).tolist() == [0, 1, 2]


def test_suppressed_by_checks_a_single_weak_box_too():
    box = np.asarray([[0.1, 0.1, 0.5, 0.5]], np.float32)
    assert suppressed_by(box, np.zeros(1, np.int64), box, np.zeros(1, np.int64), 0.5).tolist() == [True]
