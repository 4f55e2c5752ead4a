"""Named action spaces: typed knobs mapped to and from the learner's unit box.

The learner works in [0, 1] per knob. A space turns those numbers into typed values
(and back), so ``decide()`` can return ``{"replicas": 4, "mode": "fast"}`` and never a
value outside a knob's bounds. Integers and choices are rounded to the nearest level,
so the learner is told (via :meth:`ActionSpace.snap`) the value that was really used.
A space of discrete knobs only (integers, choices, booleans) can also list its points
(:meth:`ActionSpace.points`): the arms the agent chooses among when it assumes no order.
"""

import math
from collections.abc import Iterator, Mapping
from typing import Any

from krystal._errors import InputError


class Dimension:
    """One knob: encodes a typed value to [0, 1] and decodes it back."""

    kind = "dimension"

    def encode(self, value: Any) -> float:
        raise NotImplementedError

    def decode(self, unit: float) -> Any:
        raise NotImplementedError

    def to_spec(self) -> dict[str, Any]:
        raise NotImplementedError

    def check(self, name: str, value: Any) -> None:
        """Raise :class:`InputError` unless ``value`` is a legal value of this knob."""
        raise NotImplementedError


class FloatRange(Dimension):
    """A real-valued knob in ``[low, high]``, optionally on a log scale.

    >>> lr = FloatRange(1e-4, 1e-1, log=True)
    >>> round(lr.decode(0.5), 6), lr.encode(1e-4)
    (0.003162, 0.0)
    """

    kind = "float"

    def __init__(self, low: float, high: float, log: bool = False) -> None:
        if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
            raise InputError(f"float range: expected finite low < high, got [{low}, {high}]")
        if log and low <= 0.0:
            raise InputError(f"float range: a log scale needs low > 0, got {low}")
        self.low = float(low)
        self.high = float(high)
        self.log = bool(log)

    def encode(self, value: Any) -> float:
        v = float(value)
        if self.log:
            u = math.log(v / self.low) / math.log(self.high / self.low)
        else:
            u = (v - self.low) / (self.high - self.low)
        return min(1.0, max(0.0, u))

    def decode(self, unit: float) -> float:
        u = min(1.0, max(0.0, unit))
        if self.log:
            value: float = self.low * math.exp(u * math.log(self.high / self.low))
        else:
            value = self.low + u * (self.high - self.low)
        return min(self.high, max(self.low, value))

    def check(self, name: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(
                f"{name}: expected a number in [{self.low}, {self.high}], got {value!r}"
            )
        if not self.low <= value <= self.high:
            raise InputError(
                f"{name}: expected a number in [{self.low}, {self.high}], got {value!r}"
            )

    def to_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"type": "float", "low": self.low, "high": self.high}
        if self.log:
            spec["log"] = True
        return spec


class Integer(Dimension):
    """An integer knob in ``[low, high]`` (both included).

    >>> Integer(1, 16).decode(1.0), Integer(1, 16).decode(0.0)
    (16, 1)
    """

    kind = "int"

    def __init__(self, low: int, high: int) -> None:
        if isinstance(low, bool) or isinstance(high, bool) or int(low) != low or int(high) != high:
            raise InputError(f"integer range: expected integer bounds, got [{low}, {high}]")
        if low >= high:
            raise InputError(f"integer range: expected low < high, got [{low}, {high}]")
        self.low = int(low)
        self.high = int(high)

    def encode(self, value: Any) -> float:
        return (int(value) - self.low) / (self.high - self.low)

    def decode(self, unit: float) -> int:
        u = min(1.0, max(0.0, unit))
        return min(self.high, max(self.low, self.low + round(u * (self.high - self.low))))

    def check(self, name: str, value: Any) -> None:
        ok = isinstance(value, int) and not isinstance(value, bool)
        if not ok or not self.low <= value <= self.high:
            raise InputError(
                f"{name}: expected an integer in [{self.low}, {self.high}], got {value!r}"
            )

    def to_spec(self) -> dict[str, Any]:
        return {"type": "int", "low": self.low, "high": self.high}


