import itertools

import numpy as np
import pytest

from ssd_inference.decoders import (
    DecoderError,
    Selection,
    build_decoder,
    foreground_labels,
    nms,
    select,
    select_weak,
    select_with_weak,
    to_detections,
)
from ssd_inference.decoders.base import Candidates
from ssd_inference.decoders.nms import class_aware_nms, suppressed_by
from ssd_inference.decoders.tf_od_api import anchors_to_center, decode_boxes
from tests.ssd_inference.helpers import encode_boxes, grid_anchors, raw_outputs

SCALES = np.asarray([10, 10, 5, 5], np.float32)
TF_PARAMS = {"anchors_file": "anchors.npy", "anchor_order": "yxhw", "scale_factors": [10, 10, 5, 5],
             "score_activation": "sigmoid", "background_class": 0}
ALL = Selection(score_threshold=0.5, nms_iou_threshold=0.5, max_detections=100)


def test_box_coder_recovers_known_boxes():
    rng = np.random.default_rng(1)
    anchors = grid_anchors()
    x1y1 = rng.uniform(0, 0.6, (len(anchors), 2))
    boxes = np.concatenate([x1y1, x1y1 + rng.uniform(0.05, 0.4, (len(anchors), 2))], axis=1).astype(np.float32)
    codes = encode_boxes(boxes, anchors, SCALES)
    np.testing.assert_allclose(decode_boxes(codes, anchors, SCALES), boxes, atol=1e-5)


def test_box_coder_matches_tf_formula_by_hand():
    # anchor centered at (0.5, 0.5) of size 0.2 x 0.4 (yxhw); ty=1, tx=-2, th=ln 2 * 5, tw=0
    anchor = np.asarray([[0.5, 0.5, 0.2, 0.4]], np.float32)
    codes = np.asarray([[1.0, -2.0, 5 * np.log(2.0), 0.0]], np.float32)
    yc, xc, h, w = 0.5 + 0.1 * 0.2, 0.5 - 0.2 * 0.4, 0.4, 0.4
    np.testing.assert_allclose(decode_boxes(codes, anchor, SCALES)[0],
                               [xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2], atol=1e-6)


def test_corner_anchors_give_the_same_centers():
    corners = np.asarray([[0.1, 0.2, 0.5, 0.4]], np.float32)  # ymin xmin ymax xmax
    np.testing.assert_allclose(anchors_to_center(corners, "yxyx"), [[0.3, 0.3, 0.4, 0.2]], atol=1e-6)


def test_tf_od_api_decodes_known_objects_and_drops_background():
    anchors = grid_anchors()
    person, dog = (0.1, 0.2, 0.4, 0.8), (0.55, 0.5, 0.95, 0.9)
    outputs = raw_outputs(anchors, [(44, 1, 0.9, person), (177, 2, 0.6, dog), (3, 0, 0.99, (0, 0, 0.1, 0.1))])
    decoder = build_decoder("tf_od_api", TF_PARAMS, anchors, (64, 64))
    found = select(decoder.decode(outputs, 0.5), ALL)
    dets = to_detections(found, ("person", "dog"))
    assert [(d.label, d.class_id) for d in dets] == [("person", 0), ("dog", 1)]
    assert dets[0].score == pytest.approx(0.9, abs=1e-5) and dets[1].score == pytest.approx(0.6, abs=1e-5)
    np.testing.assert_allclose([dets[0].box.x1, dets[0].box.y1, dets[0].box.x2, dets[0].box.y2], person, atol=1e-5)
    np.testing.assert_allclose([dets[1].box.x1, dets[1].box.y1, dets[1].box.x2, dets[1].box.y2], dog, atol=1e-5)


def test_softmax_activation_and_threshold():
    anchors = grid_anchors()
    logits = np.zeros((1, len(anchors), 3), np.float32)
    logits[0, 5] = [0.0, np.log(8.0), 0.0]  # softmax -> 0.8 person
    outputs = {"box_encodings": np.zeros((1, len(anchors), 4), np.float32), "class_predictions": logits}
    decoder = build_decoder("tf_od_api", {**TF_PARAMS, "score_activation": "softmax"}, anchors, (64, 64))
    found = decoder.decode(outputs, 0.5)
    assert found.class_ids.tolist() == [0]
    assert found.scores[0] == pytest.approx(0.8, abs=1e-5)


