"""A short path from an observation dict to the learner's vector when its names are known.

A live system reports the same metrics at every step. The agent's full path checks every
name and value one by one and places each by a dict lookup; :class:`KnownMetrics` holds
the names already given slots, so an observation of exactly those names (in any order)
is read and checked with a few C-level passes: one gather of the values in slot order,
one type scan, one sum for finiteness. Anything else (a new or missing name, a value that
is not a plain finite number) gets ``None`` and goes through the full path, which gives
the precise error.
"""

import math
from operator import itemgetter
from typing import Any

_FLOAT = frozenset((float,))
_NUMBERS = frozenset((float, int))


class KnownMetrics:
    """The metric names of slots ``0..len(names)-1`` of a vector of ``width`` slots.

    >>> known = KnownMetrics()
    >>> known.remember(["a", "b"], 3)
    >>> known.vector({"b": 2.0, "a": 1})
    [1.0, 2.0, None]
    >>> known.vector({"a": 1.0}), known.vector({"a": 1.0, "b": True})
    (None, None)
    """

    def __init__(self) -> None:
        self._count = 0
        self._gather: Any = None
        self._free: list[None] = []

    def remember(self, names: list[str], width: int) -> None:
        """Use ``names`` (in slot order) from now on."""
        self._count = len(names)
        # itemgetter of one key gives the value, not a tuple: a tuple of one made by hand.
        if len(names) > 1:
            self._gather = itemgetter(*names)
        elif names:
            self._gather = _Single(names[0])
        else:
            self._gather = None
        self._free = [None] * (width - len(names))

    def vector(self, obs: Any) -> list[float | None] | None:
        """The vector for ``obs``, or ``None`` when it must take the checked path."""
        # A plain dict only: a mapping's own __getitem__ could answer for a missing name.
        if self._gather is None or type(obs) is not dict or len(obs) != self._count:
            return None
        try:
            values: list[Any] = list(self._gather(obs))
        except KeyError:
            return None
        kinds = set(map(type, values))
        if not kinds <= _FLOAT:
            if not kinds <= _NUMBERS:
                return None
            try:
                values = list(map(float, values))
            except OverflowError:
                return None
        # One sum tells finite from not: an inf or a nan anywhere makes it non-finite (a
        # sum that overflows only sends a legal observation down the checked path).
        if not math.isfinite(sum(values)):
            return None
        return values + self._free if self._free else values


class _Single:
    """``itemgetter`` for one key that still returns a tuple."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, obs: dict[str, Any]) -> tuple[Any]:
        return (obs[self.name],)