class Choice(Dimension):
    """One of a list of options.

    The response-surface policy treats the options as ordered (list them from least to
    most); the arms policy, the default when every knob is discrete, assumes no order.

    >>> quality = Choice(["low", "medium", "high"])
    >>> quality.decode(0.0), quality.decode(0.6), quality.encode("high")
    ('low', 'medium', 1.0)
    """

    kind = "choice"

    def __init__(self, options: list[Any]) -> None:
        options = list(options)
        if len(options) < 2:
            raise InputError(f"choice: expected at least two options, got {options!r}")
        if len(set(map(repr, options))) != len(options):
            raise InputError(f"choice: options must be distinct, got {options!r}")
        self.options = options

    def encode(self, value: Any) -> float:
        return self.options.index(value) / (len(self.options) - 1)

    def decode(self, unit: float) -> Any:
        u = min(1.0, max(0.0, unit))
        return self.options[round(u * (len(self.options) - 1))]

    def check(self, name: str, value: Any) -> None:
        if value not in self.options or isinstance(value, bool) != any(
            isinstance(o, bool) and o == value for o in self.options
        ):
            raise InputError(f"{name}: expected one of {self.options!r}, got {value!r}")

    def to_spec(self) -> dict[str, Any]:
        return {"type": "choice", "options": list(self.options)}


class Boolean(Dimension):
    """An on/off knob.

    >>> Boolean().decode(0.7), Boolean().encode(False)
    (True, 0.0)
    """

    kind = "bool"

    def encode(self, value: Any) -> float:
        return 1.0 if value else 0.0

    def decode(self, unit: float) -> bool:
        return unit >= 0.5

    def check(self, name: str, value: Any) -> None:
        if not isinstance(value, bool):
            raise InputError(f"{name}: expected true or false, got {value!r}")

    def to_spec(self) -> dict[str, Any]:
        return {"type": "bool"}


