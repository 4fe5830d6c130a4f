"""The batched constant-velocity box filter: converges on a steady walk, in seconds not frames."""

from __future__ import annotations

import numpy as np
import pytest

from event_tracker import kalman
from tests.event_tracker.helpers import PERSON, frame_times, walk

NOISE = kalman.BoxNoise()


def follow(boxes: list, times: list[float]) -> tuple[np.ndarray, np.ndarray]:
    mean, spread = kalman.initiate(np.array([boxes[0]]), NOISE)
    for previous, at, box in zip(times, times[1:], boxes[1:], strict=False):
        mean, spread = kalman.predict(mean, spread, at - previous, NOISE)
        mean, spread = kalman.update(mean, spread, np.array([box]), NOISE)
    return mean, spread


def textbook(boxes: list, times: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """The same filter in the 8 x 8 matrix form: x' = F x, P' = F P F^T + Q; K = P H^T (H P H^T + R)^-1."""
    z = kalman.boxes_to_measurements(np.array(boxes))
    x = np.concatenate([z[0], np.zeros(4)])
    scale = np.array([z[0][2], z[0][3], z[0][2], z[0][3]])
    P = np.diag(np.concatenate([(2 * NOISE.measurement * scale) ** 2, (NOISE.initial_velocity * scale) ** 2]))
    H = np.hstack([np.eye(4), np.zeros((4, 4))])
    for previous, at, measured in zip(times, times[1:], z[1:], strict=False):
        dt = at - previous
        F = np.eye(8)
        F[:4, 4:] = dt * np.eye(4)
        scale = np.array([x[2], x[3], x[2], x[3]])
        Q = np.diag(np.concatenate([(NOISE.position * scale) ** 2, (NOISE.velocity * scale) ** 2]) * dt)
        x, P = F @ x, F @ P @ F.T + Q
        R = np.diag((NOISE.measurement * np.array([x[2], x[3], x[2], x[3]])) ** 2)
        K = P @ H.T @ np.linalg.inv(H @ P @ H.T + R)
        x, P = x + K @ (measured - H @ x), (np.eye(8) - K @ H) @ P
    return x, P


def test_the_per_coordinate_filter_is_the_matrix_filter():
    random = np.random.default_rng(11)
    times = sorted(random.uniform(0, 6, 40).tolist())  # irregular gaps
    boxes = [tuple(np.array(box) + random.normal(0, 0.004, 4)) for box in walk(PERSON, (0.06, -0.01), times)]
    mean, spread = follow(boxes, times)
    x, P = textbook(boxes, times)
    assert np.allclose(mean[0], x, atol=1e-12)
    for coordinate in range(4):
        block = P[np.ix_([coordinate, coordinate + 4], [coordinate, coordinate + 4])]
        assert np.allclose(block, [[spread[0, 0, coordinate], spread[0, 1, coordinate]],
                                   [spread[0, 1, coordinate], spread[0, 2, coordinate]]], rtol=1e-9, atol=1e-15)
    off_blocks = P.copy()
    for coordinate in range(4):
        off_blocks[np.ix_([coordinate, coordinate + 4], [coordinate, coordinate + 4])] = 0
    assert np.allclose(off_blocks, 0)  # nothing couples two coordinates: the blocks are all there is


def test_corners_and_states_convert_both_ways():
    boxes = np.array([[0.1, 0.2, 0.3, 0.6], [0.5, 0.5, 0.52, 0.58]])
    assert kalman.boxes_to_measurements(boxes)[0] == pytest.approx([0.2, 0.4, 0.2, 0.4])
    mean, spread = kalman.initiate(boxes, NOISE)
    assert mean.shape == (2, 8) and spread.shape == (2, 3, 4)
    assert np.allclose(kalman.states_to_boxes(mean), boxes)
    assert np.all(mean[:, 4:] == 0)


def test_a_steady_walk_is_learned_and_predicted():
    times = frame_times(30, fps=10)
    boxes = walk(PERSON, (0.1, 0.02), times)
    mean, spread = follow(boxes, times)
    assert mean[0, 4:6] == pytest.approx([0.1, 0.02], abs=0.01)
    ahead, _ = kalman.predict(mean, spread, 0.5, NOISE)
    expected = walk(PERSON, (0.1, 0.02), [times[-1] + 0.5])[0]
    assert kalman.states_to_boxes(ahead)[0] == pytest.approx(expected, abs=0.01)


def test_the_same_walk_seen_at_2_and_at_20_fps_gives_the_same_velocity():
    slow_times, fast_times = frame_times(8, fps=2), frame_times(70, fps=20)
    slow, _ = follow(walk(PERSON, (0.08, 0.0), slow_times), slow_times)
    fast, _ = follow(walk(PERSON, (0.08, 0.0), fast_times), fast_times)
    assert slow[0, 4] == pytest.approx(0.08, abs=0.01)
    assert fast[0, 4] == pytest.approx(0.08, abs=0.01)


def test_uncertainty_grows_with_the_time_unobserved():
    mean, spread = follow(walk(PERSON, (0.1, 0.0), frame_times(10)), frame_times(10))
    _, short = kalman.predict(mean, spread, 0.1, NOISE)
    _, long = kalman.predict(mean, spread, 2.0, NOISE)
    assert np.all(long[0, 0] > 10 * short[0, 0])


def test_a_batch_is_filtered_like_each_track_alone():
    random = np.random.default_rng(5)
    corners = np.sort(random.uniform(0, 1, (6, 2, 2)), axis=2)  # per track: [x1 x2], [y1 y2]
    boxes = corners.transpose(0, 2, 1).reshape(6, 4)  # x1 y1 x2 y2
    mean, spread = kalman.initiate(boxes, NOISE)
    moved = boxes + random.normal(0, 0.01, boxes.shape)
    batch = kalman.update(*kalman.predict(mean, spread, 0.2, NOISE), moved, NOISE)
    for i in range(6):
        alone = kalman.update(*kalman.predict(mean[i:i + 1], spread[i:i + 1], 0.2, NOISE), moved[i:i + 1], NOISE)
        assert np.allclose(batch[0][i], alone[0][0]) and np.allclose(batch[1][i], alone[1][0])


def test_variances_stay_positive_over_a_long_track():
    times = frame_times(500, fps=10)
    random = np.random.default_rng(2)
    boxes = [tuple(np.array(box) + random.normal(0, 0.003, 4)) for box in walk(PERSON, (0.001, 0.0), times)]
    _, spread = follow(boxes, times)
    position, covariance, velocity = spread[0]
    assert np.all(position > 0) and np.all(velocity > 0)
    assert np.all(position * velocity - covariance**2 > 0)  # each 2 x 2 block positive definite


def test_a_box_shrinking_fast_never_predicts_a_negative_size():
    mean, spread = kalman.initiate(np.array([PERSON]), NOISE)
    mean[0, 6:8] = -1.0  # shrinking by a whole frame per second
    predicted, _ = kalman.predict(mean, spread, 2.0, NOISE)
    x1, y1, x2, y2 = kalman.states_to_boxes(predicted)[0]
    assert x2 > x1 and y2 > y1
