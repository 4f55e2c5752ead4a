"""The domain registry behind :func:`krystal.sims.make`."""

from __future__ import annotations

from typing import Any

from krystal._errors import InputError
from krystal.sims.base import Env
from krystal.sims.game import GameEnv
from krystal.sims.iot import IoTEnv
from krystal.sims.ml import MLEnv
from krystal.sims.server import ServerEnv

__all__ = ["DOMAINS", "make"]

_ENVS: dict[str, type[Env]] = {
    "game": GameEnv,
    "server": ServerEnv,
    "ml": MLEnv,
    "iot": IoTEnv,
}

#: The domain names :func:`make` accepts.
DOMAINS: tuple[str, ...] = tuple(_ENVS)


def make(domain: str, *, seed: int | None = None, shift: bool = False, **kwargs: Any) -> Env:
    """Build the simulator of ``domain`` ("game", "server", "ml" or "iot").

    ``seed`` is used by the first ``reset()`` that names none; ``shift=True`` changes
    the dynamics at step ``shift_at`` (a keyword, default 1500).

    >>> env = make("game", seed=3, shift=True, shift_at=100)
    >>> env.name, env.shift_at
    ('game', 100)
    >>> make("chess")
    Traceback (most recent call last):
    ...
    krystal._errors.InputError: domain = 'chess': expected one of ['game', 'server', 'ml', 'iot']
    """
    try:
        cls = _ENVS[domain]
    except (KeyError, TypeError):
        raise InputError(f"domain = {domain!r}: expected one of {list(DOMAINS)}") from None
    return cls(seed=seed, shift=shift, **kwargs)
