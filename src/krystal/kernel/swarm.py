"""Particle swarm optimisation over a box, driven one evaluation at a time (ask/tell).

PSO (Kennedy & Eberhart, 1995) needs no gradient and no model, only scores, and a small
swarm covers a low-dimensional box more evenly than local jitter, which is what a live
system's knobs need. The update is the constriction form of Clerc & Kennedy (2002):
``v <- chi v + c1 r1 (personal_best - x) + c2 r2 (global_best - x)`` with ``chi = 0.7298``
and ``c1 = c2 = 1.49618`` (``chi * 2.05``), which converges without a velocity limit.

Choices for a live system:

- ask/tell, one particle at a time: the caller evaluates each point when it can (one
  decision, one reward). The swarm moves after every full sweep (all particles told).
- walls: a coordinate that would leave the box is set on the wall and its velocity
  component reversed at half speed (the confinement of SPSO 2011), so every asked point
  is inside the box. Zeroing the velocity instead (an absorbing wall) left a swarm
  stuck on a wall in a sizeable share of seeded runs on quadratics whose optimum is
  inside the box; the half-speed bounce did not.
- restarts: a swarm collapses onto its best point, and then it only polishes that one
  spot. If the global best has not improved for ``patience`` sweeps, every particle but
  the one holding the global best is scattered again at random (with fresh personal
  bests), so the swarm escapes stagnation while keeping what it has found.

The injected :class:`~krystal.kernel.rng.Rng` is shared with its owner and is not part of
``get_state()``: the owner saves and restores it once.
"""

import math

from .rng import Rng


def _bounds(name: str, values: list[float] | None, dim: int, default: float) -> list[float]:
    if values is None:
        return [default] * dim
    if len(values) != dim or not all(math.isfinite(v) for v in values):
        raise ValueError(name + ": expected " + repr(dim) + " finite numbers, got " + repr(values))
    return [float(v) for v in values]


def _positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(name + ": expected an integer >= 1, got " + repr(value))
    return value