@pytest.mark.parametrize("problem, kwargs", [
    ("anchors", {"anchors": np.zeros((7, 4), np.float32)}),
    ("box_order", {"params": {**TF_PARAMS, "anchor_order": "xyxy"}}),
    ("scale_factors", {"params": {**TF_PARAMS, "scale_factors": [1, 2]}}),
])
def test_tf_od_api_bad_shapes_and_params_are_clear_errors(problem, kwargs):
    anchors = kwargs.get("anchors", grid_anchors())
    params = kwargs.get("params", TF_PARAMS)
    with pytest.raises(DecoderError) as info:
        decoder = build_decoder("tf_od_api", params, anchors, (64, 64))
        decoder.decode(raw_outputs(grid_anchors(), []), 0.5)
    assert "tf_od_api" in str(info.value)


def test_missing_output_named_in_error():
    decoder = build_decoder("tf_od_api", TF_PARAMS, grid_anchors(), (64, 64))
    with pytest.raises(DecoderError, match="class_predictions"):
        decoder.decode({"box_encodings": np.zeros((1, 200, 4))}, 0.5)


def test_unknown_decoder_is_a_clear_error():
    with pytest.raises(DecoderError, match=r"unknown decoder 'yolo'.*tf_od_api"):
        build_decoder("yolo", {}, None, (300, 300))


def test_tflite_postprocess_format():
    boxes = np.asarray([[[0.2, 0.1, 0.6, 0.5], [0.0, 0.0, 1.0, 1.0], [0.5, 0.5, 0.6, 0.6]]], np.float32)  # yxyx
    outputs = {"boxes": boxes, "classes": np.asarray([[0.0, 1.0, 0.0]], np.float32),
               "scores": np.asarray([[0.9, 0.4, 0.8]], np.float32), "num_detections": np.asarray([2.0], np.float32)}
    dets = to_detections(select(build_decoder("tflite_postprocess", {}, None, (300, 300)).decode(outputs, 0.3), ALL),
                         ("person", "car"))
    # the third row is past num_detections; the second is under the selection's 0.5
    assert [(d.label, round(d.score, 3)) for d in dets] == [("person", 0.9)]
    assert (dets[0].box.x1, dets[0].box.y1, dets[0].box.x2, dets[0].box.y2) == pytest.approx((0.1, 0.2, 0.5, 0.6))


def test_mxnet_ssd_rows_with_empty_class():
    rows = np.asarray([[[2, 0.95, 0.1, 0.2, 0.3, 0.4], [-1, 0.99, 0, 0, 1, 1], [0, 0.2, 0, 0, 1, 1],
                        [0, 0.7, 0.5, 0.5, 1.2, 0.9]]], np.float32)
    dets = to_detections(select(build_decoder("mxnet_ssd", {}, None, (512, 512)).decode({"detections": rows}, 0.5),
                                ALL), ("a", "b", "c"))
    assert [d.label for d in dets] == ["c", "a"]
    assert (dets[1].box.x2, dets[1].box.y2) == pytest.approx((1.0, 0.9))  # clipped to the frame


def test_gluoncv_pixels_are_normalized_by_input_size():
    outputs = {"ids": np.asarray([[[1], [-1]]], np.float32), "scores": np.asarray([[[0.8], [0.9]]], np.float32),
               "boxes": np.asarray([[[51.2, 0.0, 256.0, 128.0], [0, 0, 10, 10]]], np.float32)}
    dets = to_detections(select(build_decoder("gluoncv", {}, None, (256, 512)).decode(outputs, 0.5), ALL),
                         ("person", "bicycle"))
    assert [d.label for d in dets] == ["bicycle"]
    assert (dets[0].box.x1, dets[0].box.y1, dets[0].box.x2, dets[0].box.y2) == pytest.approx((0.1, 0.0, 0.5, 0.5))


def brute_force_nms(boxes, scores, classes, iou_threshold, max_keep):
    def iou(a, b):
        ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = ix * iy
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return inter / union if union > 0 else 0.0

    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    keep = []
    for i in order:
        if all(classes[k] != classes[i] or iou(boxes[k], boxes[i]) <= iou_threshold for k in keep):
            keep.append(i)
    return keep[:max_keep]


# Normalized, in pixels, in pixels with the origin at the bottom right: the classes are kept apart in any frame.
FRAMES = {"normalized": (1.0, 0.0), "pixels": (300.0, 0.0), "negative": (300.0, -300.0)}


# All pairs' IoUs at once (a frame's few candidates), or one kept box at a time (beyond MATRIX_MAX_PAIRS).
PAIRS = {"matrix": nms.MATRIX_MAX_PAIRS, "one-at-a-time": 0}


