"""Track-to-detection assignment: exact on clusters, the same answer as trying every matching."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from event_tracker import assignment
from event_tracker.assignment import assign, iou_matrix


def best_total(iou: np.ndarray, minimum: float) -> float:
    """The highest total IoU of any matching whose pairs are all at least ``minimum`` (every matching tried)."""
    rows, columns = iou.shape

    def best(row: int, used: frozenset[int]) -> float:
        if row == rows:
            return 0.0
        options = [best(row + 1, used)]
        options += [iou[row, c] + best(row + 1, used | {c}) for c in range(columns)
                    if c not in used and iou[row, c] >= minimum]
        return max(options)

    return best(0, frozenset())


def is_matching(pairs: list[tuple[int, int]], iou: np.ndarray, minimum: float) -> bool:
    rows = [r for r, _ in pairs]
    columns = [c for _, c in pairs]
    return len(set(rows)) == len(rows) and len(set(columns)) == len(columns) and all(
        iou[r, c] >= minimum for r, c in pairs)


def test_iou_of_boxes():
    boxes = np.array([[0.0, 0.0, 0.2, 0.2], [0.1, 0.0, 0.3, 0.2], [0.5, 0.5, 0.6, 0.6]])
    iou = iou_matrix(boxes, boxes)
    assert np.allclose(np.diag(iou), 1.0)
    assert iou[0, 1] == pytest.approx(0.02 / 0.06)
    assert iou[0, 2] == 0.0
    assert iou_matrix(boxes, np.zeros((0, 4))).shape == (3, 0)
    assert iou_matrix(np.array([[0.1, 0.1, 0.1, 0.3]]), np.array([[0.1, 0.1, 0.1, 0.3]]))[0, 0] == 0.0  # no area


def test_the_best_total_wins_over_the_best_single_pair():
    # greedy would take (0, 0) = 0.6 and leave track 1 without a detection
    iou = np.array([[0.6, 0.5], [0.55, 0.0]])
    pairs, rows_left, columns_left = assign(iou, 0.2)
    assert pairs == [(0, 1), (1, 0)] and rows_left == [] and columns_left == []


def test_pairs_under_the_minimum_are_left_unpaired():
    iou = np.array([[0.9, 0.0, 0.0], [0.0, 0.15, 0.0]])
    pairs, rows_left, columns_left = assign(iou, 0.2)
    assert pairs == [(0, 0)] and rows_left == [1] and columns_left == [1, 2]


def test_an_empty_side_pairs_nothing():
    assert assign(np.zeros((0, 3)), 0.2) == ([], [], [0, 1, 2])
    assert assign(np.zeros((2, 0)), 0.2) == ([], [0, 1], [])


def test_a_dense_cluster_beyond_the_exact_size_is_still_a_valid_matching(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(assignment, "MAX_EXACT", 2)
    iou = np.array([[0.6, 0.5, 0.3], [0.55, 0.0, 0.4], [0.3, 0.35, 0.3]])
    pairs, _, _ = assign(iou, 0.2)
    assert is_matching(pairs, iou, 0.2) and len(pairs) == 3
    assert pairs[0] == (0, 0)  # greedy: the best pair first


@settings(max_examples=200, deadline=None)
@given(iou=arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 5)),
                  elements=st.sampled_from([0.0, 0.0, 0.0, 0.1, 0.25, 0.3, 0.5, 0.55, 0.7, 0.9, 1.0])),
       minimum=st.sampled_from([0.2, 0.3, 0.5]))
def test_assignment_is_the_best_of_every_possible_matching(iou: np.ndarray, minimum: float):
    pairs, rows_left, columns_left = assign(iou, minimum)
    assert is_matching(pairs, iou, minimum)
    assert sum(iou[r, c] for r, c in pairs) == pytest.approx(best_total(iou, minimum))
    assert sorted(rows_left + [r for r, _ in pairs]) == list(range(iou.shape[0]))
    assert sorted(columns_left + [c for _, c in pairs]) == list(range(iou.shape[1]))


def test_a_dense_cluster_wider_than_tall_pairs_the_right_columns(monkeypatch: pytest.MonkeyPatch):
    # more detections than tracks: a flat index must be split by the column count, not the row count
    monkeypatch.setattr(assignment, "MAX_EXACT", 2)
    iou = np.array([[0.3, 0.25, 0.9], [0.4, 0.8, 0.35]])
    pairs, rows_left, columns_left = assign(iou, 0.2)
    assert pairs == [(0, 2), (1, 1)] and rows_left == [] and columns_left == [0]
