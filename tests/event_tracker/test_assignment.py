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


def reference_iou(a: np.ndarray, b: np.ndarray) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - width * height
    return width * height / union if union > 0 else 0.0


def test_iou_matrix_is_the_iou_of_each_pair_for_boxes_of_any_shape():
    # wide and tall boxes, overlapping or apart in x, in y or both: every corner must come from its own column
    rng = np.random.default_rng(7)
    corners = rng.uniform(0, 0.6, (16, 2))
    boxes = np.concatenate([corners, corners + rng.uniform(0.02, 0.4, (16, 2))], axis=1)
    iou = iou_matrix(boxes[:6], boxes[6:])
    np.testing.assert_allclose(iou, [[reference_iou(a, b) for b in boxes[6:]] for a in boxes[:6]])
    assert 0 < np.count_nonzero(iou) < iou.size


@pytest.mark.parametrize("other", [
    [0.5, 0.0, 0.7, 0.4],  # beside it: apart in x, overlapping in y
    [0.0, 0.5, 0.4, 0.7],  # below it: apart in y, overlapping in x
    [0.5, 0.5, 0.7, 0.7],  # apart in both
])
def test_boxes_apart_have_an_iou_of_zero_not_below(other: list[float]):
    assert iou_matrix(np.array([[0.0, 0.0, 0.4, 0.4]]), np.array([other])).tolist() == [[0.0]]


@pytest.mark.parametrize("count", [2, 3, 5])
def test_equal_overlaps_go_to_the_first_track_and_the_first_detection(count: int):
    # Detections come best score first and tracks oldest first: a track between two identical boxes (one
    # object seen as two classes) takes the better-scoring one; of tracks equally on one detection, the oldest.
    assert assign(np.full((1, count), 0.5), 0.2)[0] == [(0, 0)]
    assert assign(np.full((count, 1), 0.5), 0.2)[0] == [(0, 0)]


def chained_traps(blocks: int, extra_column: bool) -> np.ndarray:
    """One cluster of ``blocks`` 2x2 traps [[0.6, 0.5], [0.55, 0]] (greedy takes the 0.6 and strands the
    0.55; the best total is 0.5 + 0.55), each trap's second row linked to the next trap's second column."""
    size = 2 * blocks
    iou = np.zeros((size, size + extra_column))
    for k in range(blocks):
        r = 2 * k
        iou[r, r], iou[r, r + 1], iou[r + 1, r] = 0.6, 0.5, 0.55
        if k + 1 < blocks:
            iou[r + 1, r + 3] = 0.21
    if extra_column:
        iou[size - 1, size] = 0.21
    return iou


def test_clusters_up_to_16_wide_are_solved_exactly_and_wider_ones_greedily():
    exact, _, _ = assign(chained_traps(8, extra_column=False), 0.2)  # 16 x 16
    assert exact == sorted([(2 * k, 2 * k + 1) for k in range(8)] + [(2 * k + 1, 2 * k) for k in range(8)])
    greedy, rows_left, columns_left = assign(chained_traps(8, extra_column=True), 0.2)  # 16 x 17
    assert greedy == sorted([(2 * k, 2 * k) for k in range(8)] + [(2 * k + 1, 2 * k + 3) for k in range(7)]
                            + [(15, 16)])
    assert rows_left == [] and columns_left == [1]