@pytest.mark.parametrize("pairs", PAIRS)
@pytest.mark.parametrize("frame", FRAMES)
@pytest.mark.parametrize("seed, iou_threshold", list(itertools.product(range(8), (0.3, 0.5, 0.7))))
def test_class_aware_nms_matches_brute_force(seed, iou_threshold, frame, pairs, monkeypatch):
    monkeypatch.setattr(nms, "MATRIX_MAX_PAIRS", PAIRS[pairs])
    rng = np.random.default_rng(seed)
    n = 60
    x1y1 = rng.uniform(0, 0.7, (n, 2))
    scale, origin = FRAMES[frame]
    boxes = np.concatenate([x1y1, x1y1 + rng.uniform(0.05, 0.3, (n, 2))], axis=1) * scale + origin
    scores = rng.uniform(0, 1, n).astype(np.float32)
    classes = rng.integers(0, 3, n)
    expected = brute_force_nms(boxes.tolist(), scores.tolist(), classes.tolist(), iou_threshold, 25)
    assert class_aware_nms(boxes, scores, classes, iou_threshold, 25).tolist() == expected


def test_nms_never_suppresses_across_classes():
    boxes = np.asarray([[0.1, 0.1, 0.5, 0.5]] * 2, np.float32)
    kept = class_aware_nms(boxes, np.asarray([0.9, 0.8]), np.asarray([0, 1]), 0.5, 10)
    assert kept.tolist() == [0, 1]
    assert class_aware_nms(boxes, np.asarray([0.9, 0.8]), np.asarray([1, 1]), 0.5, 10).tolist() == [0]


def test_selection_allow_list_min_area_and_top_k():
    boxes = np.asarray([[0, 0, 0.5, 0.5], [0.6, 0.6, 0.65, 0.65], [0.5, 0, 1, 0.5], [0, 0.5, 0.5, 1]], np.float32)
    candidates = Candidates(boxes, np.asarray([0.9, 0.95, 0.8, 0.7], np.float32), np.asarray([0, 0, 1, 0]))
    only_class0_big = Selection(0.5, 0.5, 1, allowed_class_ids=frozenset({0}), min_box_area=0.01)
    assert select(candidates, only_class0_big).scores.tolist() == pytest.approx([0.9])
    assert len(select(candidates, Selection(0.5, 0.5, 10))) == 4
    assert len(select(candidates, Selection(0.5, 0.5, 10, allowed_class_ids=frozenset()))) == 0


def test_labels_file_with_background_entry_is_aligned():
    assert foreground_labels("tf_od_api", TF_PARAMS, ("background", "person")) == ("person",)
    assert foreground_labels("tf_od_api", TF_PARAMS, ("person",)) == ("person",)
    assert foreground_labels("tflite_postprocess", {}, ("???", "person")) == ("person",)
    assert foreground_labels("mxnet_ssd", {}, ("cat", "dog")) == ("cat", "dog")


def weak_scene() -> Candidates:
    """Decoded boxes (class 0 unless said): a strong person, a weak echo of it, a weak person elsewhere with
    a weaker echo of its own, a weak tiny box, a weak dog (class 1) on the person, one too faint for any
    threshold."""
    person, hidden = [0.1, 0.2, 0.4, 0.8], [0.6, 0.05, 0.8, 0.45]
    boxes = np.asarray([person, [0.11, 0.21, 0.41, 0.79], hidden, [0.61, 0.06, 0.81, 0.46], [0.9, 0.9, 0.91, 0.91],
                        person, [0.3, 0.5, 0.5, 0.7]], np.float32)
    return Candidates(boxes, np.asarray([0.9, 0.3, 0.35, 0.25, 0.2, 0.15, 0.05], np.float32),
                      np.asarray([0, 0, 0, 0, 0, 1, 0]))


def test_weak_detections_lie_between_the_thresholds_and_survive_nms_beside_the_results():
    scene = weak_scene()
    selection = Selection(0.5, 0.45, 10, tracking_score_threshold=0.1)
    results = select(scene, selection)
    weak = select_weak(scene, selection, results)
    assert results.scores.tolist() == pytest.approx([0.9])
    # the echo of the person is suppressed by it, the hidden person's echo by the hidden person; the dog on
    # the person is another class; the faint one is below the tracking threshold
    assert weak.scores.tolist() == pytest.approx([0.35, 0.2, 0.15])
    assert weak.class_ids.tolist() == [0, 0, 1]
    assert select_weak(scene, Selection(0.5, 0.45, 10, tracking_score_threshold=0.1, min_box_area=0.001),
                       results).scores.tolist() == pytest.approx([0.35, 0.15])
    assert select_weak(scene, Selection(0.5, 0.45, 10, frozenset({1}), tracking_score_threshold=0.1),
                       select(scene, Selection(0.5, 0.45, 10, frozenset({1})))).class_ids.tolist() == [1]
    assert len(select_weak(scene, Selection(0.5, 0.45, 2, tracking_score_threshold=0.1), results)) == 2  # top-k


