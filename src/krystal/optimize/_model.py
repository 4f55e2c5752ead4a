"""A local quadratic model of the cost, fitted in CMA-ES's own coordinates, and its
minimiser inside a trust region.

Evolution strategies converge linearly; a quadratic model of the points already evaluated
near the mean proposes a quasi-Newton step that converges much faster on smooth problems
(the idea behind lq-CMA-ES, Hansen 2019, and Nevergrad's MetaModel). Working in the
whitened coordinates ``z = D^-1 B^T (x - mean) / sigma`` of the current search
distribution makes the model well scaled, and because the distribution's covariance
already approximates the inverse Hessian there, a separable (diagonal) quadratic is a good
model in many dimensions. The full quadratic is fitted where it is cheap: its
``(n + 1)(n + 2) / 2`` coefficients cost cubic time in pure Python, so above
``FULL_MODEL_MAX_DIM`` the diagonal model is used.

The step is confined to the ball ``|z| <= radius`` of the distribution, so a poor model
can propose nothing worse than a far-out sample; it is injected into the population (one
of ``popsize``) and competes with the samples on its true cost.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from operator import mul

from krystal.optimize._linalg import Matrix, solve_spd, symmetric_eigen

FULL_MODEL_MAX_DIM = 6
CMA_FULL_MODEL_MAX_DIM = 6


def whiten(
    point: Sequence[float], mean: Sequence[float], sigma: float, axes: Matrix, scales: list[float]
) -> list[float]:
    """``D^-1 B^T (point - mean) / sigma``: the point in the distribution's coordinates.

    >>> z = whiten([0.7, 0.5], [0.5, 0.5], 0.1, [[0.0, 1.0], [1.0, 0.0]], [2.0, 1.0])
    >>> [round(v, 9) for v in z]
    [0.0, 2.0]
    """
    return _whitener(mean, sigma, axes, scales)(point)


def _whitener(
    mean: Sequence[float], sigma: float, axes: Matrix, scales: list[float]
) -> Callable[[Sequence[float]], list[float]]:
    n = len(mean)
    # Row j of B^T scaled by 1 / (sigma d_j): one C-level dot product per coordinate.
    rows = [[axes[i][j] / (sigma * scales[j]) for i in range(n)] for j in range(n)]

    def apply(point: Sequence[float]) -> list[float]:
        delta = [p - m for p, m in zip(point, mean)]
        return [sum(map(mul, row, delta)) for row in rows]

    return apply


def _features(z: Sequence[float], full: bool | None) -> list[float]:
    row = [1.0, *z]
    n = len(z)
    if full is None:  # linear
        return row
    if full:
        for i in range(n):
            zi = z[i]
            row.extend(zi * z[j] for j in range(i, n))
    else:
        row.extend(v * v for v in z)
    return row


def fit_quadratic(
    zs: Sequence[Sequence[float]], costs: Sequence[float], full: bool | None
) -> tuple[list[float], Matrix, float] | None:
    """Least-squares quadratic ``c + g.z + z.H.z / 2``; returns (g, H, c) or ``None``.

    ``full``: True for every product ``z_i z_j``, False for squares only (separable),
    None for a linear model (H = 0).

    >>> zs = [[a / 2.0, b / 2.0] for a in range(-2, 3) for b in range(-2, 3)]
    >>> costs = [3 * z[0] ** 2 + z[1] - z[0] * z[1] + 2 * z[1] ** 2 for z in zs]
    >>> g, h, c = fit_quadratic(zs, costs, True)
    >>> [round(v, 6) for v in g], [[round(v, 6) for v in row] for row in h]
    ([0.0, 1.0], [[6.0, -1.0], [-1.0, 4.0]])
    """
    n = len(zs[0])
    rows = [_features(z, full) for z in zs]
    p = len(rows[0])
    if len(rows) < p:
        return None
    # Centre and scale the costs so the ridge means the same on every problem.
    mid = sum(costs) / len(costs)
    spread = max(abs(c - mid) for c in costs) or 1.0
    ys = [(c - mid) / spread for c in costs]
    # X^T X by columns: map/sum keep the inner loops in C.
    columns = [list(column) for column in zip(*rows)]
    normal = [[0.0] * p for _ in range(p)]
    for a in range(p):
        ca = columns[a]
        for b in range(a + 1):
            normal[a][b] = normal[b][a] = sum(map(mul, ca, columns[b]))
    rhs = [sum(map(mul, column, ys)) for column in columns]
    scale = max(normal[a][a] for a in range(p)) or 1.0
    coef = solve_spd(normal, rhs, ridge=1e-9 * scale)
    if coef is None:
        return None
    coef = [c * spread for c in coef]
    intercept = coef[0] + mid
    g = coef[1 : n + 1]
    h = [[0.0] * n for _ in range(n)]
    k = n + 1
    if full is None:
        return g, h, intercept
    if full:
        for i in range(n):
            for j in range(i, n):
                if i == j:
                    h[i][i] = 2.0 * coef[k]
                else:
                    h[i][j] = h[j][i] = coef[k]
                k += 1
    else:
        for i in range(n):
            h[i][i] = 2.0 * coef[k + i]
    return g, h, intercept


def trust_region_step(g: Sequence[float], h: Matrix, radius: float) -> list[float]:
    """Minimise ``g.z + z.H.z / 2`` over ``|z| <= radius`` (H symmetric, maybe indefinite).

    >>> [round(v, 6) for v in trust_region_step([-2.0, 0.0], [[2.0, 0.0], [0.0, 1.0]], 5.0)]
    [1.0, 0.0]
    >>> [round(v, 6) for v in trust_region_step([-2.0, 0.0], [[-1.0, 0.0], [0.0, 1.0]], 3.0)]
    [3.0, 0.0]
    """
    n = len(g)
    diagonal = all(h[i][j] == 0.0 for i in range(n) for j in range(n) if i != j)
    if diagonal:
        values = [h[i][i] for i in range(n)]
        vectors = [[1.0 if i == j else 0.0 for j in range(n)] for i in range(n)]
    else:
        values, vectors = symmetric_eigen(h)
    gv = [sum(vectors[i][j] * g[i] for i in range(n)) for j in range(n)]

    def step(shift: float) -> list[float]:
        return [-gv[j] / max(values[j] + shift, 1e-12) for j in range(n)]

    def norm(w: list[float]) -> float:
        return math.sqrt(sum(v * v for v in w))

    low = max(0.0, -min(values)) + 1e-12 * (1.0 + max(abs(v) for v in values))
    w = step(low)
    if norm(w) > radius:
        # |w(shift)| decreases in shift: bisect for the shift that lands on the boundary.
        high = low + 1.0
        while norm(step(high)) > radius:
            high = low + 2.0 * (high - low)
        for _ in range(40):
            mid = 0.5 * (low + high)
            if norm(step(mid)) > radius:
                low = mid
            else:
                high = mid
        w = step(high)
    elif min(values) <= 0.0:
        # Indefinite and the shifted step is inside: move out along the most negative axis.
        j = min(range(n), key=lambda k: values[k])
        extra = math.sqrt(max(0.0, radius * radius - sum(v * v for v in w)))
        w[j] += extra if gv[j] <= 0.0 else -extra
    return [sum(vectors[i][j] * w[j] for j in range(n)) for i in range(n)]


def model_point(
    archive: Sequence[tuple[Sequence[float], float]],
    mean: Sequence[float],
    sigma: float,
    axes: Matrix,
    scales: list[float],
) -> list[float] | None:
    """The trust-region minimiser of a quadratic fitted to the archive points nearest the
    mean, in unit-cube coordinates (``None`` when there are too few points)."""
    n = len(mean)
    full = n <= CMA_FULL_MODEL_MAX_DIM
    size = (n + 1) * (n + 2) // 2 if full else 2 * n + 1
    needed = size + max(2, n // 2)
    if len(archive) < needed:
        return None
    recent = archive[-max(4 * needed, 60) :]
    transform = _whitener(mean, sigma, axes, scales)
    whitened = [(transform(x), c) for x, c in recent]
    whitened.sort(key=lambda item: sum(v * v for v in item[0]))
    nearest = whitened[: 2 * needed]
    fitted = fit_quadratic([z for z, _ in nearest], [c for _, c in nearest], full)
    if fitted is None:
        return None
    radius = math.sqrt(n) + 2.0 * n / (n + 2.0)
    w = trust_region_step(fitted[0], fitted[1], radius)
    y = [scales[j] * w[j] for j in range(n)]
    return [min(1.0, max(0.0, mean[i] + sigma * sum(map(mul, axes[i], y)))) for i in range(n)]
