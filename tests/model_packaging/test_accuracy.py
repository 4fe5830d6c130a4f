"""How a detector is scored against the labeled evaluation set, and what the gate lets through."""

from __future__ import annotations

import pytest

from model_packaging import model_card as card
from model_packaging.accuracy import (
    EVAL_SET,
    GateResult,
    Score,
    average_precision,
    iou,
    load_eval_set,
    matches,
    score_frame,
    score_set,
)
from model_packaging.eval_images import ShippedSources

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
    images = load_eval_set()
    assert len(images) == 44 and sum(len(image.boxes) for image in images) == 227
    sources = ShippedSources(EVAL_SET.parent / "sources.json")
    video = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
    frames = [origin["frame"] for origin in sources.objects.values() if origin.get("video") == video]
    assert len(frames) == 40 and not set(frames) & set(card.INT8_CALIBRATION_FRAMES)
    assert sources.files[video]["sha256"] == "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf"
    assert {ref.removeprefix("s3://smartcam-eval/") for ref in (image.source_ref for image in images)} == set(
        sources.objects)


def test_a_second_detection_of_a_found_person_is_a_false_positive_whatever_its_score():
    assert matches([(0.6, PERSON), (0.9, PERSON)], [PERSON]) == [(0.9, True), (0.6, False)]
    assert matches([(0.7, PERSON)], []) == [(0.7, False)]


def test_ap_of_a_perfect_detector_is_one_and_of_a_blind_one_zero():
    assert average_precision([(0.9, True), (0.8, True)], 2) == 1.0
    assert average_precision([], 2) == 0.0
    assert average_precision([(0.9, False)], 1) == 0.0
    assert average_precision([(0.9, False)], 0) is None  # nothing to find: AP is undefined, not 0 or 1


def test_ap_is_the_area_under_the_monotone_precision_recall_curve():
    # PR points: (1/2, 1), (1/2, 1/2), (1, 2/3); the envelope lifts the dip: 1/2 * 1 + 1/2 * 2/3
    assert average_precision([(0.9, True), (0.8, False), (0.7, True)], 2) == pytest.approx(5 / 6)
    # a false positive ranked first caps precision over the whole curve at the best that follows: 2/3
    assert average_precision([(0.9, False), (0.8, True), (0.7, True)], 2) == pytest.approx(2 / 3)
    # recall that is never reached adds nothing: one of four found, at precision 1
    assert average_precision([(0.9, True), (0.1, False)], 4) == pytest.approx(1 / 4)
