"""A policy over a finite set of actions: one Bayesian linear model of reward per arm.

Why a second policy. The response surface of :mod:`.policy` assumes the reward bends
smoothly with each knob, which is right for a learning rate or a replica count and
wrong for a set of unordered options (which model to serve, which of ten classes to
answer): option 3 is not "between" options 2 and 4. When every knob is discrete and the
combinations are few, each combination is an arm with its own linear model of reward
over the context (a disjoint linear bandit), so no order is assumed between them.

Exploration is Thompson sampling on the predictive distribution: each arm's expected
reward for this context is drawn from ``N(w . x, s2 * x' P x)``, which is exactly the
distribution of a posterior sample's prediction, so it needs no matrix factorisation.
The phase engine widens the draw when hot: the spread is ``0.5 + T`` posterior standard
deviations (half-width Thompson sampling when calm, more than full width in PLASMA).

Only arms that could win get a draw. The kernel's normal deviates are bounded: Box-Muller
on 53-bit uniforms never gives more than ``sqrt(-2 ln 2^-53) = 8.57`` in magnitude, so
an arm whose mean plus 8.6 spreads stays below another arm's mean minus 8.6 spreads
loses whatever is drawn, and drawing for it cannot change the choice. Once the models
are confident most arms are out of reach, and a context with a single arm in reach
needs no draw at all (the choices keep exactly the distribution of drawing for all).

The arms' models live in one :class:`ArmModels`, which gives every arm's predictive
mean and variance for a context in one call: the agent's numpy backend swaps in a
version that keeps all arms stacked in arrays and computes them with two matrix
products, with the same numbers.
"""

import math

from .features import state_size
from .linear_model import BayesLinear
from .rng import Rng

#: ``|Rng.gauss()|`` never exceeds ``sqrt(-2 ln 2^-53) = 8.5717`` (see the module docstring).
GAUSS_BOUND = 8.6


def thompson_choice(means: list[float], variances: list[float], spread: float, rng: Rng) -> int:
    """The arm with the highest draw ``mean + spread * sd * N(0, 1)`` (the first on a tie).

    Draws come from ``rng`` in arm order, one per arm still in reach of the best (one
    in all when only two are in reach).

    >>> thompson_choice([0.0, 1.0, 0.9], [0.01, 0.01, 0.01], 0.1, Rng(0))  # no draw needed
    1
    """
    sqrt = math.sqrt
    sds = [sqrt(v) if v > 0.0 else 0.0 for v in variances]
    reach = spread * GAUSS_BOUND
    floor = max([m - reach * sd for m, sd in zip(means, sds)])
    contenders = [i for i, (m, sd) in enumerate(zip(means, sds)) if m + reach * sd >= floor]
    if len(contenders) == 1:
        return contenders[0]
    if len(contenders) == 2:
        # Which of two wins depends only on the difference of their draws, itself
        # normal: one draw of it decides, with the same distribution as two draws.
        i, j = contenders
        sd = spread * sqrt(sds[i] * sds[i] + sds[j] * sds[j])
        return i if means[i] - means[j] + sd * rng.gauss() >= 0.0 else j
    best, best_score = 0, float("-inf")
    for index in contenders:
        score = means[index] + spread * sds[index] * rng.gauss()
        if score > best_score:
            best, best_score = index, score
    return best


class ArmModels:
    """One :class:`.linear_model.BayesLinear` reward model per arm, scored together.

    >>> bank = ArmModels(2, 2, prior_var=1e6, forgetting=1.0)
    >>> for _ in range(5):
    ...     _ = bank.update(0, [1.0, 0.0], 1.0), bank.update(1, [1.0, 0.0], 0.0)
    >>> means, variances = bank.moments([1.0, 0.0])
    >>> [round(m, 3) for m in means], [v < 0.3 for v in variances]
    ([1.0, 0.0], [True, True])
    """

    def __init__(self, arms: int, size: int, prior_var: float, forgetting: float) -> None:
        self.models = [BayesLinear(size, prior_var, forgetting) for _ in range(arms)]

    @property
    def count(self) -> int:
        """Outcomes learned so far, over all arms."""
        return sum([m.count for m in self.models])

    def means(self, x: list[float]) -> list[float]:
        """Every arm's expected reward for context ``x``."""
        return [m.predict(x) for m in self.models]

    def moments(self, x: list[float]) -> tuple[list[float], list[float]]:
        """Every arm's predictive mean ``w . x`` and (noise-scaled) variance ``x' P x``.

        The lists are the caller's to read, not to change (an implementation may keep
        them for the same context).
        """
        models = self.models
        return [m.predict(x) for m in models], [m.variance(x) for m in models]

    def predict(self, arm: int, x: list[float]) -> float:
        """Arm ``arm``'s expected reward for context ``x``."""
        return self.models[arm].predict(x)

    def update(self, arm: int, x: list[float], y: float, forgetting: float | None = None) -> float:
        """Fold ``y`` into arm ``arm``'s model; return its prediction error before."""
        return self.models[arm].update(x, y, forgetting)

    def inflate(self, amount: float) -> None:
        """Add ``amount`` to every weight variance of every arm."""
        for model in self.models:
            model.inflate(amount)

    def get_state(self) -> list:  # type: ignore[type-arg]
        """One JSON-friendly model state per arm (:meth:`BayesLinear.get_state`)."""
        return [m.get_state() for m in self.models]

    def set_state(self, states: list) -> None:  # type: ignore[type-arg]
        """Restore the states produced by :meth:`get_state` (one per arm)."""
        if len(states) != len(self.models):
            raise ValueError("state: expected " + str(len(self.models)) + " arm models")
        for model, saved in zip(self.models, states):
            model.set_state(saved)


