"""Uniform random search over a box: the baseline every other optimiser must beat."""

from __future__ import annotations

from krystal.optimize._base import Optimizer


class RandomSearch(Optimizer):
    """Sample the box uniformly; recommend the best point told.

    >>> opt = RandomSearch(1, low=[-1.0], high=[1.0], seed=0)
    >>> for _ in range(200):
    ...     x = opt.ask()
    ...     opt.tell(x, -abs(x[0] - 0.5))
    >>> round(opt.recommend()[0][0], 1)
    0.5
    """

    def _propose(self) -> list[float]:
        return [self.rng.random() for _ in range(self.dim)]

    def _observe(self, unit: list[float], score: float) -> None:
        pass
