"""The selection's and NMS's bounds, each pinned where a mutation test found it loose
(docs/mutation/survivors.md, module ssd_inference.decoders.selection)."""

import numpy as np
import pytest

from ssd_inference.decoders import DecoderError, Selection, select, select_weak, to_detections
from ssd_inference.decoders.base import Candidates, squeeze_batch
from ssd_inference.decoders.nms import class_aware_nms, suppressed_by

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
