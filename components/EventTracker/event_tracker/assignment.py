"""Which track takes which detection: the pairs of highest total IoU, each at least a minimum IoU.

SciPy's ``linear_sum_assignment`` (or ``lap``, which ByteTrack uses) would solve the whole matrix, but
neither is in the device's requirements, and SciPy alone would add about 100 MB to every device's
venv for one function. The matrix is sparse instead: a track overlaps the one or two detections near
it. Tracks and detections linked by an IoU at or above the minimum fall into small clusters (almost
always one track and one detection, two or three where people cross), and each cluster is solved
exactly by the Hungarian method in plain Python, O(n^3) in the cluster's size, not the frame's.
A cluster larger than ``MAX_EXACT`` (a dense crowd) is matched greedily, best IoU first.
"""

from __future__ import annotations

import numpy as np

MAX_EXACT = 16

Pairs = list[tuple[int, int]]


def iou_matrix(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """IoU of every box of (N, 4) ``first`` with every box of (M, 4) ``second`` (corners x1, y1, x2, y2)."""
    if not len(first) or not len(second):
        return np.zeros((len(first), len(second)))
    left = np.maximum(first[:, None, 0], second[None, :, 0])
    top = np.maximum(first[:, None, 1], second[None, :, 1])
    right = np.minimum(first[:, None, 2], second[None, :, 2])
    bottom = np.minimum(first[:, None, 3], second[None, :, 3])
    overlap = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    area_first = (first[:, 2] - first[:, 0]) * (first[:, 3] - first[:, 1])
    area_second = (second[:, 2] - second[:, 0]) * (second[:, 3] - second[:, 1])
    union = area_first[:, None] + area_second[None, :] - overlap
    return np.divide(overlap, union, out=np.zeros_like(overlap), where=union > 0)


def assign(iou: np.ndarray, minimum: float) -> tuple[Pairs, list[int], list[int]]:
    """Pairs (row, column) of highest total IoU, each pair's IoU at least ``minimum`` (> 0); then the
    rows and the columns left without a partner, in ascending order."""
    rows, columns = iou.shape
    linked = iou >= minimum
    linked_rows, linked_columns = np.nonzero(linked)
    # A link whose row and column have no other link is a pair as it is: by far the most common case.
    alone = (linked.sum(axis=1)[linked_rows] == 1) & (linked.sum(axis=0)[linked_columns] == 1)
    pairs: Pairs = list(zip(linked_rows[alone].tolist(), linked_columns[alone].tolist(), strict=True))
    shared_rows, shared_columns = linked_rows[~alone].tolist(), linked_columns[~alone].tolist()
    for cluster_rows, cluster_columns in _clusters(shared_rows, shared_columns, rows):
        sub = iou[np.ix_(cluster_rows, cluster_columns)]
        sub = np.where(sub >= minimum, sub, 0.0)  # a pair under the minimum must not win over an allowed one
        chosen = _hungarian(sub) if max(sub.shape) <= MAX_EXACT else _greedy(sub)
        pairs += [(cluster_rows[r], cluster_columns[c]) for r, c in chosen if sub[r, c] >= minimum]
    pairs.sort()
    paired_rows = {r for r, _ in pairs}
    paired_columns = {c for _, c in pairs}
    return (pairs, [r for r in range(rows) if r not in paired_rows],
            [c for c in range(columns) if c not in paired_columns])


def _clusters(rows: list[int], columns: list[int], row_count: int) -> list[tuple[list[int], list[int]]]:
    """Connected parts of the bipartite graph of the links (row i is node i, column j is node row_count + j)."""
    parent: dict[int, int] = {}

    def root(node: int) -> int:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for row, column in zip(rows, columns, strict=True):
        a, b = root(row), root(row_count + column)
        if a != b:
            parent[a] = b
    groups: dict[int, tuple[list[int], list[int]]] = {}
    for node in sorted(parent):
        group = groups.setdefault(root(node), ([], []))
        if node < row_count:
            group[0].append(node)
        else:
            group[1].append(node - row_count)
    return list(groups.values())


def _hungarian(score: np.ndarray) -> Pairs:
    """Maximum total ``score`` assignment of a small dense matrix (rows <= columns or not), exact.

    The shortest augmenting path form of the Hungarian method with potentials (Kuhn-Munkres,
    O(n^2 m)), on costs ``1 - score`` padded to square; padded pairs are dropped."""
    size = max(score.shape)
    cost = np.ones((size, size))
    cost[: score.shape[0], : score.shape[1]] = 1.0 - score
    table = cost.tolist()
    infinity = float("inf")
    row_potential = [0.0] * (size + 1)
    column_potential = [0.0] * (size + 1)
    owner = [0] * (size + 1)  # owner[j]: the row (1-based) holding column j; 0 = free
    way = [0] * (size + 1)
    for row in range(1, size + 1):
        owner[0] = row
        column = 0
        least = [infinity] * (size + 1)
        used = [False] * (size + 1)
        while True:
            used[column] = True
            current_row = owner[column]
            delta, next_column = infinity, 0
            costs = table[current_row - 1]
            for j in range(1, size + 1):
                if not used[j]:
                    reduced = costs[j - 1] - row_potential[current_row] - column_potential[j]
                    if reduced < least[j]:
                        least[j], way[j] = reduced, column
                    if least[j] < delta:
                        delta, next_column = least[j], j
            for j in range(size + 1):
                if used[j]:
                    row_potential[owner[j]] += delta
                    column_potential[j] -= delta
                else:
                    least[j] -= delta
            column = next_column
            if owner[column] == 0:
                break
        while column:
            previous = way[column]
            owner[column] = owner[previous]
            column = previous
    rows, columns = score.shape
    return [(owner[j] - 1, j - 1) for j in range(1, size + 1) if owner[j] - 1 < rows and j - 1 < columns]


def _greedy(score: np.ndarray) -> Pairs:
    """Highest score first, each row and column once: near the optimum when boxes barely overlap."""
    order = np.argsort(-score, axis=None, kind="stable")
    taken_rows: set[int] = set()
    taken_columns: set[int] = set()
    pairs: Pairs = []
    for flat in order.tolist():
        row, column = divmod(flat, score.shape[1])
        if row not in taken_rows and column not in taken_columns:
            taken_rows.add(row)
            taken_columns.add(column)
            pairs.append((row, column))
    return pairs
