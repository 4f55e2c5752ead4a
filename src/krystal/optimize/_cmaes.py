"""CMA-ES with increasing-population restarts (IPOP-CMA-ES), ask/tell over a box.

CMA-ES (Hansen & Ostermeier, 2001; the parameter settings of Hansen's 2016 tutorial,
arXiv:1604.00772) samples a population from a Gaussian, and moves the mean towards the
better half while adapting the step size (cumulative path length control) and the whole
covariance matrix (rank-one and rank-mu updates). Adapting the covariance learns the
problem's scaling and correlations, which is what makes it the reference method for
continuous black-box problems of a few to a few hundred dimensions.

Choices:

- the run lives in the unit cube; a sample outside it is clipped onto the wall and the
  clipped point is both evaluated and used in the update (repair by projection, as the
  ``cmaes`` library does), so every evaluated point is feasible;
- a run stops when its step size or its fitness spread collapse, its covariance becomes
  ill-conditioned, or its best has not improved for a while (Hansen's TolX, TolFun,
  ConditionCov and a stagnation test); the next run starts from a uniform random mean
  with twice the population (Auger & Hansen, 2005), which finds the global structure of
  multimodal functions such as Rastrigin that a small population misses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from operator import mul

from krystal.kernel.rng import Rng
from krystal.optimize._base import Optimizer, raise_input
from krystal.optimize._linalg import identity, symmetric_eigen


def default_popsize(dim: int) -> int:
    """CMA-ES's default population, ``4 + floor(3 ln dim)``.

    >>> default_popsize(10)
    10
    """
    return 4 + int(3.0 * math.log(dim))


class CmaRun:
    """One CMA-ES run minimising a cost in the unit cube (used by the optimisers).

    >>> run = CmaRun(2, Rng(0), mean=[0.5, 0.5], sigma=0.3)
    >>> for _ in range(60):
    ...     points = run.sample()
    ...     run.update(points, [(p[0] - 0.2) ** 2 + (p[1] - 0.7) ** 2 for p in points])
    >>> [round(m, 3) for m in run.mean]
    [0.2, 0.7]
    """

    def __init__(
        self, dim: int, rng: Rng, mean: Sequence[float], sigma: float, popsize: int = 0
    ) -> None:
        n = dim
        self.dim, self.rng = n, rng
        self.mean = [float(m) for m in mean]
        self.sigma = float(sigma)
        self.popsize = lam = popsize if popsize >= 2 else default_popsize(n)
        mu = lam // 2
        raw = [math.log((lam + 1) / 2.0) - math.log(i + 1) for i in range(mu)]
        total = sum(raw)
        self.weights = [w / total for w in raw]
        self.mueff = mueff = 1.0 / sum(w * w for w in self.weights)
        self.cc = (4.0 + mueff / n) / (n + 4.0 + 2.0 * mueff / n)
        self.cs = (mueff + 2.0) / (n + mueff + 5.0)
        self.c1 = 2.0 / ((n + 1.3) ** 2 + mueff)
        self.cmu = min(1.0 - self.c1, 2.0 * (mueff - 2.0 + 1.0 / mueff) / ((n + 2.0) ** 2 + mueff))
        self.damps = 1.0 + 2.0 * max(0.0, math.sqrt((mueff - 1.0) / (n + 1.0)) - 1.0) + self.cs
        self.chi_n = math.sqrt(n) * (1.0 - 1.0 / (4.0 * n) + 1.0 / (21.0 * n * n))
        self.pc = [0.0] * n
        self.ps = [0.0] * n
        self.cov = identity(n)
        self.axes = identity(n)  # eigenvectors of cov, as columns
        self._columns = identity(n)  # the same eigenvectors, as rows (for dot products)
        self.scales = [1.0] * n  # square roots of its eigenvalues
        self.generation = 0
        self._eigen_generation = 0
        self.best_cost = math.inf
        self.best_point: list[float] | None = None
        self._history: list[float] = []  # best cost of each generation
        self._last_costs: list[float] = []

    def sample(self) -> list[list[float]]:
        """The next population, clipped to the unit cube."""
        n, rng, axes, scales = self.dim, self.rng, self.axes, self.scales
        points = []
        for _ in range(self.popsize):
            z = [scales[j] * rng.gauss() for j in range(n)]
            points.append(
                [
                    min(
                        1.0,
                        max(
                            0.0,
                            self.mean[i] + self.sigma * sum(map(mul, axes[i], z)),
                        ),
                    )
                    for i in range(n)
                ]
            )
        return points

    def update(self, points: Sequence[Sequence[float]], costs: Sequence[float]) -> None:
        """Move the distribution given the costs (lower is better) of a population."""
        n, sigma, old = self.dim, self.sigma, self.mean
        order = sorted(range(len(points)), key=lambda i: costs[i])
        if costs[order[0]] < self.best_cost:
            self.best_cost, self.best_point = costs[order[0]], list(points[order[0]])
        self._history.append(costs[order[0]])
        self._last_costs = list(costs)
        steps = [self._clipped([(points[i][d] - old[d]) / sigma for d in range(n)]) for i in order]
        mu = len(self.weights)
        step = [sum(self.weights[k] * steps[k][d] for k in range(mu)) for d in range(n)]
        self.mean = [old[d] + sigma * step[d] for d in range(n)]
        # C^(-1/2) step = B D^-1 B^T step
        axes, scales = self.axes, self.scales
        columns = self._columns
        projected = [sum(map(mul, columns[j], step)) / scales[j] for j in range(n)]
        whitened = [sum(map(mul, axes[i], projected)) for i in range(n)]
        cs, cc = self.cs, self.cc
        norm_s = math.sqrt(cs * (2.0 - cs) * self.mueff)
        self.ps = [(1.0 - cs) * self.ps[d] + norm_s * whitened[d] for d in range(n)]
        self.generation += 1
        ps_norm = math.sqrt(sum(v * v for v in self.ps))
        decay = 1.0 - (1.0 - cs) ** (2 * self.generation)
        hsig = ps_norm / math.sqrt(decay) / self.chi_n < 1.4 + 2.0 / (n + 1.0)
        norm_c = math.sqrt(cc * (2.0 - cc) * self.mueff)
        self.pc = [(1.0 - cc) * self.pc[d] + (norm_c * step[d] if hsig else 0.0) for d in range(n)]
        c1, cmu = self.c1, self.cmu
        keep = 1.0 - c1 - cmu + (0.0 if hsig else c1 * cc * (2.0 - cc))
        pc, weights, cov = self.pc, self.weights, self.cov
        for i in range(n):
            for j in range(i + 1):
                rank_mu = sum(weights[k] * steps[k][i] * steps[k][j] for k in range(mu))
                value = keep * cov[i][j] + c1 * pc[i] * pc[j] + cmu * rank_mu
                cov[i][j] = cov[j][i] = value
        self.sigma = sigma * math.exp(min(1.0, (cs / self.damps) * (ps_norm / self.chi_n - 1.0)))
        # An eigendecomposition every few generations suffices: C changes slowly (tutorial B.2).
        if self.generation - self._eigen_generation >= max(1.0, 0.1 / (n * (c1 + cmu))):
            self._decompose()

    def _clipped(self, step: list[float]) -> list[float]:
        # Injected points (a model's proposal) may lie far out in the distribution's
        # metric; shortening their step to this length keeps the step-size control sound
        # (Hansen, "Injecting external solutions into CMA-ES", 2011).
        n, scales = self.dim, self.scales
        length = math.sqrt(
            sum((sum(map(mul, self._columns[j], step)) / scales[j]) ** 2 for j in range(n))
        )
        limit = math.sqrt(n) + 2.0 * n / (n + 2.0)
        if length <= limit:
            return step
        return [v * limit / length for v in step]

    def _decompose(self) -> None:
        self._eigen_generation = self.generation
        values, vectors = symmetric_eigen(self.cov)
        floor = max(values) * 1e-14 if max(values) > 0.0 else 1e-14
        self.scales = [math.sqrt(max(v, floor)) for v in values]
        self.axes = vectors
        self._columns = [list(column) for column in zip(*vectors)]

    def stop_reason(self) -> str | None:
        """Why this run should end (``None``: keep going)."""
        n = self.dim
        spread = self.sigma * max(
            max(math.sqrt(self.cov[i][i]) for i in range(n)), max(abs(v) for v in self.pc)
        )
        if spread < 1e-11:
            return "tolx"
        if max(self.scales) > 1e7 * min(self.scales):
            return "conditioncov"
        window = 10 + math.ceil(30.0 * n / self.popsize)
        recent = self._history[-window:]
        if len(recent) >= window:
            values = recent + self._last_costs
            if max(values) - min(values) <= 1e-12 * max(1.0, abs(min(values))):
                return "tolfun"
        if self._last_costs and max(self._last_costs) == min(self._last_costs):
            return "flat"
        patience = max(2 * window, 20)
        if len(self._history) > patience and min(self._history[-patience:]) >= min(
            self._history[:-patience]
        ):
            return "stagnation"
        if self.sigma > 1e6:
            return "divergence"
        return None


class CMAES(Optimizer):
    """IPOP-CMA-ES over a box: maximise a score with ``ask()`` / ``tell()``.

    >>> opt = CMAES(2, low=[-5.0, -5.0], high=[5.0, 5.0], seed=1)
    >>> for _ in range(300):
    ...     x = opt.ask()
    ...     opt.tell(x, -((x[0] - 1.0) ** 2) - 10.0 * (x[1] + 2.0) ** 2)
    >>> x, score = opt.recommend()
    >>> [round(v, 3) for v in x], score > -1e-8
    ([1.0, -2.0], True)
    """

    def __init__(
        self,
        dim: int,
        *,
        low: Sequence[float] | None = None,
        high: Sequence[float] | None = None,
        seed: int | Rng = 0,
        sigma: float = 0.3,
        popsize: int = 0,
        mean: Sequence[float] | None = None,
    ) -> None:
        super().__init__(dim, low=low, high=high, seed=seed)
        if not (isinstance(sigma, (int, float)) and 0.0 < sigma <= 1.0):
            raise_input("sigma", "a number in (0, 1] (a fraction of the box)", sigma)
        if isinstance(popsize, bool) or not isinstance(popsize, int) or popsize < 0:
            raise_input("popsize", "an integer >= 0 (0: the default)", popsize)
        self.sigma0 = float(sigma)
        self.popsize0 = popsize or default_popsize(self.dim)
        start = [0.5] * self.dim if mean is None else self._unit(mean)
        self.run = CmaRun(self.dim, self.rng, start, self.sigma0, self.popsize0)
        self.restarts = 0
        self._queue: list[list[float]] = []
        self._told: list[tuple[list[float], float]] = []

    def _unit(self, point: Sequence[float]) -> list[float]:
        if len(point) != self.dim:
            raise_input("mean", f"{self.dim} numbers inside the box", point)
        out = []
        for d in range(self.dim):
            u = (float(point[d]) - self.low[d]) / (self.high[d] - self.low[d])
            if not 0.0 <= u <= 1.0:
                raise_input("mean", f"{self.dim} numbers inside the box", point)
            out.append(u)
        return out

    def _propose(self) -> list[float]:
        if not self._queue:
            reason = self.run.stop_reason() if self.run.generation else None
            if reason is not None:
                self._restart()
            self._queue = self.run.sample()
        return self._queue.pop(0)

    def _observe(self, unit: list[float], score: float) -> None:
        self._told.append((unit, -score))
        if len(self._told) == self.run.popsize:
            told, self._told = self._told, []
            self.run.update([p for p, _ in told], [c for _, c in told])

    def _restart(self) -> None:
        self.restarts += 1
        mean = [self.rng.random() for _ in range(self.dim)]
        self.run = CmaRun(self.dim, self.rng, mean, self.sigma0, 2 * self.run.popsize)
