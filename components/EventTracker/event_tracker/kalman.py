"""Constant-velocity Kalman filter of boxes, batched over the tracks of one camera.

State per track: center, width and height of the box and their rates of change per second
``(cx, cy, w, h, vcx, vcy, vw, vh)``, in normalized frame coordinates. Time is in seconds, not frames:
frames reach the tracker at a varying rate (a gated camera sends a keep-alive frame now and then,
a busy device drops frames), so the prediction moves each box by its velocity times the real gap and
the uncertainty grows with it. Noise scales with the box's size, as in SORT and ByteTrack: a near,
large person moves more of the frame per second than a far, small one.

The transition, the measurement and both noises treat the four coordinates alike and apart, so the
8 x 8 covariance of the textbook filter is four independent 2 x 2 blocks, one per coordinate. The
filter keeps just those as ``spread`` (N, 3, 4): the variance of each coordinate, its covariance
with its velocity, and the variance of the velocity. Every step is then a few element-wise NumPy
operations on (N, 4) arrays, the same numbers as the matrix form (the tests check it against one)
at a fraction of the cost for the handful of tracks a camera has.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COORDINATES = 4
# A box never shrinks below this side (normalized) in a prediction: a box of zero size has no IoU.
MIN_SIDE = 1e-4
POSITION, COVARIANCE, VELOCITY = 0, 1, 2  # rows of ``spread``


@dataclass(frozen=True)
class BoxNoise:
    """Standard deviations relative to the box's width (x, w) or height (y, h).

    ``position`` and ``velocity`` are the random walk per square root of a second the model allows
    the position and the velocity (people start, stop and turn); ``measurement`` is a detector's
    jitter on one frame."""

    position: float = 0.05
    velocity: float = 0.5
    measurement: float = 0.05
    initial_velocity: float = 1.0  # a new track's speed is unknown: up to about one box size per second


def boxes_to_measurements(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) corners x1, y1, x2, y2 -> (N, 4) cx, cy, w, h."""
    return np.concatenate([(boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]], axis=1)


def states_to_boxes(mean: np.ndarray) -> np.ndarray:
    """(N, 8) states -> (N, 4) corners x1, y1, x2, y2 (not clipped to the frame: a box may leave it)."""
    half = np.maximum(mean[:, 2:4], MIN_SIDE) / 2
    return np.concatenate([mean[:, :2] - half, mean[:, :2] + half], axis=1)


def _scales(mean: np.ndarray) -> np.ndarray:
    """(N, 4) the size each coordinate's noise is relative to: w for cx and w, h for cy and h."""
    return np.maximum(mean[:, [2, 3, 2, 3]], MIN_SIDE)


def initiate(boxes: np.ndarray, noise: BoxNoise) -> tuple[np.ndarray, np.ndarray]:
    """New tracks from (N, 4) boxes: at rest, with the detector's uncertainty on the box."""
    measured = boxes_to_measurements(boxes)
    mean = np.concatenate([measured, np.zeros_like(measured)], axis=1)
    scale = _scales(mean)
    spread = np.zeros((len(boxes), 3, COORDINATES))
    spread[:, POSITION] = (2 * noise.measurement * scale) ** 2
    spread[:, VELOCITY] = (noise.initial_velocity * scale) ** 2
    return mean, spread


def predict(mean: np.ndarray, spread: np.ndarray, dt: float, noise: BoxNoise) -> tuple[np.ndarray, np.ndarray]:
    """The states ``dt`` seconds later (new arrays)."""
    scale = _scales(mean)
    predicted = mean.copy()
    predicted[:, :COORDINATES] += dt * mean[:, COORDINATES:]
    predicted[:, 2:4] = np.maximum(predicted[:, 2:4], MIN_SIDE)
    position, covariance, velocity = spread[:, POSITION], spread[:, COVARIANCE], spread[:, VELOCITY]
    grown = np.empty_like(spread)
    grown[:, POSITION] = position + 2 * dt * covariance + dt * dt * velocity + (noise.position * scale) ** 2 * dt
    grown[:, COVARIANCE] = covariance + dt * velocity
    grown[:, VELOCITY] = velocity + (noise.velocity * scale) ** 2 * dt
    return predicted, grown


def update(mean: np.ndarray, spread: np.ndarray, boxes: np.ndarray, noise: BoxNoise) -> tuple[np.ndarray, np.ndarray]:
    """The states corrected by the (N, 4) boxes matched to them (new arrays)."""
    position, covariance, velocity = spread[:, POSITION], spread[:, COVARIANCE], spread[:, VELOCITY]
    innovation_variance = position + (noise.measurement * _scales(mean)) ** 2
    gain_position = position / innovation_variance
    gain_velocity = covariance / innovation_variance
    innovation = boxes_to_measurements(boxes) - mean[:, :COORDINATES]
    corrected = np.concatenate([mean[:, :COORDINATES] + gain_position * innovation,
                                mean[:, COORDINATES:] + gain_velocity * innovation], axis=1)
    narrowed = np.empty_like(spread)
    narrowed[:, POSITION] = (1 - gain_position) * position
    narrowed[:, COVARIANCE] = (1 - gain_position) * covariance
    narrowed[:, VELOCITY] = velocity - gain_velocity * covariance
    return corrected, narrowed
