"""The learner: observe -> decide -> reward over plain vectors.

It wires the parts together: running normalisation of the raw state, the value critic
(TD(lambda)), the phase engine that sets the exploration temperature from the critic's
surprise, the reward trend and stagnation, and the response-surface policy that picks
the action. Everything is lists of floats, so the same learner runs on MicroPython.

Two buffers help where a plain online update would not:

- a prioritised replay of past transitions gives the critic extra TD(0) updates on the
  transitions it predicts worst, so its TD error (the phase engine's surprise signal)
  settles quickly and stands out when the world really changes;
- a ring of the most recent outcomes lets the reward model re-fit at once when the
  phase engine declares a shift: the model's covariance is re-opened (the standard
  covariance reset of recursive least squares) and the latest outcomes replayed, so the
  new regime is learned from data already seen instead of from scratch.

The particle swarm, when enabled, proposes some of the actions while the learner is
hot (GAS or PLASMA): a population search that explores the action box more evenly than
local jitter, scored by the TD error so that the situation's own value is discounted.

With the arms policy at horizon 1 nothing reads the critic's value (the choice is the
reward models' alone and there is no swarm), so the critic is not run: the TD error is
then that of the chosen arm's value at gamma 0, ``r - Q(s, a)``, the reward model's
prediction error, and it is what the phase engine reads as surprise.
"""

from .arms import ArmModels, ArmsPolicy
from .features import state_features, state_size
from .linear_model import BayesLinear
from .normalizer import RunningNormalizer
from .phase import PhaseEngine
from .policy import ResponseSurfacePolicy
from .replay import PrioritizedReplay, ReplayBuffer
from .rng import Rng
from .swarm import ParticleSwarm
from .td import TDLambda

_RECENT = 32
_REFIT = 12


