"""The simulator contract: :class:`Env`, the Gymnasium-style base of every domain.

An environment declares its knobs as plain data (``action_spec``), names its raw metrics
(``observation_keys``) and implements two hooks, ``_reset`` and ``_step``. The base class
does everything the domains share: seeding, the step clock that triggers the optional
``shift`` of the dynamics, validation of every action at the edge, random actions and
grids over the action box.

The action spec is shared with the agent API, which builds typed spaces from it::

    {"scale": {"type": "float", "low": 0.5, "high": 1.0},       # "log": True optional
     "level": {"type": "int", "low": 0, "high": 3},
     "mode": {"type": "choice", "options": ["low", "high"]},
     "turbo": {"type": "bool"}}

Seeding: a seeded ``reset`` derives two independent generators from the seed, one for
the exogenous *world* (scenes, traffic, weather, datasets) and one for measurement
*noise*. The world therefore follows the same path whatever actions are taken, which is
what makes per-context comparisons of actions on the same seed meaningful. An unseeded
``reset`` starts a new episode and keeps both streams and the step clock running.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from krystal._errors import InputError, KrystalError
from krystal.kernel.rng import Rng

__all__ = ["Env"]

DEFAULT_SHIFT_AT = 1500

_KINDS = ("float", "int", "choice", "bool")
#: Int knobs with at most this many values (or ``levels``) are enumerated fully by grids.
_SMALL_INT = 8


def softplus(x: float, width: float = 1.0) -> float:
    """Smooth hinge ``width * log(1 + exp(x / width))``: ~0 below zero, ~x above."""
    z = x / width
    if z > 30.0:
        return x
    if z < -30.0:
        return 0.0
    return width * math.log1p(math.exp(z))


def sigmoid(x: float) -> float:
    """Logistic function, safe for any finite ``x``."""
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _describe(spec: dict[str, Any]) -> str:
    kind = spec["type"]
    if kind == "float":
        scale = ", log scale" if spec.get("log") else ""
        return f"a float in [{spec['low']}, {spec['high']}]{scale}"
    if kind == "int":
        return f"an int in [{spec['low']}, {spec['high']}]"
    if kind == "choice":
        return f"one of {spec['options']!r}"
    return "a bool (True or False)"


def _check_spec(name: str, spec: dict[str, dict[str, Any]]) -> None:
    """Fail at class use if a subclass declares a malformed spec (a programming error)."""
    for key, entry in spec.items():
        kind = entry.get("type")
        if kind not in _KINDS:
            raise KrystalError(f"{name}.action_spec[{key!r}]: unknown type {kind!r}")
        if kind in ("float", "int") and not entry["low"] < entry["high"]:
            raise KrystalError(f"{name}.action_spec[{key!r}]: low must be < high")
        if kind == "float" and entry.get("log") and entry["low"] <= 0:
            raise KrystalError(f"{name}.action_spec[{key!r}]: log scale needs low > 0")
        if kind == "choice" and not entry.get("options"):
            raise KrystalError(f"{name}.action_spec[{key!r}]: choice needs options")


def _axis(spec: dict[str, Any], levels: int) -> list[Any]:
    """Grid points of one knob: floats get ``levels`` points, small discrete sets all."""
    kind = spec["type"]
    if kind == "bool":
        return [False, True]
    if kind == "choice":
        return list(spec["options"])
    low, high = spec["low"], spec["high"]
    if kind == "int":
        if high - low + 1 <= max(levels, _SMALL_INT):
            return list(range(low, high + 1))
        return sorted({round(low + (high - low) * i / (levels - 1)) for i in range(levels)})
    points = []
    for i in range(levels):
        frac = i / (levels - 1)
        value = low * (high / low) ** frac if spec.get("log") else low + (high - low) * frac
        points.append(float(f"{value:.6g}"))
    points[0], points[-1] = float(low), float(high)
    return points


class Env:
    """Base of the domain simulators: Gymnasium ``reset``/``step`` over dict actions.

    Subclasses set ``name``, ``action_spec`` and ``observation_keys`` and implement
    ``_reset(fresh)`` and ``_step(action)``; the shared constructor takes ``seed``,
    ``shift`` (change the dynamics at step ``shift_at``) and ``shift_at``.

    Examples
    --------
    >>> from krystal.sims import make
    >>> env = make("game", seed=1)
    >>> obs, info = env.reset()
    >>> sorted(obs) == sorted(env.observation_keys)
    True
    >>> obs, reward, terminated, truncated, info = env.step(env.grid(levels=2)[0])
    >>> (-1.0 <= reward <= 1.0, terminated, truncated)
    (True, False, False)
    """

    name: str = "env"
    action_spec: dict[str, dict[str, Any]] = {}  # noqa: RUF012 - read-only class data
    observation_keys: tuple[str, ...] = ()
    #: Points per float knob (and cap for wide int knobs) of :meth:`grid` by default.
    default_levels: int = 5

    def __init__(
        self,
        *,
        seed: int | None = None,
        shift: bool = False,
        shift_at: int = DEFAULT_SHIFT_AT,
    ) -> None:
        _check_spec(type(self).__name__, self.action_spec)
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise InputError(f"seed = {seed!r}: expected an int or None")
        if not isinstance(shift, bool):
            raise InputError(f"shift = {shift!r}: expected a bool")
        if not isinstance(shift_at, int) or isinstance(shift_at, bool) or shift_at < 0:
            raise InputError(f"shift_at = {shift_at!r}: expected an int >= 0")
        self.seed = seed
        self.shift = shift
        #: Step (counted from the last seeded reset) at which the dynamics change;
        #: ``None`` when this environment never shifts.
        self.shift_at: int | None = shift_at if shift else None
        self._t = 0
        self._started = False
        self._world = Rng(0)
        self._noise = Rng(0)
        self._checks: list[tuple[str, str, Any, Any, Any]] = [
            (key, entry["type"], entry.get("low"), entry.get("high"), entry.get("options"))
            for key, entry in self.action_spec.items()
        ]

    # -- the public contract -------------------------------------------------------------

    @property
    def t(self) -> int:
        """Steps taken since the last seeded reset (the clock of ``shift_at``)."""
        return self._t

    @property
    def shifted(self) -> bool:
        """Whether the next step runs under the shifted dynamics."""
        return self.shift_at is not None and self._t >= self.shift_at

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, float], dict[str, Any]]:
        """Start an episode; with a seed (or on first use) restart streams and clock.

        Returns ``(observation, info)``; ``options`` is accepted for Gymnasium
        compatibility and must be ``None`` or a dict (no option is used yet).
        """
        if options is not None and not isinstance(options, dict):
            raise InputError(f"options = {options!r}: expected a dict or None")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise InputError(f"seed = {seed!r}: expected an int or None")
        if seed is None and not self._started:
            seed = 0 if self.seed is None else self.seed
        if seed is not None:
            root = Rng(seed)
            self._world = Rng(root.next_u64())
            self._noise = Rng(root.next_u64())
            self._t = 0
        self._started = True
        return self._reset(seed is not None)

    def step(
        self, action: dict[str, Any]
    ) -> tuple[dict[str, float], float, bool, bool, dict[str, Any]]:
        """Apply ``action`` for one step: ``(obs, reward, terminated, truncated, info)``.

        The action is validated first; a missing, unknown or out-of-range knob raises
        :class:`krystal.InputError` and leaves the environment untouched.
        """
        if not self._started:
            raise KrystalError(f"{self.name}: call reset() before step()")
        self.validate(action)
        result = self._step(action)
        self._t += 1
        return result

    def validate(self, action: dict[str, Any]) -> None:
        """Raise :class:`krystal.InputError` unless ``action`` fits ``action_spec``.

        >>> from krystal import InputError
        >>> from krystal.sims import make
        >>> try:
        ...     make("server").validate({"replicas": 40, "concurrency": 8})
        ... except InputError as error:
        ...     print(error)
        server: action['replicas'] = 40 is invalid; expected an int in [1, 16]
        """
        if not isinstance(action, dict):
            raise InputError(
                f"{self.name}: action = {action!r}: expected a dict with keys "
                f"{list(self.action_spec)}"
            )
        for key, kind, low, high, options in self._checks:
            try:
                value = action[key]
            except KeyError:
                raise InputError(
                    f"{self.name}: action is missing {key!r}; expected "
                    f"{_describe(self.action_spec[key])}"
                ) from None
            if kind == "float":
                ok = (type(value) is float or type(value) is int) and low <= value <= high
            elif kind == "int":
                ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
            elif kind == "choice":
                ok = any(value == o and type(value) is type(o) for o in options)
            else:
                ok = value is True or value is False
            if not ok:
                raise InputError(
                    f"{self.name}: action[{key!r}] = {value!r} is invalid; expected "
                    f"{_describe(self.action_spec[key])}"
                )
        if len(action) != len(self._checks):
            unknown = sorted(str(k) for k in action if k not in self.action_spec)
            raise InputError(
                f"{self.name}: action has unknown keys {unknown}; expected exactly "
                f"{list(self.action_spec)}"
            )

    def sample_action(self, rng: Rng) -> dict[str, Any]:
        """Draw a uniformly random valid action (log-uniform on ``log`` floats).

        >>> from krystal.kernel.rng import Rng
        >>> from krystal.sims import make
        >>> env = make("server")
        >>> env.validate(env.sample_action(Rng(3)))  # always valid
        """
        action: dict[str, Any] = {}
        for key, spec in self.action_spec.items():
            kind = spec["type"]
            if kind == "float":
                low, high = spec["low"], spec["high"]
                if spec.get("log"):
                    value = math.exp(rng.uniform(math.log(low), math.log(high)))
                else:
                    value = rng.uniform(low, high)
                action[key] = min(max(value, float(low)), float(high))
            elif kind == "int":
                action[key] = rng.randint(spec["low"], spec["high"])
            elif kind == "choice":
                action[key] = rng.choice(list(spec["options"]))
            else:
                action[key] = rng.random() < 0.5
        return action

    def grid(self, levels: int | None = None) -> list[dict[str, Any]]:
        """All combinations of a grid over the action box.

        Bools and choices enumerate fully, ints fully when they have at most
        ``max(levels, 8)`` values (else ``levels`` evenly spaced ones), floats get
        ``levels`` evenly spaced points (geometrically spaced on ``log`` knobs).
        ``levels`` defaults to the domain's ``default_levels``.

        >>> from krystal.sims import make
        >>> len(make("game").grid(levels=2))  # 2 scales x 4 shadows x 4 textures x 2
        64
        """
        if levels is None:
            levels = self.default_levels
        if not isinstance(levels, int) or isinstance(levels, bool) or levels < 2:
            raise InputError(f"levels = {levels!r}: expected an int >= 2")
        keys = list(self.action_spec)
        axes = [_axis(self.action_spec[key], levels) for key in keys]
        return [dict(zip(keys, values, strict=True)) for values in itertools.product(*axes)]

    # -- hooks for the domains -----------------------------------------------------------

    def _reset(self, fresh: bool) -> tuple[dict[str, float], dict[str, Any]]:
        """Initialise the episode state; ``fresh`` is True right after a seeded reset."""
        raise NotImplementedError

    def _step(
        self, action: dict[str, Any]
    ) -> tuple[dict[str, float], float, bool, bool, dict[str, Any]]:
        """Advance one step with a validated action."""
        raise NotImplementedError

    def __repr__(self) -> str:
        shift = f", shift_at={self.shift_at}" if self.shift_at is not None else ""
        return f"{type(self).__name__}(seed={self.seed}{shift})"
