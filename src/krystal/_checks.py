"""Checks of caller input shared by the agent API and the optimisers."""

from __future__ import annotations

import math
from typing import Any

from krystal._errors import InputError


def finite_number(name: str, value: Any) -> float:
    """``value`` as a finite float, or :class:`InputError` naming ``name``.

    >>> finite_number("reward", 3)
    3.0
    >>> finite_number("reward", float("nan"))
    Traceback (most recent call last):
    ...
    krystal._errors.InputError: reward: expected a finite number, got nan
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{name}: expected a finite number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:
        raise InputError(f"{name}: expected a finite number, got an integer too large") from None
    if not math.isfinite(number):
        raise InputError(f"{name}: expected a finite number, got {number!r}")
    return number
