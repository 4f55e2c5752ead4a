"""``optimize(objective, budget)``: run an ask/tell optimiser to the end of a budget."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from krystal.kernel.rng import Rng
from krystal.optimize._auto import Auto
from krystal.optimize._base import Optimizer, check_dim, check_score, raise_input
from krystal.optimize._cmaes import CMAES
from krystal.optimize._random import RandomSearch

METHODS: dict[str, Callable[..., Optimizer]] = {
    "auto": Auto,
    "cmaes": CMAES,
    "random": RandomSearch,
}


def make_optimizer(
    method: str,
    dim: int,
    *,
    low: Sequence[float] | None = None,
    high: Sequence[float] | None = None,
    budget: int | None = None,
    seed: int | Rng = 0,
) -> Optimizer:
    """A fresh optimiser by name (``"auto"``, ``"cmaes"`` or ``"random"``).

    >>> type(make_optimizer("cmaes", 3)).__name__
    'CMAES'
    """
    if method not in METHODS:
        raise_input("method", f"one of {sorted(METHODS)}", method)
    if method == "auto":
        return Auto(dim, low=low, high=high, budget=budget, seed=seed)
    return METHODS[method](dim, low=low, high=high, seed=seed)


def optimize(
    objective: Callable[[list[float]], Any],
    *,
    low: Sequence[float],
    high: Sequence[float],
    budget: int,
    seed: int | Rng = 0,
    method: str = "auto",
) -> tuple[list[float], float]:
    """Maximise ``objective(x)`` over the box with ``budget`` evaluations.

    Returns the recommended point and its score (for a noisy objective, the mean of the
    scores it received).

    >>> x, score = optimize(lambda x: -((x[0] - 1.0) ** 2) - (x[1] + 2.0) ** 2,
    ...                     low=[-5.0, -5.0], high=[5.0, 5.0], budget=150, seed=0)
    >>> [round(v, 2) for v in x], score > -1e-6
    ([1.0, -2.0], True)
    """
    given: object = objective  # checked at run time whatever the annotation says
    if not callable(given):
        raise_input("objective", "a callable", objective)
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise_input("budget", "a positive integer", budget)
    bounds: object = low
    if not isinstance(bounds, Sequence) or isinstance(bounds, str):
        raise_input("low", "a sequence of numbers, one per dimension", low)
    dim = check_dim(len(bounds))
    optimizer = make_optimizer(method, dim, low=low, high=high, budget=budget, seed=seed)
    for _ in range(budget):
        x = optimizer.ask()
        optimizer.tell(x, check_score(objective(x)))
    return optimizer.recommend()