@pytest.mark.parametrize("seed", range(12))
def test_both_selections_at_once_are_each_selection_on_its_own(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 40))
    corners = rng.uniform(-0.1, 0.8, (n, 2))
    boxes = np.concatenate([corners, corners + rng.uniform(0.0, 0.4, (n, 2))], axis=1).astype(np.float32)
    candidates = Candidates(boxes, rng.uniform(0.05, 1.0, n).astype(np.float32), rng.integers(0, 3, n))
    selection = Selection(float(rng.choice([0.3, 0.5, 0.8])), float(rng.choice([0.3, 0.45, 0.7])),
                          int(rng.integers(1, 20)), rng.choice([None, frozenset({0, 2})]),
                          float(rng.choice([0.0, 0.01])), (0.1, 0.2, None)[seed % 3])
    results, weak = select_with_weak(candidates, selection)
    assert seed != 0 or (len(results) > 0 and len(weak) > 0)  # the comparison is not of empty arrays only
    alone = select(candidates, selection)
    for together, separately in ((results, alone), (weak, select_weak(candidates, selection, alone))):
        for ours, theirs in zip((together.boxes, together.scores, together.class_ids),
                                (separately.boxes, separately.scores, separately.class_ids), strict=True):
            np.testing.assert_array_equal(ours, theirs)
            assert ours.dtype == theirs.dtype


def test_both_selections_at_once_of_the_weak_scene():
    selection = Selection(0.5, 0.45, 10, tracking_score_threshold=0.1)
    results, weak = select_with_weak(weak_scene(), selection)
    assert results.scores.tolist() == pytest.approx([0.9])
    assert weak.scores.tolist() == pytest.approx([0.35, 0.2, 0.15])


@pytest.mark.parametrize("tracking", [None, 0.5, 0.7])
def test_no_weak_detections_without_a_tracking_threshold_below_the_score_threshold(tracking):
    scene = weak_scene()
    selection = Selection(0.5, 0.45, 10, tracking_score_threshold=tracking)
    assert len(select_weak(scene, selection, select(scene, selection))) == 0
    assert selection.decode_threshold == 0.5


