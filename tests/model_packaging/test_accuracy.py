"""How a detector is scored against the labeled evaluation set, and what the gate lets through."""

from __future__ import annotations

import pytest

from model_packaging import model_card as card
from model_packaging.accuracy import GateResult, Score, iou, load_eval_set, score_frame, score_set

PERSON = (0.1, 0.1, 0.3, 0.5)


def test_iou_of_boxes_apart_touching_and_nested():
    assert iou(PERSON, (0.4, 0.1, 0.6, 0.5)) == 0.0
    assert iou(PERSON, (0.3, 0.1, 0.5, 0.5)) == 0.0  # sharing an edge only
    assert iou(PERSON, PERSON) == 1.0
    assert iou(PERSON, (0.1, 0.1, 0.2, 0.5)) == pytest.approx(0.5)


def test_a_detection_matches_at_iou_one_half_and_not_below():
    half = (0.1, 0.1, 0.2, 0.5)  # IoU 0.5 with PERSON, exactly
    assert score_frame([(0.9, half)], [PERSON]) == Score(1, 0, 0)
    assert score_frame([(0.9, (0.1, 0.1, 0.199, 0.5))], [PERSON]) == Score(0, 1, 1)


def test_each_truth_box_is_matched_once_best_score_first():
    second = (0.1, 0.12, 0.3, 0.5)
    # the duplicate of a matched person is a false positive, whichever order the detections come in
    assert score_frame([(0.6, second), (0.9, PERSON)], [PERSON]) == Score(1, 1, 0)
    assert score_frame([], [PERSON, (0.5, 0.5, 0.7, 0.9)]) == Score(0, 0, 2)
    # a detection takes the truth box it overlaps most, leaving the other for the next detection
    near, far = (0.1, 0.1, 0.3, 0.5), (0.2, 0.1, 0.4, 0.5)
    assert score_frame([(0.9, far), (0.8, near)], [near, far]) == Score(2, 0, 0)


def test_scores_add_up_over_the_frames():
    truth = {1: [PERSON], 2: [PERSON, (0.5, 0.5, 0.7, 0.9)]}
    total = score_set(lambda frame: [(0.9, PERSON)] if frame == 1 else [(0.8, (0.6, 0.0, 0.9, 0.2))], truth)
    assert total == Score(1, 1, 2)
    assert (total.recall, total.precision) == (1 / 3, 1 / 2)


def test_the_gate_holds_at_one_point_lost_and_not_beyond():
    reference = Score(100, 0, 100)  # recall 50 %, precision 100 %
    assert GateResult(0.5, reference, Score(98, 0, 102)).holds  # recall -1.0 point
    assert not GateResult(0.5, reference, Score(97, 0, 103)).holds  # -1.5
    assert GateResult(0.5, Score(99, 1, 1), Score(98, 2, 2)).holds  # precision 99 -> 98
    assert not GateResult(0.5, Score(99, 1, 1), Score(97, 3, 3)).holds
    assert GateResult(0.5, reference, Score(120, 0, 80)).holds  # better is fine


def test_the_evaluation_set_never_meets_the_calibration_frames():
    document, truth = load_eval_set()
    assert len(truth) == 40 and sum(map(len, truth.values())) == 223
    assert not set(truth) & set(card.INT8_CALIBRATION_FRAMES)
    assert document["source"]["sha256"] == "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf"
    for boxes in truth.values():
        for x1, y1, x2, y2 in boxes:
            assert 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1