class ParticleSwarm:
    """Maximise a score over a box with PSO, one ``ask()`` / ``tell()`` at a time.

    >>> swarm = ParticleSwarm(2, Rng(1), particles=8, low=[-1.0, -1.0], high=[1.0, 1.0])
    >>> for _ in range(400):
    ...     x = swarm.ask()
    ...     swarm.tell(x, -((x[0] - 0.3) ** 2) - (x[1] + 0.5) ** 2)
    >>> [round(v, 2) for v in swarm.best_position], swarm.evaluations
    ([0.3, -0.5], 400)
    """

    def __init__(
        self,
        dim: int,
        rng: Rng,
        particles: int = 5,
        low: list[float] | None = None,
        high: list[float] | None = None,
        inertia: float = 0.7298,
        cognitive: float = 1.49618,
        social: float = 1.49618,
        patience: int = 20,
    ) -> None:
        self.dim = _positive_int("dim", dim)
        self.particles = _positive_int("particles", particles)
        self.patience = _positive_int("patience", patience)
        self.low = _bounds("low", low, dim, 0.0)
        self.high = _bounds("high", high, dim, 1.0)
        if not all(self.low[d] < self.high[d] for d in range(dim)):
            raise ValueError(
                "low, high: expected low < high in every dimension, got "
                + repr(self.low)
                + ", "
                + repr(self.high)
            )
        if not (math.isfinite(inertia) and 0.0 <= inertia < 1.0):
            raise ValueError("inertia: expected a number in [0, 1), got " + repr(inertia))
        for name, value in (("cognitive", cognitive), ("social", social)):
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(name + ": expected a finite number >= 0, got " + repr(value))
        self.inertia, self.cognitive, self.social = float(inertia), float(cognitive), float(social)
        self.rng = rng
        # Particles are scattered at the first ask, so an unused swarm draws no numbers.
        self._positions: list[list[float]] = []
        self._velocities: list[list[float]] = []
        self._personal: list[list[float]] = []
        self._personal_scores: list[float | None] = []
        self._best: list[float] | None = None
        self._best_score: float | None = None
        self._best_particle = -1
        self._cursor = 0
        self._pending = False
        self._improved = False
        self._stale = 0
        self.evaluations = 0
        self.restarts = 0

    @property
    def best_position(self) -> list[float] | None:
        """The best point told so far (``None`` before any tell)."""
        return None if self._best is None else list(self._best)

    @property
    def best_score(self) -> float | None:
        """The best score told so far (``None`` before any tell)."""
        return self._best_score

    def _scatter(self, i: int) -> None:
        rng, low, high = self.rng, self.low, self.high
        x = [rng.uniform(low[d], high[d]) for d in range(self.dim)]
        # SPSO 2011's initial velocity: uniform towards anywhere in the box.
        v = [rng.uniform(low[d] - x[d], high[d] - x[d]) for d in range(self.dim)]
        self._positions[i] = x
        self._velocities[i] = v
        self._personal[i] = list(x)
        self._personal_scores[i] = None

    def ask(self) -> list[float]:
        """Return the next point to evaluate; asking again before a tell repeats it."""
        if not self._positions:
            n = self.particles
            self._positions = [[] for _ in range(n)]
            self._velocities = [[] for _ in range(n)]
            self._personal = [[] for _ in range(n)]
            self._personal_scores = [None] * n
            for i in range(n):
                self._scatter(i)
        self._pending = True
        return list(self._positions[self._cursor])

    def tell(self, x: list[float], score: float) -> None:
        """Report the score of the point from the last :meth:`ask` (higher is better)."""
        if not self._pending:
            raise ValueError("tell: no outstanding ask; call ask() before each tell()")
        asked, low, high = self._positions[self._cursor], self.low, self.high
        # A tolerance of 1e-9 of the box accepts x after a JSON round trip on any port;
        # "not <=" also rejects NaN.
        if len(x) != self.dim or any(
            not abs(x[d] - asked[d]) <= 1e-9 * (high[d] - low[d]) for d in range(self.dim)
        ):
            raise ValueError(
                "x: expected the point from the outstanding ask(), "
                + repr(asked)
                + ", got "
                + repr(x)
            )
        if not math.isfinite(score):
            raise ValueError("score: expected a finite number, got " + repr(score))
        score = float(score)
        i = self._cursor
        self._pending = False
        self.evaluations += 1
        personal = self._personal_scores[i]
        if personal is None or score > personal:
            self._personal_scores[i] = score
            self._personal[i] = list(asked)
        if self._best_score is None or score > self._best_score:
            self._best_score = score
            self._best = list(asked)
            self._best_particle = i
            self._improved = True
        self._cursor += 1
        if self._cursor == self.particles:
            self._cursor = 0
            self._end_sweep()

    def _end_sweep(self) -> None:
        self._stale = 0 if self._improved else self._stale + 1
        self._improved = False
        if self._stale >= self.patience:
            self._stale = 0
            self.restarts += 1
            for i in range(self.particles):
                if i != self._best_particle:
                    self._scatter(i)
            return
        self._move()

    def _move(self) -> None:
        rng, best = self.rng, self._best
        assert best is not None  # a full sweep has been told
        w, c1, c2 = self.inertia, self.cognitive, self.social
        low, high = self.low, self.high
        for i in range(self.particles):
            x, v, p = self._positions[i], self._velocities[i], self._personal[i]
            for d in range(self.dim):
                vd = (
                    w * v[d]
                    + c1 * rng.random() * (p[d] - x[d])
                    + c2 * rng.random() * (best[d] - x[d])
                )
                xd = x[d] + vd
                if xd < low[d]:
                    xd, vd = low[d], -0.5 * vd
                elif xd > high[d]:
                    xd, vd = high[d], -0.5 * vd
                x[d], v[d] = xd, vd

    def get_state(self) -> dict:  # type: ignore[type-arg]
        """Return settings and the swarm as JSON-friendly data (the rng is not included)."""
        return {
            "dim": self.dim,
            "particles": self.particles,
            "patience": self.patience,
            "low": list(self.low),
            "high": list(self.high),
            "coefficients": [self.inertia, self.cognitive, self.social],
            "positions": [list(x) for x in self._positions],
            "velocities": [list(v) for v in self._velocities],
            "personal": [list(p) for p in self._personal],
            "personal_scores": list(self._personal_scores),
            "best": self.best_position,
            "best_score": self._best_score,
            "best_particle": self._best_particle,
            "counters": [self._cursor, self._stale, self.evaluations, self.restarts],
            "flags": [self._pending, self._improved],
        }

    def set_state(self, state: dict) -> None:  # type: ignore[type-arg]
        """Restore a state produced by :meth:`get_state`."""
        self.dim = int(state["dim"])
        self.particles = int(state["particles"])
        self.patience = int(state["patience"])
        self.low = [float(v) for v in state["low"]]
        self.high = [float(v) for v in state["high"]]
        self.inertia, self.cognitive, self.social = [float(v) for v in state["coefficients"]]
        self._positions = [[float(v) for v in x] for x in state["positions"]]
        self._velocities = [[float(v) for v in x] for x in state["velocities"]]
        self._personal = [[float(v) for v in x] for x in state["personal"]]
        self._personal_scores = [None if s is None else float(s) for s in state["personal_scores"]]
        best = state["best"]
        self._best = None if best is None else [float(v) for v in best]
        score = state["best_score"]
        self._best_score = None if score is None else float(score)
        self._best_particle = int(state["best_particle"])
        self._cursor, self._stale, self.evaluations, self.restarts = [
            int(v) for v in state["counters"]
        ]
        self._pending, self._improved = [bool(v) for v in state["flags"]]


def optimize(
    objective: object,
    dim: int,
    budget: int,
    rng: Rng,
    particles: int = 10,
    low: list[float] | None = None,
    high: list[float] | None = None,
) -> tuple[list[float], float]:
    """Maximise ``objective(x) -> float`` with ``budget`` evaluations; return (best x, score).

    >>> x, score = optimize(lambda x: -(x[0] - 0.25) ** 2, dim=1, budget=200, rng=Rng(0))
    >>> round(x[0], 2), score > -1e-4
    (0.25, True)
    """
    if not callable(objective):
        raise ValueError("objective: expected a callable, got " + repr(objective))
    budget = _positive_int("budget", budget)
    swarm = ParticleSwarm(dim, rng, particles=particles, low=low, high=high)
    for _ in range(budget):
        x = swarm.ask()
        swarm.tell(x, float(objective(x)))
    best, score = swarm.best_position, swarm.best_score
    assert best is not None and score is not None
    return best, score