@pytest.mark.parametrize("seed", range(6))
def test_results_are_the_same_whether_decoded_down_to_the_tracking_threshold_or_not(seed):
    """The decoder keeps more boxes for the weak detections; the results picked from them are exactly
    those picked when it decodes at the score threshold (same boxes, scores, classes, order)."""
    rng = np.random.default_rng(seed)
    anchors = grid_anchors()
    corners = rng.uniform(0, 0.6, (40, 2))
    boxes = np.concatenate([corners, corners + rng.uniform(0.1, 0.4, (40, 2))], axis=1)
    objects = [(int(a), int(rng.integers(1, 3)), float(rng.uniform(0.05, 0.99)), tuple(box.tolist()))
               for a, box in zip(rng.choice(len(anchors), 40, replace=False), boxes, strict=True)]
    outputs = raw_outputs(anchors, objects)
    decoder = build_decoder("tf_od_api", TF_PARAMS, anchors, (64, 64))
    selection = Selection(0.5, 0.45, 20, tracking_score_threshold=0.1)
    before = select(decoder.decode(outputs, 0.5), Selection(0.5, 0.45, 20))
    after = select(decoder.decode(outputs, selection.decode_threshold), selection)
    assert len(after) > 0
    for ours, theirs in zip((after.boxes, after.scores, after.class_ids), (before.boxes, before.scores,
                                                                          before.class_ids), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    weak = select_weak(decoder.decode(outputs, selection.decode_threshold), selection, after)
    assert len(weak) > 0 and np.all((weak.scores >= 0.1) & (weak.scores < 0.5))


@pytest.mark.parametrize("seed", range(4))
def test_suppressed_by_is_the_same_for_all_pairs_at_once_or_one_kept_box_at_a_time(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    corners = rng.uniform(0, 0.6, (50, 2))
    boxes = np.concatenate([corners, corners + rng.uniform(0.05, 0.4, (50, 2))], axis=1).astype(np.float32)
    classes = rng.integers(0, 2, 50)
    at_once = suppressed_by(boxes[10:], classes[10:], boxes[:10], classes[:10], 0.3)
    monkeypatch.setattr(nms, "MATRIX_MAX_PAIRS", 0)
    one_at_a_time = suppressed_by(boxes[10:], classes[10:], boxes[:10], classes[:10], 0.3)
    assert 0 < at_once.sum() < 40 and at_once.tolist() == one_at_a_time.tolist()


def test_suppressed_by_looks_only_at_the_same_class_above_the_threshold():
    boxes = np.asarray([[0.1, 0.1, 0.5, 0.5], [0.1, 0.1, 0.5, 0.5], [0.3, 0.3, 0.7, 0.7]], np.float32)
    kept = np.asarray([[0.1, 0.1, 0.5, 0.5]], np.float32)
    mask = suppressed_by(boxes, np.asarray([0, 1, 0]), kept, np.asarray([0]), 0.45)
    assert mask.tolist() == [True, False, False]  # IoU of the third is 1/7
    assert suppressed_by(boxes, np.asarray([0, 1, 0]), kept[:0], np.asarray([], np.int64), 0.45).tolist() == [
        False, False, False]


# A detection scoring exactly the threshold is reported (README: scoreThreshold is the lowest score of a
# reported detection); one a float32 step below is not. 0.5 is exact in float32 and float64.
AT = np.float32(0.5)
BELOW = np.nextafter(AT, np.float32(0))


def outputs_scoring(decoder: str, scores: list[np.float32]) -> tuple[dict[str, np.ndarray], tuple]:
    """Raw outputs of ``decoder`` with one box per score (class 0), and build_decoder's arguments."""
    n = len(scores)
    boxes = np.asarray([[0.1 * i, 0.1 * i, 0.1 * i + 0.05, 0.1 * i + 0.05] for i in range(n)], np.float32)
    score_array = np.asarray(scores, np.float32)
    if decoder == "tf_od_api":
        anchors = grid_anchors()
        logits = np.full((len(anchors), 2), -50.0, np.float32)  # background column, person column
        logits[:n, 1] = score_array  # activation "none": the logit is the score
        outputs = {"box_encodings": np.zeros((1, len(anchors), 4), np.float32), "class_predictions": logits[None]}
        return outputs, ({**TF_PARAMS, "score_activation": "none"}, anchors, (64, 64))
    if decoder == "tflite_postprocess":
        yxyx = boxes[:, [1, 0, 3, 2]]
        return ({"boxes": yxyx[None], "classes": np.zeros((1, n), np.float32), "scores": score_array[None],
                 "num_detections": np.asarray([n], np.float32)}, ({}, None, (300, 300)))
    if decoder == "mxnet_ssd":
        rows = np.concatenate([np.zeros((n, 1), np.float32), score_array[:, None], boxes], axis=1)
        return {"detections": rows[None]}, ({}, None, (300, 300))
    assert decoder == "gluoncv"
    return ({"ids": np.zeros((1, n, 1), np.float32), "scores": score_array.reshape(1, n, 1),
             "boxes": (boxes * 300)[None]}, ({}, None, (300, 300)))


@pytest.mark.parametrize("decoder", ["tf_od_api", "tflite_postprocess", "mxnet_ssd", "gluoncv"])
def test_every_decoder_keeps_a_score_exactly_at_the_threshold(decoder):
    outputs, (params, anchors, input_hw) = outputs_scoring(decoder, [AT, BELOW, np.float32(0.9)])
    candidates = build_decoder(decoder, params, anchors, input_hw).decode(outputs, float(AT))
    assert sorted(candidates.scores.tolist()) == [0.5, pytest.approx(0.9)]


def test_the_selection_keeps_a_score_exactly_at_the_threshold():
    boxes = np.asarray([[0, 0, 0.2, 0.2], [0.5, 0.5, 0.7, 0.7], [0.3, 0.3, 0.4, 0.4]], np.float32)
    candidates = Candidates(boxes, np.asarray([AT, BELOW, 0.9], np.float32), np.zeros(3, np.int64))
    kept = select(candidates, Selection(score_threshold=float(AT), nms_iou_threshold=0.5, max_detections=10))
    assert kept.scores.tolist() == [pytest.approx(0.9), 0.5]
