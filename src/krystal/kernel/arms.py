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
"""

import math

from .features import state_size
from .linear_model import BayesLinear
from .rng import Rng


class ArmsPolicy:
    """Choose one of ``arms`` (points of [0, 1]^action_dim) by per-arm Thompson sampling.

    The context each arm's model sees is ``[1, z]`` for a ``state_dim``-metric state,
    or with ``rbf_context`` the full state features ``psi`` (non-linear in the state).
    ``model_type`` builds each arm's reward model (``BayesLinear`` or a class with its
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
        model_type: type[BayesLinear] = BayesLinear,
        rbf_context: bool = False,
    ) -> None:
        if len(arms) < 2:
            raise ValueError("arms: expected at least 2 actions, got " + repr(len(arms)))
        width = len(arms[0])
        for arm in arms:
            if len(arm) != width:
                raise ValueError("arms: expected actions of equal length " + str(width))
        self.arms = [[float(v) for v in arm] for arm in arms]
        self.rbf_context = bool(rbf_context)
        context_size = state_size(state_dim) if rbf_context else state_dim + 1
        self.context_size = context_size
        self.rng = rng
        # The prior is per weight: spread over the context's features so that the prior
        # spread of a prediction does not grow with the number of metrics.
        per_weight = prior_var / context_size
        self.models = [model_type(context_size, per_weight, forgetting) for _ in arms]
        self.noise_var = 1.0
        self._residuals = 0
        self.last_arm = 0

    @property
    def count(self) -> int:
        """Outcomes learned so far, over all arms."""
        return sum([m.count for m in self.models])

    def arm_of(self, action: list[float]) -> int:
        """Index of the arm nearest to ``action`` (the action a caller really applied)."""
        best, best_d = 0, float("inf")
        for index, arm in enumerate(self.arms):
            d = 0.0
            for a, b in zip(arm, action):
                d += (a - b) * (a - b)
            if d < best_d:
                best, best_d = index, d
        return best

    def _context(self, psi: list[float], z: list[float]) -> list[float]:
        return psi if self.rbf_context else [1.0] + z  # noqa: RUF005 - MicroPython has no [*x] displays

    def greedy(self, psi: list[float], z: list[float]) -> list[float]:
        """The arm with the highest expected reward in this state."""
        x = self._context(psi, z)
        means = [m.predict(x) for m in self.models]
        return list(self.arms[means.index(max(means))])

    def propose(self, psi: list[float], z: list[float], temperature: float) -> list[float]:
        """An arm for this state, by Thompson sampling widened by ``temperature``."""
        x = self._context(psi, z)
        spread = (0.5 + temperature) * math.sqrt(self.noise_var)
        rng = self.rng
        best, best_score = 0, float("-inf")
        for index, model in enumerate(self.models):
            var = model.variance(x)
            score = model.predict(x) + spread * math.sqrt(max(var, 0.0)) * rng.gauss()
            if score > best_score:
                best, best_score = index, score
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
        error = self.models[self.arm_of(action)].update(x, reward, forgetting)
        # The residual variance sets the Thompson spread: a running mean that starts
        # from 1 as if seen 5 times, so it fits the reward's own scale within a few
        # dozen outcomes without collapsing on the first few lucky ones.
        self._residuals += 1
        rate = max(0.02, 1.0 / (self._residuals + 5))
        self.noise_var += rate * (error * error - self.noise_var)
        return error

    def predict(self, psi: list[float], z: list[float], action: list[float]) -> float:
        """Expected reward of ``action`` (its nearest arm) in this state."""
        return self.models[self.arm_of(action)].predict(self._context(psi, z))

    def reopen(self, amount: float) -> None:
        """Add ``amount`` to every weight variance of every arm (after a shift)."""
        for model in self.models:
            model.inflate(amount)

    def get_state(self) -> dict:  # type: ignore[type-arg]
        """Return the models and the noise estimate as JSON-friendly data."""
        return {
            "models": [m.get_state() for m in self.models],
            "noise_var": self.noise_var,
            "residuals": self._residuals,
            "last_arm": self.last_arm,
        }

    def set_state(self, state: dict) -> None:  # type: ignore[type-arg]
        """Restore a state produced by :meth:`get_state`."""
        models = state["models"]
        if len(models) != len(self.models):
            raise ValueError("state: expected " + str(len(self.models)) + " arm models")
        for model, saved in zip(self.models, models):
            model.set_state(saved)
        self.noise_var = float(state["noise_var"])
        self._residuals = int(state["residuals"])
        self.last_arm = int(state["last_arm"])
