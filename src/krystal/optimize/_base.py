"""The ask/tell contract every optimiser of :mod:`krystal.optimize` follows.

An optimiser maximises a score over a box ``[low, high]``. ``ask()`` returns the next
point to evaluate (asking again before a tell returns the same point), ``tell(x, score)``
reports its score (higher is better), and ``recommend()`` returns the point the optimiser
would bet on now with the evidence behind it. Subclasses work in the unit cube
``[0, 1]^dim`` and implement two methods: ``_propose()`` (the next unit point) and
``_observe(unit_point, score)``; the base class validates input at the edge, maps between
the box and the unit cube, and keeps the best point seen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NoReturn

from krystal._checks import finite_number
from krystal._errors import CallOrderError, InputError
from krystal.kernel.rng import Rng


def raise_input(name: str, expected: str, got: object) -> NoReturn:
    """Raise :class:`~krystal.InputError` naming the field, what was expected and the value."""
    raise InputError(f"{name}: expected {expected}, got {got!r}")


def check_dim(dim: Any) -> int:
    """``dim`` as a positive integer, or :class:`InputError`."""
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise InputError(f"dim: expected an integer >= 1, got {dim!r}")
    return dim


def check_bounds(
    dim: int, low: Sequence[float] | None, high: Sequence[float] | None
) -> tuple[list[float], list[float]]:
    """The box as two lists of ``dim`` finite floats with ``low < high`` (default [0, 1])."""
    out = []
    for name, values, default in (("low", low, 0.0), ("high", high, 1.0)):
        if values is None:
            out.append([default] * dim)
            continue
        try:
            floats = [float(v) for v in values]
        except (TypeError, ValueError):
            raise InputError(f"{name}: expected {dim} finite numbers, got {values!r}") from None
        if len(floats) != dim or not all(math.isfinite(v) for v in floats):
            raise InputError(f"{name}: expected {dim} finite numbers, got {values!r}")
        out.append(floats)
    lows, highs = out
    bad = [d for d in range(dim) if not lows[d] < highs[d]]
    if bad:
        raise InputError(
            f"low, high: expected low < high in every dimension, got low={lows}, high={highs}"
        )
    return lows, highs


def check_score(score: Any) -> float:
    """``score`` as a finite float, or :class:`InputError`."""
    return finite_number("score", score)


class Optimizer:
    """Base class: maximise a score over a box, one ``ask()`` / ``tell()`` at a time.

    ``seed`` is an integer or a :class:`~krystal.kernel.rng.Rng` to share.
    """

    def __init__(
        self,
        dim: int,
        *,
        low: Sequence[float] | None = None,
        high: Sequence[float] | None = None,
        seed: int | Rng = 0,
    ) -> None:
        self.dim = check_dim(dim)
        self.low, self.high = check_bounds(self.dim, low, high)
        if isinstance(seed, Rng):
            self.rng = seed
        elif isinstance(seed, bool) or not isinstance(seed, int):
            raise InputError(f"seed: expected an integer or a krystal Rng, got {seed!r}")
        else:
            self.rng = Rng(seed)
        self.evaluations = 0
        self._pending: list[float] | None = None
        self._best_unit: list[float] | None = None
        self._best_score = -math.inf

    # -- the contract ---------------------------------------------------------------

    def ask(self) -> list[float]:
        """Return the next point to evaluate (in the box); asking again repeats it."""
        if self._pending is None:
            unit = self._propose()
            self._pending = [min(1.0, max(0.0, u)) for u in unit]
        return self._to_box(self._pending)

    def tell(self, x: Sequence[float], score: float) -> None:
        """Report the score of the point from the last :meth:`ask` (higher is better)."""
        if self._pending is None:
            raise CallOrderError("tell() was called with no outstanding ask(); call ask() first")
        asked = self._to_box(self._pending)
        try:
            same = len(x) == self.dim and all(
                abs(float(x[d]) - asked[d]) <= 1e-9 * (self.high[d] - self.low[d])
                for d in range(self.dim)
            )
        except (TypeError, ValueError):
            same = False
        if not same:
            raise InputError(
                f"x: expected the point from the outstanding ask(), {asked}, got {x!r}"
            )
        value = check_score(score)
        unit, self._pending = self._pending, None
        self.evaluations += 1
        if value > self._best_score:
            self._best_score, self._best_unit = value, list(unit)
        self._observe(unit, value)

    def recommend(self) -> tuple[list[float], float]:
        """The point to use now and its score estimate (by default the best one told)."""
        if self._best_unit is None:
            raise CallOrderError("recommend() was called before any tell(); evaluate a point first")
        return self._to_box(self._best_unit), self._best_score

    @property
    def best(self) -> tuple[list[float], float] | None:
        """The best point told so far and its score (``None`` before any tell)."""
        if self._best_unit is None:
            return None
        return self._to_box(self._best_unit), self._best_score

    # -- for subclasses -------------------------------------------------------------

    def _propose(self) -> list[float]:
        raise NotImplementedError

    def _observe(self, unit: list[float], score: float) -> None:
        raise NotImplementedError

    def _to_box(self, unit: Sequence[float]) -> list[float]:
        low, high = self.low, self.high
        # min(): low + (high - low) * 1.0 can round one ulp past high.
        return [min(high[d], low[d] + (high[d] - low[d]) * unit[d]) for d in range(self.dim)]