class Learner:
    """Online decision learner over vectors: ``observe(x)``, ``decide()``, ``reward(r)``.

    ``learning_rate``, ``gamma`` and ``lam`` drive the TD(lambda) critic; ``forgetting``
    and ``prior_var`` the reward model; ``horizon`` is how many rewards an action is
    credited with (and how long exploratory noise persists); ``locality`` the width of
    the local weighting around the operating point (0: off); ``interactions`` whether
    the action's effect depends on the state linearly or through its RBF features;
    ``model`` replaces the reward model (e.g. a numpy implementation of the same maths).
    ``arms``, a list of actions, makes the learner choose among them only, with one
    reward model per arm (:mod:`.arms`: for unordered options); ``arm_model_type``
    builds those models, all arms at once (e.g. a numpy implementation).

    >>> learner = Learner(state_dim=1, action_dim=1, seed=3)
    >>> for step in range(300):
    ...     learner.observe([float(step % 2)])
    ...     a = learner.decide()[0]
    ...     _ = learner.reward(1.0 - (a - 0.3) ** 2)
    >>> learner.observe([0.0])
    >>> abs(learner.greedy()[0] - 0.3) < 0.1
    True
    """

    def __init__(
        self,
        state_dim: int,
        action_dim: int,
        seed: int = 0,
        learning_rate: float = 0.1,
        enable_phase: bool = True,
        enable_swarm: bool = True,
        swarm_particles: int = 5,
        gamma: float = 0.9,
        lam: float = 0.8,
        forgetting: float = 0.995,
        prior_var: float = 10.0,
        horizon: int = 1,
        locality: float = 0.15,
        model: BayesLinear | None = None,
        interactions: str = "linear",
        arms: list[list[float]] | None = None,
        arm_model_type: type[ArmModels] = ArmModels,
    ) -> None:
        if state_dim < 1:
            raise ValueError("state_dim: expected an integer >= 1, got " + repr(state_dim))
        if action_dim < 1:
            raise ValueError("action_dim: expected an integer >= 1, got " + repr(action_dim))
        if interactions not in ("linear", "rbf"):
            raise ValueError("interactions: expected 'linear' or 'rbf', got " + repr(interactions))
        self.interactions = interactions
        self.state_dim = state_dim
        self.action_dim = action_dim
        self.forgetting = float(forgetting)
        self._prior_var = float(prior_var)
        if horizon < 1:
            raise ValueError("horizon: expected an integer >= 1, got " + repr(horizon))
        self.horizon = int(horizon)
        self.gamma = float(gamma)
        self._return_norm = sum([gamma**k for k in range(self.horizon)])
        self._open: list[list] = []  # type: ignore[type-arg]
        self.enable_swarm = bool(enable_swarm)
        self.rng = Rng(seed)
        self.normalizer = RunningNormalizer(state_dim)
        self.critic = TDLambda(state_size(state_dim), learning_rate, gamma, lam)
        self.phase = PhaseEngine(enabled=enable_phase)
        self.policy: ResponseSurfacePolicy | ArmsPolicy
        if arms is None:
            self.policy = ResponseSurfacePolicy(
                state_dim,
                action_dim,
                self.rng,
                prior_var=prior_var,
                forgetting=forgetting,
                persistence=1.0 - 1.0 / horizon,
                locality=locality,
                model=model,
                context_dim=state_size(state_dim) - 1 if interactions == "rbf" else state_dim,
            )
        else:
            if any(len(arm) != action_dim for arm in arms):
                raise ValueError("arms: expected actions of length " + str(action_dim))
            self.policy = ArmsPolicy(
                arms,
                state_dim,
                self.rng,
                prior_var,
                forgetting,
                arm_model_type,
                rbf_context=interactions == "rbf",
            )
            self.enable_swarm = False  # a finite set of actions: nothing between to search
        self._critic_on = arms is None or self.horizon > 1
        self._state_features = self._critic_on or interactions == "rbf"
        self.swarm = ParticleSwarm(action_dim, self.rng, particles=max(2, swarm_particles))
        self.recent = ReplayBuffer(_RECENT, self.rng)
        self.transitions = PrioritizedReplay(256, self.rng)
        self.cycle = 0
        self.total_reward = 0.0
        self.last_td_error = 0.0
        self.last_prediction_error = 0.0
        self._z: list[float] = [0.0] * state_dim
        self._psi: list[float] = state_features(self._z)
        self._observed = False
        self._action: list[float] | None = None
        self._from_swarm = False
        self._swarm_asked = False
        self._swarm_point: list[float] = []
        self._previous: list | None = None  # type: ignore[type-arg]

    def observe(self, x: list[float | None]) -> None:
        """Enter a new state (raw metrics; ``None`` marks a missing one)."""
        z = self.normalizer.standardise(x)
        psi = state_features(z) if self._state_features else []
        if self._critic_on:
            self.critic.begin(psi)
        if self._previous is not None:
            self._previous.append(psi)
            self.transitions.add(self._previous, abs(self.last_td_error) + 1e-3)
            self._previous = None
        self._z = z
        self._psi = psi
        self._observed = True

    def decide(self) -> list[float]:
        """Return an action in [0, 1]^action_dim for the current state."""
        temperature = self.phase.temperature
        hot = self.phase.phase in ("GAS", "PLASMA")
        use_swarm = (
            self.enable_swarm
            and hot
            and not self._swarm_asked
            and self.rng.random() < 0.5 * temperature
        )
        if use_swarm:
            action = self.swarm.ask()
            self._swarm_point = action
            self._swarm_asked = True
        else:
            action = self.policy.propose(self._psi, self._context(), temperature)
        self._from_swarm = use_swarm
        self._action = action
        return list(action)

    def greedy(self) -> list[float]:
        """The best action for the current state by the learned model (no exploration)."""
        return self.policy.greedy(self._psi, self._context())

    def commit(self, action: list[float]) -> None:
        """Record the action actually applied (e.g. after rounding to an integer knob)."""
        self._action = list(action)

    def reward(self, r: float) -> float:
        """Learn from the outcome of the last decision; return the TD error."""
        action = self._action
        if action is None:
            raise ValueError("reward: no decision is waiting for a reward; call decide() first")
        before = self.phase.phase
        expected = self.policy.predict(self._psi, self._context(), action)
        self._credit(action, r)
        if self._critic_on:
            delta = self.critic.reward(r)
            self._replay_critic()
        else:
            delta = r - expected
        self.phase.update(delta, r, expected)
        if self._swarm_asked and self._from_swarm:
            self.swarm.tell(self._swarm_point, delta)
            self._swarm_asked = False
        if self.phase.phase == "PLASMA" and before != "PLASMA":
            self._refit()
        if self._critic_on:
            self._previous = [self._psi, r]
        self._action = None
        self._from_swarm = False
        self.cycle += 1
        self.total_reward += r
        self.last_td_error = delta
        return delta

    def _context(self) -> list[float]:
        # What the action's effect may depend on: the standardised state, or with
        # ``interactions="rbf"`` also its RBF bumps (non-linear context dependence).
        if self.interactions == "rbf":
            return self._psi[1:]
        return self._z

    def _credit(self, action: list[float], r: float) -> None:
        # The model learns the discounted mean of the next ``horizon`` rewards, so an
        # action whose effect arrives late (a replica that boots, a battery that drains)
        # is credited with it. Each outcome is final once its horizon has passed.
        if self.horizon == 1:  # final at once: nothing stays open
            z = self._context()
            self.last_prediction_error = self.policy.learn(
                self._psi, z, action, r, self._forgetting()
            )
            self.recent.add([self._psi, z, action, r])
            return
        self._open.append([self._psi, self._context(), action, 0.0, 0])
        gamma = self.gamma
        for entry in self._open:
            entry[3] += r * gamma ** entry[4]
            entry[4] += 1
        while self._open and self._open[0][4] >= self.horizon:
            psi, z, done_action, total, _ = self._open.pop(0)
            target = total / self._return_norm
            self.last_prediction_error = self.policy.learn(
                psi, z, done_action, target, self._forgetting()
            )
            self.recent.add([psi, z, done_action, target])

    def _forgetting(self) -> float:
        # Forget faster while hot: a shifted world should be re-learned from new data.
        if self.forgetting == 1.0:  # nothing to speed up: every outcome is kept
            return 1.0
        t = self.phase.temperature
        boost = 1.0 + 8.0 * max(0.0, t - 0.4) / 0.6
        return 1.0 - (1.0 - self.forgetting) * boost

    def _refit(self) -> None:
        self.policy.reopen(self._prior_var * 0.1)
        for psi, z, action, r in self.recent.items()[-_REFIT:]:
            self.policy.learn(psi, z, action, r, self._forgetting())

    def _replay_critic(self) -> None:
        if len(self.transitions) < 16:
            return
        indices, items, weights = self.transitions.sample(1)
        critic = self.critic
        errors = []
        for (psi, r, psi_next), weight in zip(items, weights):
            target = r + critic.gamma * critic.value(psi_next)
            error = target - critic.value(psi)
            norm = sum([v * v for v in psi])
            step = 0.5 * critic.alpha * weight * error / norm
            critic.weights = [w + step * v for w, v in zip(critic.weights, psi)]
            errors.append(abs(error) + 1e-3)
        self.transitions.update(indices, errors)

    def metrics(self) -> dict:  # type: ignore[type-arg]
        """Learning signals for monitoring: phase, temperature, errors, counts."""
        out = self.phase.signals()
        out["cycle"] = self.cycle
        out["total_reward"] = self.total_reward
        out["td_error"] = self.last_td_error
        out["prediction_error"] = self.last_prediction_error
        out["model_samples"] = self.policy.count
        out["swarm_best"] = self.swarm.best_score
        return out

    def get_state(self) -> dict:  # type: ignore[type-arg]
        """Return the complete learner state as JSON-friendly data."""
        return {
            "rng": self.rng.get_state(),
            "normalizer": self.normalizer.get_state(),
            "critic": self.critic.get_state(),
            "phase": self.phase.get_state(),
            "policy": self.policy.get_state(),
            "swarm": self.swarm.get_state(),
            "recent": self.recent.get_state(),
            "transitions": self.transitions.get_state(),
            "cycle": self.cycle,
            "total_reward": self.total_reward,
            "errors": [self.last_td_error, self.last_prediction_error],
            "z": list(self._z),
            "observed": self._observed,
            "action": None if self._action is None else list(self._action),
            "swarm_flags": [self._from_swarm, self._swarm_asked],
            "swarm_point": list(self._swarm_point),
            "previous": self._previous,
            "open": self._open,
        }

    def set_state(self, state: dict) -> None:  # type: ignore[type-arg]
        """Restore a state produced by :meth:`get_state`."""
        self.rng.set_state(state["rng"])
        self.normalizer.set_state(state["normalizer"])
        self.critic.set_state(state["critic"])
        self.phase.set_state(state["phase"])
        self.policy.set_state(state["policy"])
        self.swarm.set_state(state["swarm"])
        self.recent.set_state(state["recent"])
        self.transitions.set_state(state["transitions"])
        self.cycle = int(state["cycle"])
        self.total_reward = float(state["total_reward"])
        self.last_td_error, self.last_prediction_error = [float(v) for v in state["errors"]]
        self._z = [float(v) for v in state["z"]]
        self._psi = state_features(self._z) if self._state_features else []
        self._observed = bool(state["observed"])
        action = state["action"]
        self._action = None if action is None else [float(v) for v in action]
        self._from_swarm, self._swarm_asked = [bool(v) for v in state["swarm_flags"]]
        self._swarm_point = [float(v) for v in state["swarm_point"]]
        self._previous = state["previous"]
        self._open = [list(entry) for entry in state["open"]]

    @property
    def observed(self) -> bool:
        """Whether a state has been observed yet."""
        return self._observed
