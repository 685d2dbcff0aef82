"""Collision-free transit for the pusher: a distance field on a grid, then line-of-sight shortcutting.

The field is a Dijkstra-like wavefront (8-connected, diagonal cost sqrt(2)) relaxed with whole-array numpy
shifts (no Python loop over cells), so planning every step stays cheap; it is cached until the goal or an
obstacle moves.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

_SHIFTS = [(dy, dx, np.hypot(dy, dx)) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]


class GridPlanner:
    def __init__(self, half_extent: float, resolution: float = 0.01):
        self.half = half_extent
        self.res = resolution
        n = int(round(2 * half_extent / resolution)) + 1
        axis = np.linspace(-half_extent, half_extent, n)
        self.xs, self.ys = np.meshgrid(axis, axis)  # [row=y, col=x]
        self._key = None
        self._field = None

    def _cell(self, p: np.ndarray) -> tuple[int, int]:
        col, row = np.clip(np.round((np.asarray(p) + self.half) / self.res).astype(int), 0, self.xs.shape[0] - 1)
        return int(row), int(col)

    def _free(self, obstacles: Sequence[np.ndarray], radii: np.ndarray) -> np.ndarray:
        free = np.ones(self.xs.shape, dtype=bool)
        for c, r in zip(obstacles, radii):
            free &= np.hypot(self.xs - c[0], self.ys - c[1]) >= r
        return free

    def _distance_field(self, goal_cell, free: np.ndarray) -> np.ndarray:
        field = np.full(free.shape, np.inf)
        field[goal_cell] = 0.0
        while True:
            padded = np.pad(field, 1, constant_values=np.inf)
            h, w = field.shape
            best = field
            for dy, dx, cost in _SHIFTS:
                best = np.minimum(best, padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] + cost)
            best = np.where(free, best, np.inf)
            best[goal_cell] = 0.0
            if np.array_equal(best, field):
                return field
            field = best

    @staticmethod
    def segment_clear(a: np.ndarray, b: np.ndarray, obstacles: Sequence[np.ndarray], radius) -> bool:
        ab = b - a
        L2 = float(ab @ ab)
        for c, r in zip(obstacles, np.broadcast_to(radius, (len(obstacles),))):
            t = 0.0 if L2 < 1e-12 else float(np.clip((c - a) @ ab / L2, 0.0, 1.0))
            if np.linalg.norm(a + t * ab - c) < r:
                return False
        return True

    def waypoint(self, start: np.ndarray, goal: np.ndarray, obstacles: Sequence[np.ndarray], radius) -> np.ndarray | None:
        """The farthest point along a shortest free path from start to goal that start can see directly.

        `radius` is one clearance for all obstacles or one per obstacle. None when there is no free path (the
        goal is inside an obstacle's clearance, or boxed in): the caller then decides what to do.
        """
        start, goal = np.asarray(start, float), np.asarray(goal, float)
        radius = np.broadcast_to(np.asarray(radius, float), (len(obstacles),))
        if self.segment_clear(start, goal, obstacles, radius):
            return goal
        key = (self._cell(goal), tuple(tuple(np.round(np.asarray(c) / self.res).astype(int)) for c in obstacles),
               tuple(np.round(radius, 4)))
        if key != self._key:
            free = self._free(obstacles, radius)
            if not free[self._cell(goal)]:
                return None
            self._field = self._distance_field(self._cell(goal), free)
            self._key = key
        field = self._field
        cell = self._cell(start)
        if not np.isfinite(field[cell]):
            # start inside an inflated obstacle: step to the best free neighbour cell
            r, c = cell
            window = field[max(r - 3, 0) : r + 4, max(c - 3, 0) : c + 4]
            if not np.isfinite(window).any():
                return None
            i, j = np.unravel_index(np.argmin(window), window.shape)
            cell = (max(r - 3, 0) + i, max(c - 3, 0) + j)
            return np.array([self.xs[cell], self.ys[cell]])
        path = [cell]
        h, w = field.shape
        while field[cell] > 0 and len(path) < h * w:
            r, c = cell
            nbrs = [(r + dy, c + dx) for dy, dx, _ in _SHIFTS if 0 <= r + dy < h and 0 <= c + dx < w]
            nxt = min(nbrs, key=lambda rc: field[rc] + np.hypot(rc[0] - r, rc[1] - c))
            if field[nxt] >= field[cell]:
                break
            cell = nxt
            path.append(cell)
        points = [np.array([self.xs[p], self.ys[p]]) for p in path] + [goal]
        for p in reversed(points):
            if self.segment_clear(start, p, obstacles, radius * 0.98):
                return p
        return points[1] if len(points) > 1 else goal