class ActionSpace(Mapping[str, Dimension]):
    """An ordered set of named knobs.

    >>> space = ActionSpace.from_spec({
    ...     "replicas": {"type": "int", "low": 1, "high": 8},
    ...     "cache": {"type": "bool"},
    ... })
    >>> space.decode([0.5, 0.9])
    {'replicas': 5, 'cache': True}
    >>> space.encode({"replicas": 1, "cache": False})
    [0.0, 0.0]
    """

    def __init__(self, dimensions: Mapping[str, Dimension]) -> None:
        if not dimensions:
            raise InputError("space: expected at least one named knob, got none")
        for name, dim in dimensions.items():
            if not isinstance(name, str) or not name:
                raise InputError(f"space: knob names must be non-empty strings, got {name!r}")
            if not isinstance(dim, Dimension):
                raise InputError(f"{name}: expected a FloatRange, Integer, Choice or Boolean")
        self._dims = dict(dimensions)
        # The typed values of each listed point (see points()): the arms policy only ever
        # decides those, so decoding one is a lookup.
        self._decoded: dict[tuple[float, ...], dict[str, Any]] = {}

    @classmethod
    def from_spec(cls, spec: "Mapping[str, Any] | ActionSpace") -> "ActionSpace":
        """Build a space from ``{name: {"type": "float"|"int"|"choice"|"bool", ...}}``."""
        if isinstance(spec, ActionSpace):
            return spec
        if not isinstance(spec, Mapping):
            raise InputError(f"space: expected a mapping of knob specs, got {type(spec).__name__}")
        dims: dict[str, Dimension] = {}
        for name, item in spec.items():
            if isinstance(item, Dimension):
                dims[name] = item
                continue
            if not isinstance(item, Mapping) or "type" not in item:
                raise InputError(f"{name}: expected a spec with a 'type' key, got {item!r}")
            kind = item["type"]
            try:
                if kind == "float":
                    dims[name] = FloatRange(item["low"], item["high"], bool(item.get("log", False)))
                elif kind == "int":
                    dims[name] = Integer(item["low"], item["high"])
                elif kind == "choice":
                    dims[name] = Choice(item["options"])
                elif kind == "bool":
                    dims[name] = Boolean()
                else:
                    raise InputError(
                        f"{name}: expected type float, int, choice or bool, got {kind!r}"
                    )
            except KeyError as exc:
                raise InputError(f"{name}: the {kind} spec needs the key {exc.args[0]!r}") from exc
            except InputError as exc:
                message = str(exc)
                if message.startswith(name + ": "):
                    raise
                raise InputError(f"{name}: {message}") from exc
            except (TypeError, ValueError) as exc:
                raise InputError(f"{name}: invalid {kind} spec {dict(item)!r}: {exc}") from exc
        return cls(dims)

    def __getitem__(self, name: str) -> Dimension:
        return self._dims[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dims)

    def __len__(self) -> int:
        return len(self._dims)

    def __repr__(self) -> str:
        return f"ActionSpace({self.to_spec()!r})"

    def decode(self, units: list[float]) -> dict[str, Any]:
        """Typed values for a point of the unit box."""
        known = self._decoded.get(tuple(units))
        if known is not None:
            return dict(known)
        return self._decode(units)

    def _decode(self, units: list[float]) -> dict[str, Any]:
        return {name: dim.decode(u) for (name, dim), u in zip(self._dims.items(), units)}

    def encode(self, values: Mapping[str, Any]) -> list[float]:
        """The unit-box point of a dict of typed values (validated first)."""
        self.check(values)
        return [dim.encode(values[name]) for name, dim in self._dims.items()]

    def snap(self, units: list[float]) -> list[float]:
        """The unit-box point of the value actually applied for ``units``."""
        if tuple(units) in self._decoded:  # a listed point is its own snap
            return list(units)
        return [dim.encode(dim.decode(u)) for dim, u in zip(self._dims.values(), units)]

    def points(self, limit: int) -> list[list[float]] | None:
        """Every unit-box point of an all-discrete space, or None (a float knob, or more
        than ``limit`` combinations).

        >>> ActionSpace.from_spec({"mode": {"type": "choice", "options": ["a", "b", "c"]},
        ...                        "cache": {"type": "bool"}}).points(16)
        [[0.0, 0.0], [0.0, 1.0], [0.5, 0.0], [0.5, 1.0], [1.0, 0.0], [1.0, 1.0]]
        """
        levels = []
        for dim in self._dims.values():
            if isinstance(dim, Integer):
                values: list[Any] = list(range(dim.low, dim.high + 1))
            elif isinstance(dim, Choice):
                values = dim.options
            elif isinstance(dim, Boolean):
                values = [False, True]
            else:
                return None
            levels.append([dim.encode(v) for v in values])
        total = 1
        for level in levels:
            total *= len(level)
        if total > limit:
            return None
        out: list[list[float]] = [[]]
        for level in levels:
            out = [[*point, u] for point in out for u in level]
        for point in out:
            decoded = self._decode(point)
            if self.encode(decoded) == point:  # its own snap: safe to look up
                self._decoded[tuple(point)] = decoded
        return out

    def check(self, values: Mapping[str, Any]) -> None:
        """Raise :class:`InputError` unless ``values`` names every knob with a legal value."""
        if not isinstance(values, Mapping):
            raise InputError(f"action: expected a dict of knob values, got {type(values).__name__}")
        for name in values:
            if name not in self._dims:
                raise InputError(f"{name}: unknown knob; expected one of {list(self._dims)}")
        for name, dim in self._dims.items():
            if name not in values:
                raise InputError(f"{name}: missing from the action")
            dim.check(name, values[name])

    def to_spec(self) -> dict[str, dict[str, Any]]:
        """The plain-data spec this space was (or could have been) built from."""
        return {name: dim.to_spec() for name, dim in self._dims.items()}
