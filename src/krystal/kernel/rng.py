"""A small seeded random number generator that gives the same stream everywhere.

``random.Random`` differs between CPython, Pyodide and MicroPython, so the kernel carries
its own: SplitMix64 (Steele, Lea & Flood, 2014) for the integer stream, 53-bit floats
from its top bits, Box-Muller for normal deviates. Only integer arithmetic, shifts and
``math.log``/``math.sqrt``/``math.cos``/``math.sin`` are used, which every port has.
"""

import math

_MASK64 = 0xFFFFFFFFFFFFFFFF
_GOLDEN = 0x9E3779B97F4A7C15
_TWO_PI = 6.283185307179586
_INV_2_53 = 1.0 / 9007199254740992.0


class Rng:
    """Seeded pseudo-random stream; ``Rng(seed)`` gives the same numbers on every port.

    >>> Rng(0).next_u64() == 0xE220A8397B1DCDAF  # the published SplitMix64 vector
    True
    >>> 0 <= Rng(1).randint(0, 9) <= 9
    True
    """

    def __init__(self, seed: int = 0) -> None:
        self._state = int(seed) & _MASK64
        self._spare = 0.0
        self._has_spare = False

    def next_u64(self) -> int:
        """Return the next 64-bit unsigned integer of the stream."""
        self._state = (self._state + _GOLDEN) & _MASK64
        z = self._state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        return z ^ (z >> 31)

    def random(self) -> float:
        """Return a float uniformly distributed in [0, 1)."""
        return (self.next_u64() >> 11) * _INV_2_53

    def uniform(self, low: float, high: float) -> float:
        """Return a float uniformly distributed in [low, high)."""
        return low + (high - low) * self.random()

    def randint(self, low: int, high: int) -> int:
        """Return an integer in [low, high], both ends included."""
        span = high - low + 1
        if span <= 0:
            raise ValueError("randint: high must be >= low")
        return low + self.next_u64() % span

    def gauss(self, mu: float = 0.0, sigma: float = 1.0) -> float:
        """Return a normal deviate with mean ``mu`` and standard deviation ``sigma``."""
        if self._has_spare:
            self._has_spare = False
            return mu + sigma * self._spare
        u1 = self.random()
        while u1 <= 0.0:
            u1 = self.random()
        u2 = self.random()
        radius = math.sqrt(-2.0 * math.log(u1))
        angle = _TWO_PI * u2
        self._spare = radius * math.sin(angle)
        self._has_spare = True
        return mu + sigma * radius * math.cos(angle)

    def choice(self, items: list) -> object:  # type: ignore[type-arg]
        """Return one element of a non-empty list."""
        return items[self.randint(0, len(items) - 1)]

    def shuffle(self, items: list) -> None:  # type: ignore[type-arg]
        """Shuffle a list in place (Fisher-Yates)."""
        for i in range(len(items) - 1, 0, -1):
            j = self.randint(0, i)
            items[i], items[j] = items[j], items[i]

    def get_state(self) -> list:  # type: ignore[type-arg]
        """Return the generator state as JSON-friendly data."""
        return [self._state, self._spare, self._has_spare]

    def set_state(self, state: list) -> None:  # type: ignore[type-arg]
        """Restore a state produced by :meth:`get_state`."""
        self._state = int(state[0]) & _MASK64
        self._spare = float(state[1])
        self._has_spare = bool(state[2])
