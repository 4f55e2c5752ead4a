"""The optimiser behind ``Krystal.optimize()``: a model-based trust region from the
centre of the box, then CMA-ES restarts, with a noise check that changes how the answer
is chosen.

Phases, in order, each for a reason that holds beyond any one benchmark:

1. **noise probe** — the centre of the box (the point nearest to every other point) is
   evaluated twice. A deterministic objective gives the same score; anything else means
   the scores are noisy, and then the best single score is an optimistic pick.
2. **trust region** (deterministic objectives; :mod:`krystal.optimize._trust`) — steps to
   the minimiser of local quadratic models until the region collapses or stops paying.
   On smooth problems this is far cheaper per unit of progress than any population
   method, and at the scale of a large region the model averages over ripples (a
   Rastrigin bowl looks quadratic from afar), which also serves rugged problems early.
3. **IPOP-CMA-ES** (:mod:`krystal.optimize._cmaes`) from the best point so far with a
   step size of a sixth of the box (so three steps span it), each generation carrying one
   point proposed by a quadratic model in the distribution's own coordinates
   (:mod:`krystal.optimize._model`), restarting from random means with doubled
   populations: the global phase for multimodal problems, and the whole search under
   noise, where a population's averaging is robust.
4. **racing** (noisy objectives with a budget) — the last fifth of the budget
   re-evaluates the best-looking points, the CMA-ES mean and the model's minimiser,
   halving the field each round; the recommendation is the finalist with the best mean.

Without a budget (pure ask/tell) the racing phase never starts, and ``recommend()``
returns the best point told.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from krystal.kernel.rng import Rng
from krystal.optimize._base import Optimizer, raise_input
from krystal.optimize._cmaes import CmaRun
from krystal.optimize._model import model_point
from krystal.optimize._trust import TrustRegion

FIRST_SIGMA = 1.0 / 6.0


class Auto(Optimizer):
    """Maximise a score over a box: trust region from the centre, CMA-ES restarts,
    noise-aware recommendation.

    ``budget`` (optional) is the number of evaluations the caller will make; for noisy
    objectives the last fifth of it is kept for racing the candidates.

    >>> opt = Auto(2, low=[-5.0, 0.0], high=[10.0, 15.0], budget=200, seed=3)
    >>> for _ in range(200):
    ...     x = opt.ask()
    ...     opt.tell(x, -((x[0] - 2.0) ** 2) - (x[1] - 7.0) ** 2)
    >>> x, score = opt.recommend()
    >>> [round(v, 3) for v in x], opt.noisy
    ([2.0, 7.0], False)
    """

    def __init__(
        self,
        dim: int,
        *,
        low: Sequence[float] | None = None,
        high: Sequence[float] | None = None,
        budget: int | None = None,
        seed: int | Rng = 0,
    ) -> None:
        super().__init__(dim, low=low, high=high, seed=seed)
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int)):
            raise_input("budget", "a positive integer or None", budget)
        if budget is not None and budget < 1:
            raise_input("budget", "a positive integer or None", budget)
        self.budget = budget
        # The centre first: the point nearest to every other point of the box.
        self._centre = [0.5] * self.dim
        self.noisy: bool | None = None
        self._probe: float | None = None
        self.local: TrustRegion | None = None
        self.run: CmaRun | None = None
        self.restarts = 0
        self._queue: list[list[float]] = []
        self._told: list[tuple[list[float], float]] = []
        self._archive: list[tuple[list[float], float]] = []  # (unit point, cost)
        # Noisy objectives: every score seen per point, and the racing field.
        self._scores: dict[tuple[float, ...], list[float]] = {}
        self._field: list[tuple[float, ...]] | None = None
        self._round: list[tuple[float, ...]] = []

    @property
    def phase(self) -> str:
        """What the optimiser is doing now: probe, local, cma or race."""
        if self.noisy is None:
            return "probe"
        if self._field is not None:
            return "race"
        if self.local is not None and not self.local.done:
            return "local"
        return "cma"

    # -- proposing ------------------------------------------------------------------

    def _propose(self) -> list[float]:
        phase = self.phase
        if phase == "probe":
            return list(self._centre)  # evaluated twice: the noise probe
        if self._racing():
            return self._next_race_point()
        if phase == "local":
            assert self.local is not None
            return self.local.propose()
        if not self._queue:
            run = self._cma()
            self._queue = run.sample()
            proposal = model_point(self._archive, run.mean, run.sigma, run.axes, run.scales)
            if proposal is not None:
                self._queue[0] = proposal
        return self._queue.pop(0)

    def _cma(self) -> CmaRun:
        if self.run is None:
            assert self._best_unit is not None
            self.run = CmaRun(self.dim, self.rng, self._best_unit, FIRST_SIGMA)
        elif self.run.generation and self.run.stop_reason() is not None:
            self.restarts += 1
            mean = [self.rng.random() for _ in range(self.dim)]
            self.run = CmaRun(self.dim, self.rng, mean, FIRST_SIGMA, 2 * self.run.popsize)
        return self.run

    # -- observing ------------------------------------------------------------------

    def _observe(self, unit: list[float], score: float) -> None:
        self._archive.append((unit, -score))
        phase = self.phase
        if phase == "probe":
            if self._probe is None:
                self._probe = score
            else:
                self.noisy = score != self._probe
                # A trust region trusts every comparison, which noise breaks.
                if not self.noisy:
                    self.local = TrustRegion(self._centre, self.rng)
                    self.local.observe(self._centre, -score)
            self._remember(unit, score)
            return
        if self.noisy:
            self._remember(unit, score)
        if phase == "race":
            return
        if phase == "local":
            assert self.local is not None
            self.local.observe(unit, -score)
            return
        assert self.run is not None
        self._told.append((unit, -score))
        if len(self._told) == self.run.popsize:
            told, self._told = self._told, []
            self.run.update([p for p, _ in told], [c for _, c in told])

    def _remember(self, unit: list[float], score: float) -> None:
        self._scores.setdefault(tuple(unit), []).append(score)

    # -- racing (noisy objectives) ----------------------------------------------------

    def _racing(self) -> bool:
        if not self.noisy or self.budget is None:
            return False
        if self._field is None and self.evaluations >= self.budget - max(2, self.budget // 5):
            self._start_race()
        return self._field is not None

    def _start_race(self) -> None:
        ranked = sorted(self._scores, key=lambda p: -_mean(self._scores[p]))
        field = ranked[:3]
        run = self.run
        if run is not None:
            # The search mean and the minimiser of a quadratic fitted to many points both
            # average the noise out, unlike any single lucky score.
            field.append(tuple(min(1.0, max(0.0, m)) for m in run.mean))
            proposal = model_point(self._archive, run.mean, run.sigma, run.axes, run.scales)
            if proposal is not None:
                field.append(tuple(proposal))
        self._field = field
        self._round = list(field)

    def _next_race_point(self) -> list[float]:
        assert self._field is not None
        if not self._round:
            # A round is over: keep the better half (by mean score), then go again.
            if len(self._field) > 2:
                self._field.sort(key=lambda p: -_mean(self._scores.get(p, [])))
                self._field = self._field[: max(2, (len(self._field) + 1) // 2)]
            self._round = list(self._field)
        return list(self._round.pop(0))

    def recommend(self) -> tuple[list[float], float]:
        """The point to use: the best told, or once a race has run (noisy scores), the
        finalist with the best mean score."""
        if self._field:
            scored = [p for p in self._field if self._scores.get(p)]
            if scored:
                best = max(scored, key=lambda p: _mean(self._scores[p]))
                return self._to_box(best), _mean(self._scores[best])
        return super().recommend()


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else -math.inf
