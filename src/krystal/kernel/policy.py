"""The policy: a Bayesian response surface of reward over state and action.

Why this policy. The systems Krystal tunes answer a setting with a reward at once
(frame time, latency, delivered data), the answer depends on the situation, and each
reward is precious (a bad setting costs users something). That favours learning a model
of reward and acting on it over adjusting the action by a noisy policy gradient: the
model uses every sample fully, so it is good after tens of steps rather than thousands.
The model is Bayesian linear regression (:mod:`.linear_model`) over the quadratic
response surface of :mod:`.features`, so for the observed state the reward is a
quadratic in the action whose linear coefficients move with the state, and its best
action is found exactly, dimension by dimension, in a few coordinate-ascent sweeps.

Exploration is Thompson sampling tempered by the phase engine: the action gradient is
drawn from its posterior with a spread proportional to the temperature, and a Gaussian
jitter of width ``sigma_min + (sigma_max - sigma_min) * T`` is added. In SOLID the
learner therefore acts on its best estimate; in PLASMA it samples widely.
"""

import math

from .features import action_features, action_size, state_size
from .linear_model import BayesLinear
from .rng import Rng


class ResponseSurfacePolicy:
    """Choose actions in [0, 1]^action_dim that maximise a learned reward surface.

    >>> policy = ResponseSurfacePolicy(1, 1, Rng(0))
    >>> z, psi = [0.0], [1.0, 0.0, 0.23, 1.0, 0.23]
    >>> for _ in range(60):  # reward peaks at a = 0.7
    ...     a = policy.propose(psi, z, temperature=0.8)
    ...     _ = policy.learn(psi, z, a, 1.0 - (a[0] - 0.7) ** 2)
    >>> round(policy.greedy(psi, z)[0], 2)
    0.7
    """

    def __init__(
        self,
        state_dim: int,
        action_dim: int,
        rng: Rng,
        prior_var: float = 10.0,
        forgetting: float = 0.995,
        sigma_min: float = 0.01,
        sigma_max: float = 0.3,
        sweeps: int = 4,
        centre_pull: float = 0.05,
        persistence: float = 0.0,
        locality: float = 0.0,
        model: BayesLinear | None = None,
        context_dim: int | None = None,
    ) -> None:
        if action_dim < 1:
            raise ValueError("action_dim: expected an integer >= 1, got " + repr(action_dim))
        self.state_dim = state_dim
        self.action_dim = action_dim
        self.rng = rng
        self.sigma_min = float(sigma_min)
        self.sigma_max = float(sigma_max)
        self.sweeps = int(sweeps)
        # The context is what the action's linear effect depends on: the standardised
        # state by default, or any longer description of it the caller passes.
        self.context_dim = state_dim if context_dim is None else int(context_dim)
        size = action_size(state_dim, action_dim, self.context_dim)
        if model is None:
            model = BayesLinear(size, prior_var, forgetting)
        elif model.size != size:
            raise ValueError("model: expected a model of size " + str(size))
        self.model = model
        self.centre_pull = float(centre_pull)
        if not 0.0 <= persistence < 1.0:
            raise ValueError("persistence: expected a number in [0, 1), got " + repr(persistence))
        self.persistence = float(persistence)
        self.locality = float(locality)
        self._posterior_noise = [0.0] * action_dim
        self._jitter = [0.0] * action_dim
        self.noise_var = 1.0
        self.reward_mean = 0.0
        self.reward_var = 1.0
        self.last_greedy = [0.5] * action_dim
        m = action_dim
        self._lin = state_size(state_dim)
        self._sq = self._lin + m
        self._pairs = self._sq + m
        self._inter = self._pairs + m * (m - 1) // 2
        # For each action i, the other actions j with the weight index of a_i * a_j
        # (looked up once here: _ascend runs them every sweep of every decision).
        self._partners = [
            [(j, self._pair_index(min(i, j), max(i, j))) for j in range(m) if j != i]
            for i in range(m)
        ]

    @property
    def count(self) -> int:
        """Outcomes learned so far."""
        return self.model.count

    def reopen(self, amount: float) -> None:
        """Add ``amount`` to every weight variance (re-open the model after a shift)."""
        self.model.inflate(amount)

    def _pair_index(self, i: int, j: int) -> int:
        # Position of a_i * a_j (i < j) in the row-major upper triangle.
        m = self.action_dim
        return self._pairs + i * (2 * m - i - 1) // 2 + (j - i - 1)

    def gradient(self, z: list[float]) -> list[float]:
        """Linear coefficients of the reward in each action, for state ``z``."""
        w = self.model.weights
        n = self.context_dim
        out = []
        for i in range(self.action_dim):
            base = self._inter + i * n
            g = w[self._lin + i]
            for k in range(n):
                g += w[base + k] * z[k]
            out.append(g)
        return out

    def _gradient_std(self, z: list[float]) -> list[float]:
        n = self.context_dim
        out = []
        for i in range(self.action_dim):
            index = [self._lin + i]
            coeff = [1.0]
            base = self._inter + i * n
            for k in range(n):
                if z[k] != 0.0:
                    index.append(base + k)
                    coeff.append(z[k])
            var = self.model.quadratic_form(index, coeff)
            out.append(math.sqrt(max(var, 0.0) * self.noise_var))
        return out

    def _ascend(self, g: list[float], start: list[float]) -> list[float]:
        # Works on centred actions u = 2a - 1 in [-1, 1] (the model's own coordinates,
        # where u and u*u are uncorrelated and the curvature is well identified).
        # A weak pull to the centre, in the units of the reward, keeps an unsure model
        # (flat curvature) from sending every action to a bound.
        w = self.model.weights
        m = self.action_dim
        pull = self.centre_pull * math.sqrt(self.reward_var)
        u = [2.0 * v - 1.0 for v in start]
        partners = self._partners
        for _ in range(self.sweeps):
            for i in range(m):
                c = g[i]
                for j, pair in partners[i]:
                    c += w[pair] * u[j]
                h = w[self._sq + i] - pull
                if h < -1e-9:
                    v = -c / (2.0 * h)
                    u[i] = -1.0 if v < -1.0 else (1.0 if v > 1.0 else v)
                elif c > 1e-12:
                    u[i] = 1.0
                elif c < -1e-12:
                    u[i] = -1.0
        return [0.5 * (v + 1.0) for v in u]

    def greedy(self, psi: list[float], z: list[float]) -> list[float]:
        """The action the model believes best for this state (no exploration)."""
        return self._ascend(self.gradient(z), self.last_greedy)

    def propose(self, psi: list[float], z: list[float], temperature: float) -> list[float]:
        """An action for this state, exploring according to ``temperature`` in [0, 1]."""
        rng = self.rng
        g = self.gradient(z)
        greedy = self._ascend(g, self.last_greedy)
        self.last_greedy = greedy
        # Exploration noise is an AR(1) process with correlation ``persistence``, so
        # on systems with inertia an exploratory setting is held long enough for its
        # effect to show (stationary variance 1 whatever the persistence).
        rho = self.persistence
        fresh = math.sqrt(1.0 - rho * rho)
        m = self.action_dim
        self._posterior_noise = [rho * e + fresh * rng.gauss() for e in self._posterior_noise]
        self._jitter = [rho * e + fresh * rng.gauss() for e in self._jitter]
        if temperature > 0.0:
            std = self._gradient_std(z)
            noise = self._posterior_noise
            g = [g[i] + temperature * std[i] * noise[i] for i in range(m)]
            start = self._ascend(g, greedy)
        else:
            start = greedy
        sigma = self.sigma_min + (self.sigma_max - self.sigma_min) * temperature
        out = []
        for i in range(m):
            v = start[i] + sigma * self._jitter[i]
            out.append(0.0 if v < 0.0 else (1.0 if v > 1.0 else v))
        return out

    def learn(
        self,
        psi: list[float],
        z: list[float],
        action: list[float],
        reward: float,
        forgetting: float | None = None,
    ) -> float:
        """Update the reward model with one outcome; return the prediction error."""
        phi = action_features(psi, z, _centred(action))
        if self.locality > 0.0:
            # Locally weighted fit: outcomes far from the operating point (the greedy
            # action of the time) count less, so the quadratic stays a faithful local
            # model where the policy acts instead of a poor global compromise.
            greedy = self.last_greedy
            dist2 = sum([(a - g) * (a - g) for a, g in zip(action, greedy)])
            scale = math.exp(-dist2 / (4.0 * self.locality * self.locality))
            phi = [v * scale for v in phi]
            error = self.model.update(phi, reward * scale, forgetting) / max(scale, 1e-12)
        else:
            error = self.model.update(phi, reward, forgetting)
        self.noise_var += 0.02 * (error * error - self.noise_var)
        rate = max(0.01, 1.0 / self.model.count)
        delta = reward - self.reward_mean
        self.reward_mean += rate * delta
        self.reward_var = (1.0 - rate) * (self.reward_var + rate * delta * delta)
        return error

    def predict(self, psi: list[float], z: list[float], action: list[float]) -> float:
        """The model's expected reward for ``action`` in this state."""
        return self.model.predict(action_features(psi, z, _centred(action)))

    def get_state(self) -> dict:  # type: ignore[type-arg]
        """Return the model and exploration state as JSON-friendly data."""
        return {
            "model": self.model.get_state(),
            "noise_var": self.noise_var,
            "reward_moments": [self.reward_mean, self.reward_var],
            "last_greedy": list(self.last_greedy),
            "noise": [list(self._posterior_noise), list(self._jitter)],
        }

    def set_state(self, state: dict) -> None:  # type: ignore[type-arg]
        """Restore a state produced by :meth:`get_state`."""
        self.model.set_state(state["model"])
        self.noise_var = float(state["noise_var"])
        self.reward_mean, self.reward_var = [float(v) for v in state["reward_moments"]]
        self.last_greedy = [float(v) for v in state["last_greedy"]]
        self._posterior_noise = [float(v) for v in state["noise"][0]]
        self._jitter = [float(v) for v in state["noise"][1]]


def _centred(action: list[float]) -> list[float]:
    return [2.0 * v - 1.0 for v in action]
