"""A derivative-free trust-region search with quadratic models, in the unit cube.

For small budgets on smooth problems, model-based local search (Powell's NEWUOA and
BOBYQA, Conn, Scheinberg & Vicente's book) needs far fewer evaluations than an evolution
strategy: each step goes to the minimiser of a quadratic fitted to the points already
seen, inside a ball (the trust region) whose radius grows when the model predicted the
actual decrease well and shrinks when it did not. This is a compact version:

- the first model is built from the centre and ``2 dim`` points one radius away along
  each axis (enough for a separable quadratic);
- each model is a least-squares quadratic (full when there are enough points, separable
  otherwise; :mod:`krystal.optimize._model`) over the points nearest the incumbent;
- after a step that disappointed, one extra point in a random direction at the current
  radius keeps the sample well spread, so the next model is not built on a line;
- the search ends when the radius falls below ``min_radius`` or a run of steps brings no
  improvement; the owner then moves on (in :class:`krystal.optimize.Auto`, to CMA-ES).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from operator import mul

from krystal.kernel.rng import Rng
from krystal.optimize._model import FULL_MODEL_MAX_DIM, fit_quadratic, trust_region_step

LOCAL_REACH = 10.0  # model points lie within this many radii of the incumbent
LOCAL_WINDOW = 100  # and among the most recent evaluations (bounds the cost per step)


class TrustRegion:
    """Minimise a cost from ``start`` in the unit cube, one proposal at a time.

    >>> tr = TrustRegion([0.5, 0.5], Rng(0))
    >>> while not tr.done:
    ...     u = tr.propose()
    ...     tr.observe(u, (u[0] - 0.3) ** 2 + 4 * (u[1] - 0.8) ** 2 + u[0] * u[1])
    >>> [round(v, 4) for v in tr.best], tr.evaluations < 60
    ([0.0, 0.8], True)
    """

    def __init__(
        self,
        start: Sequence[float],
        rng: Rng,
        radius: float = 0.2,
        min_radius: float = 1e-7,
        patience: int = 0,
    ) -> None:
        self.dim = n = len(start)
        self.rng = rng
        self.radius = radius
        self.min_radius = min_radius
        self.patience = patience or 5 * n + 10
        self.best = [min(1.0, max(0.0, v)) for v in start]
        self.best_cost = math.inf
        self.points: list[tuple[list[float], float]] = []
        self.evaluations = 0
        self.done = False
        self._queue: list[list[float]] = [list(self.best)]
        for d in range(n):
            for sign in (1.0, -1.0):
                self._queue.append(self._offset(self.best, d, sign * radius))
        self._pending_step: tuple[list[float], float] | None = None  # (point, predicted gain)
        self._stale = 0
        self._centre, self._previous = list(self.best), math.inf

    def _offset(self, base: list[float], d: int, delta: float) -> list[float]:
        point = list(base)
        target = base[d] + delta
        # Mirror a step that would leave the cube, so every axis point is distinct.
        point[d] = target if 0.0 <= target <= 1.0 else base[d] - delta
        point[d] = min(1.0, max(0.0, point[d]))
        return point

    def propose(self) -> list[float]:
        """The next point to evaluate."""
        if self._queue:
            return list(self._queue[0])
        step = self._model_step()
        if step is None:
            return self._spread_point()
        self._pending_step = step
        return list(step[0])

    def observe(self, point: Sequence[float], cost: float) -> None:
        """Report the cost of the point from the last :meth:`propose`."""
        point = list(point)
        self.evaluations += 1
        self.points.append((point, cost))
        if self._queue and self._queue[0] == point:
            self._queue.pop(0)
        improved = cost < self.best_cost
        if improved:
            self.best, self.best_cost = point, cost
        step, self._pending_step = self._pending_step, None
        if step is not None and step[0] == point:
            actual = self._previous - cost
            ratio = actual / step[1] if step[1] > 0.0 else -1.0
            length = math.sqrt(sum((a - b) ** 2 for a, b in zip(point, self._centre)))
            if ratio >= 0.75 and length >= 0.9 * self.radius:
                self.radius = min(0.5, 2.0 * self.radius)
            elif ratio < 0.25:
                self.radius *= 0.5
        self._stale = 0 if improved else self._stale + 1
        if self.radius < self.min_radius or self._stale >= self.patience:
            self.done = True

    def _spread_point(self) -> list[float]:
        direction = [self.rng.gauss() for _ in range(self.dim)]
        norm = math.sqrt(sum(v * v for v in direction)) or 1.0
        return [
            min(1.0, max(0.0, self.best[d] + self.radius * direction[d] / norm))
            for d in range(self.dim)
        ]

    def _model_step(self) -> tuple[list[float], float] | None:
        n, centre, radius = self.dim, self.best, self.radius
        extra = max(2, n // 2)
        full_size = (n + 1) * (n + 2) // 2
        # Only points near the incumbent describe it; far ones would bend the model.
        reach = (LOCAL_REACH * radius) ** 2
        near = []
        for x, c in self.points[-LOCAL_WINDOW:]:
            diff = [a - b for a, b in zip(x, centre)]
            distance = sum(map(mul, diff, diff))
            if distance <= reach:
                near.append((distance, diff, c))
        near.sort(key=lambda item: item[0])
        local = [([v / radius for v in diff], c) for _, diff, c in near]
        count = len(local)
        full: bool | None
        if n <= FULL_MODEL_MAX_DIM and count >= full_size + extra:
            full, size = True, full_size + extra
        elif count >= 2 * n + 1 + extra:
            full, size = False, 2 * n + 1 + extra
        elif count >= n + 3:
            full, size = None, n + 3
        else:
            return None  # too few points near the incumbent: sample one more
        nearest = local[:size]
        fitted = fit_quadratic([z for z, _ in nearest], [c for _, c in nearest], full)
        if fitted is None:
            return None
        g, h, _ = fitted
        w = trust_region_step(g, h, 1.0)
        gain = -(sum(a * b for a, b in zip(g, w)))
        gain -= 0.5 * sum(w[i] * h[i][j] * w[j] for i in range(n) for j in range(n))
        point = [min(1.0, max(0.0, centre[d] + radius * w[d])) for d in range(n)]
        if gain <= 0.0 or point == centre:
            return None
        self._centre, self._previous = list(centre), self.best_cost
        return point, gain
