"""The numpy reference decoder used to record and check the expected detections."""

import numpy as np

from model_packaging.reference_decoder import corners_to_center, decode, decode_boxes, nms


def test_zero_encodings_give_back_the_anchor():
    anchors = corners_to_center(np.array([[0.1, 0.2, 0.5, 0.6]], np.float32))  # ymin, xmin, ymax, xmax
    np.testing.assert_allclose(decode_boxes(np.zeros((1, 4)), anchors, (10, 10, 5, 5)), [[0.2, 0.1, 0.6, 0.5]],
                               atol=1e-6)


def test_encodings_scale_by_the_box_coder_factors():
    anchors = np.array([[0.5, 0.5, 0.2, 0.4]], np.float32)  # ycenter, xcenter, h, w
    box = decode_boxes(np.array([[1.0, 2.0, 5 * np.log(2), 0.0]]), anchors, (10, 10, 5, 5))[0]
    # yc = 0.5 + 1/10*0.2, xc = 0.5 + 2/10*0.4, h = 0.2*2, w = 0.4
    np.testing.assert_allclose(box, [0.58 - 0.2, 0.52 - 0.2, 0.58 + 0.2, 0.52 + 0.2], atol=1e-6)


def test_nms_keeps_the_best_of_overlapping_boxes_only():
    boxes = np.array([[0, 0, 1, 1], [0.05, 0, 1, 1], [2, 2, 3, 3]], np.float32)
    keep = nms(boxes, np.array([0.6, 0.9, 0.5]), iou_threshold=0.5, max_out=10)
    assert keep.tolist() == [1, 2]


def test_decode_ignores_background_and_applies_the_threshold():
    anchors = np.array([[0.5, 0.5, 0.2, 0.2], [0.2, 0.2, 0.1, 0.1]], np.float32)
    logits = np.array([[[5.0, -5.0], [-5.0, 3.0]]], np.float32)  # anchor 0: background, anchor 1: person
    found = decode(np.zeros((1, 2, 4), np.float32), logits, anchors, ["background", "person"])
    assert [d["label"] for d in found] == ["person"]
    assert found[0]["score"] > 0.95
    np.testing.assert_allclose(found[0]["box"], [0.15, 0.15, 0.25, 0.25], atol=1e-6)