class ArmsPolicy:
    """Choose one of ``arms`` (points of [0, 1]^action_dim) by per-arm Thompson sampling.

    The context each arm's model sees is ``[1, z]`` for a ``state_dim``-metric state,
    or with ``rbf_context`` the full state features ``psi`` (non-linear in the state).
    ``model_type`` builds the arms' reward models (:class:`ArmModels` or a class with its
    constructor and methods, e.g. a numpy one). The methods take
    the same arguments as :class:`.policy.ResponseSurfacePolicy`'s, so the learner
    drives either.

    >>> policy = ArmsPolicy([[0.0], [0.5], [1.0]], 1, Rng(0))
    >>> psi, z = [1.0, 0.0, 0.23, 1.0, 0.23], [0.0]
    >>> for _ in range(90):  # the middle arm pays most
    ...     a = policy.propose(psi, z, temperature=0.3)
    ...     _ = policy.learn(psi, z, a, {0.0: 0.2, 0.5: 1.0, 1.0: 0.4}[a[0]])
    >>> policy.greedy(psi, z)
    [0.5]
    """

    def __init__(
        self,
        arms: list[list[float]],
        state_dim: int,
        rng: Rng,
        prior_var: float = 10.0,
        forgetting: float = 0.995,
        model_type: type[ArmModels] = ArmModels,
        rbf_context: bool = False,
    ) -> None:
        if len(arms) < 2:
            raise ValueError("arms: expected at least 2 actions, got " + repr(len(arms)))
        width = len(arms[0])
        for arm in arms:
            if len(arm) != width:
                raise ValueError("arms: expected actions of equal length " + str(width))
        self.arms = [[float(v) for v in arm] for arm in arms]
        # The action a caller applies is nearly always one of the arms exactly.
        self._index: dict[tuple[float, ...], int] = {}
        for i, arm in enumerate(self.arms):
            if tuple(arm) not in self._index:  # a repeated arm: the first one, as arm_of
                self._index[tuple(arm)] = i
        self.rbf_context = bool(rbf_context)
        context_size = state_size(state_dim) if rbf_context else state_dim + 1
        self.context_size = context_size
        self.rng = rng
        # The prior is per weight: spread over the context's features so that the prior
        # spread of a prediction does not grow with the number of metrics.
        per_weight = prior_var / context_size
        self.models = model_type(len(arms), context_size, per_weight, forgetting)
        self.noise_var = 1.0
        self._residuals = 0
        self.last_arm = 0
        self._last_z: list[float] | None = None
        self._last_x: list[float] = []

    @property
    def count(self) -> int:
        """Outcomes learned so far, over all arms."""
        return self.models.count

    def arm_of(self, action: list[float]) -> int:
        """Index of the arm nearest to ``action`` (the action a caller really applied)."""
        exact = self._index.get(tuple(action))
        if exact is not None:
            return exact
        best, best_d = 0, float("inf")
        for index, arm in enumerate(self.arms):
            d = 0.0
            for a, b in zip(arm, action):
                d += (a - b) * (a - b)
            if d < best_d:
                best, best_d = index, d
        return best

    def _context(self, psi: list[float], z: list[float]) -> list[float]:
        if self.rbf_context:
            return psi
        # The learner hands the same state to propose, predict and learn: built once.
        if z is not self._last_z:
            self._last_z = z
            self._last_x = [1.0] + z  # noqa: RUF005 - MicroPython has no [*x] displays
        return self._last_x

    def greedy(self, psi: list[float], z: list[float]) -> list[float]:
        """The arm with the highest expected reward in this state."""
        means = self.models.means(self._context(psi, z))
        return list(self.arms[means.index(max(means))])

    def propose(self, psi: list[float], z: list[float], temperature: float) -> list[float]:
        """An arm for this state, by Thompson sampling widened by ``temperature``."""
        x = self._context(psi, z)
        spread = (0.5 + temperature) * math.sqrt(self.noise_var)
        means, variances = self.models.moments(x)
        best = thompson_choice(means, variances, spread, self.rng)
        self.last_arm = best
        return list(self.arms[best])

    def learn(
        self,
        psi: list[float],
        z: list[float],
        action: list[float],
        reward: float,
        forgetting: float | None = None,
    ) -> float:
        """Update the model of the arm nearest ``action``; return its prediction error."""
        x = self._context(psi, z)
        error = self.models.update(self.arm_of(action), x, reward, forgetting)
        # The residual variance sets the Thompson spread: a running mean that starts
        # from 1 as if seen 5 times, so it fits the reward's own scale within a few
        # dozen outcomes without collapsing on the first few lucky ones.
        self._residuals += 1
        rate = max(0.02, 1.0 / (self._residuals + 5))
        self.noise_var += rate * (error * error - self.noise_var)
        return error

    def predict(self, psi: list[float], z: list[float], action: list[float]) -> float:
        """Expected reward of ``action`` (its nearest arm) in this state."""
        return self.models.predict(self.arm_of(action), self._context(psi, z))

    def reopen(self, amount: float) -> None:
        """Add ``amount`` to every weight variance of every arm (after a shift)."""
        self.models.inflate(amount)

    def get_state(self) -> dict:  # type: ignore[type-arg]
        """Return the models and the noise estimate as JSON-friendly data."""
        return {
            "models": self.models.get_state(),
            "noise_var": self.noise_var,
            "residuals": self._residuals,
            "last_arm": self.last_arm,
        }

    def set_state(self, state: dict) -> None:  # type: ignore[type-arg]
        """Restore a state produced by :meth:`get_state`."""
        self.models.set_state(state["models"])
        self.noise_var = float(state["noise_var"])
        self._residuals = int(state["residuals"])
        self.last_arm = int(state["last_arm"])
