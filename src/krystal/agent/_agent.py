"""``Krystal``: the observe -> decide -> reward agent over named metrics and knobs."""

import logging
import math
import os
from collections.abc import Callable, Mapping
from typing import Any, cast

from krystal._checks import finite_number
from krystal._errors import CallOrderError, ConfigError, InputError, StateFileError
from krystal._version import __version__
from krystal.agent._config import KrystalConfig
from krystal.agent._observations import KnownMetrics
from krystal.agent._phase import Phase
from krystal.agent._spaces import ActionSpace, Choice
from krystal.agent._state_file import read_state, write_state
from krystal.kernel.arms import ArmModels
from krystal.kernel.autotune import GainAdapter, RelayTuner
from krystal.kernel.features import action_size
from krystal.kernel.learner import Learner
from krystal.kernel.linear_model import BayesLinear
from krystal.kernel.pid import Pid
from krystal.kernel.rng import Rng
from krystal.kernel.swarm import ParticleSwarm

logger = logging.getLogger("krystal")

Action = list[float] | dict[str, Any]
Objective = Callable[[Any], float]


class Krystal:
    """An agent that learns online which action to take in which situation.

    ``observe(metrics)`` takes a dict of raw metric values, ``decide()`` returns the
    action and ``reward(r)`` scores it; the return value is the TD error.

    Metrics are matched by name, not by dict order: each name gets a feature slot the
    first time it is seen (the first dict's names in sorted order, later names appended).
    A name missing from a later observation counts as "unknown" (its running mean) for
    that step; a new name takes the next free slot, and a name beyond ``state_dim``
    slots is refused with :class:`~krystal.InputError`.

    Without a ``space``, ``decide()`` returns ``action_dim`` floats in [0, 1]; with a
    named space it returns a dict of typed values inside their bounds.

    >>> from krystal import Krystal, KrystalConfig
    >>> k = Krystal(KrystalConfig(seed=0), space={
    ...     "replicas": {"type": "int", "low": 1, "high": 8},
    ...     "cache": {"type": "bool"},
    ... })
    >>> action = k.observe({"latency_ms": 120.0, "rps": 900.0}).decide()
    >>> sorted(action), 1 <= action["replicas"] <= 8
    (['cache', 'replicas'], True)
    >>> isinstance(k.reward(0.5), float), k.cycle
    (True, 1)
    """

    def __init__(
        self,
        config: KrystalConfig | None = None,
        *,
        space: Mapping[str, Any] | ActionSpace | None = None,
        reward_fn: Callable[[dict[str, float]], float] | None = None,
    ) -> None:
        config = KrystalConfig() if config is None else config
        if not isinstance(config, KrystalConfig):
            raise InputError(f"config: expected a KrystalConfig, got {type(config).__name__}")
        self._space = None if space is None else ActionSpace.from_spec(space)
        if self._space is not None and len(self._space) != config.action_dim:
            config = _replace(config, action_dim=len(self._space))
        self._config = config
        self._reward_fn = reward_fn
        self._build()

    def _build(self) -> None:
        c = self._config
        # No seed: a fresh one from the OS, kept so that a saved agent resumes exactly.
        seed = int.from_bytes(os.urandom(6), "big") if c.seed is None else c.seed
        self._seed = seed
        arms = self._arms()
        self._learner = Learner(
            c.state_dim,
            c.action_dim,
            seed=seed,
            learning_rate=c.learning_rate,
            enable_phase=c.enable_phase,
            enable_swarm=c.enable_swarm,
            swarm_particles=c.swarm_particles,
            gamma=c.gamma,
            lam=c.trace_decay,
            forgetting=c.forgetting,
            prior_var=c.prior_variance,
            horizon=c.horizon,
            locality=c.locality,
            model=None if arms else _model(c),
            interactions=c.interactions,
            arms=arms,
            arm_model_type=_arm_model_type(c),
        )
        self._pid = Pid(
            c.pid_kp, c.pid_ki, c.pid_kd, out_min=c.pid_output_min, out_max=c.pid_output_max
        )
        self._metric_names: list[str] = []
        self._slots: dict[str, int] = {}
        self._last_action: Action | None = None
        self._pending = False
        self._known = KnownMetrics()
        self._missing_total = 0
        self._optimize_calls = 0
        self._autotune: _Autotune | None = None

    def _arms(self) -> list[list[float]] | None:
        # The arms policy assumes no order between options, so "auto" picks it where
        # an order would be invented: an all-discrete space with an unordered choice.
        policy = self._config.policy
        if policy == "surface":
            return None
        space = self._space
        points = None if space is None else space.points(MAX_ARMS)
        if policy == "arms":
            if points is None:
                raise ConfigError(
                    "policy: 'arms' needs a named action space of integer, choice and bool "
                    f"knobs with at most {MAX_ARMS} combinations"
                )
            return points
        if points is None or space is None:
            return None
        return points if any(isinstance(dim, Choice) for dim in space.values()) else None

    # -- the loop -------------------------------------------------------------------

    def observe(self, obs: Mapping[str, float]) -> "Krystal":
        """Record the current metrics (raw values; Krystal normalises them online)."""
        known = self._known.vector(obs)
        if known is not None:  # the usual case: exactly the metrics already seen
            if self._config.auto_reward and self._pending:
                values = dict(zip(self._metric_names, cast(list[float], known)))
                self.reward(self._auto_reward(values))
            self._learner.observe(known)
            return self
        values = self._check_observation(obs)
        new = sorted(name for name in values if name not in self._slots)
        if len(self._metric_names) + len(new) > self._config.state_dim:
            raise InputError(
                f"observe: {len(self._metric_names) + len(new)} distinct metrics but "
                f"state_dim={self._config.state_dim}; new metric(s) {new} do not fit "
                "(raise KrystalConfig.state_dim)"
            )
        if self._config.auto_reward and self._pending:
            self.reward(self._auto_reward(values))
        for name in new:
            self._slots[name] = len(self._metric_names)
            self._metric_names.append(name)
            if self._learner.cycle > 0:
                logger.info("observe: new metric %r takes feature slot %d", name, self._slots[name])
        vector: list[float | None] = [None] * self._config.state_dim
        for name, value in values.items():
            vector[self._slots[name]] = value
        self._missing_total += len(self._metric_names) - len(values)
        self._known.remember(self._metric_names, self._config.state_dim)
        self._learner.observe(vector)
        return self

    def decide(self, objective: Objective | None = None) -> Action:
        """Return the action for the current state.

        With ``objective`` (a function of an action returning a score to maximise),
        the learner's proposal competes with a short particle-swarm search of that
        objective and the better action is returned.
        """
        if not self._learner.observed:
            raise CallOrderError("decide() was called before any observe(); observe metrics first")
        snapshot = None if objective is None else self._learner.get_state()
        units = self._learner.decide()
        if self._space is not None:
            units = self._space.snap(units)
        if objective is not None:
            try:
                units = self._improve_with(objective, units)
            except InputError:
                assert snapshot is not None
                self._learner.set_state(snapshot)
                raise
        self._learner.commit(units)
        self._pending = True
        self._last_action = self._to_user(units)
        return self._last_action

    def reward(self, r: float) -> float:
        """Score the last decision (higher is better); return the TD error."""
        value = finite_number("reward", r)
        if not self._pending:
            raise CallOrderError(
                "reward() was called with no decision waiting; call decide() first"
            )
        self._pending = False
        return self._learner.reward(value)

    # -- other capabilities ---------------------------------------------------------

    def optimize(self, objective: Objective, iterations: int = 50) -> tuple[Action, float]:
        """Maximise ``objective(action)``; return (best action, score).

        Spends ``iterations * swarm_particles`` evaluations on :class:`krystal.optimize.Auto`
        (a model-based trust region from the centre, then CMA-ES restarts; noise-aware).
        ``benchmarks/blackbox.py`` compares it with Optuna, Nevergrad and pyswarms.

        >>> k = Krystal(KrystalConfig(action_dim=2, seed=1))
        >>> best, score = k.optimize(lambda a: -((a[0] - 0.3) ** 2 + (a[1] - 0.8) ** 2))
        >>> round(best[0], 1), round(best[1], 1), score > -1e-3
        (0.3, 0.8, True)
        """
        if not callable(objective):
            raise InputError(f"objective: expected a callable, got {type(objective).__name__}")
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
            raise InputError(f"iterations: expected a positive integer, got {iterations!r}")
        c = self._config
        # Imported here so that agents which never optimise do not pay for it at import.
        from krystal.optimize import Auto

        # A stream of its own: optimising never disturbs the learner's decisions, and a
        # refused objective leaves nothing changed.
        rng = Rng(self._seed * 1_000_003 + self._optimize_calls + 1)
        budget = iterations * c.swarm_particles
        optimizer = Auto(c.action_dim, budget=budget, seed=rng)
        for _ in range(budget):
            position = optimizer.ask()
            optimizer.tell(position, finite_number("objective", objective(self._to_user(position))))
        best, score = optimizer.recommend()
        self._optimize_calls += 1
        return self._to_user(best), score

    def control(self, setpoint: float, current: float, dt: float = 1.0) -> float:
        """One PID step towards ``setpoint`` from the measured ``current``; returns the output.

        >>> k = Krystal(KrystalConfig(pid_kp=0.5, pid_ki=0.0))
        >>> k.control(setpoint=10.0, current=8.0)
        1.0
        """
        target = finite_number("setpoint", setpoint)
        measured = finite_number("current", current)
        step = finite_number("dt", dt)
        if step <= 0.0:
            raise InputError(f"dt: expected a positive number of seconds, got {dt!r}")
        if self._autotune is not None:
            return self._autotune.control(self._pid, target, measured, step)
        return self._pid.update(measured, step, setpoint=target)

    def autotune(
        self,
        amplitude: float,
        *,
        bias: float = 0.0,
        hysteresis: float = 0.0,
        cycles: int = 3,
        rule: str = "tyreus_luyben_pi",
        adapt: bool = True,
        settle_window: int = 50,
        settle_band: float = 0.05,
        max_time: float = math.inf,
    ) -> "Krystal":
        """Let :meth:`control` find its own gains, and keep them right as the plant drifts.

        The next ``control()`` calls run a relay experiment (output ``bias ± amplitude``,
        switching as the measurement crosses the setpoint) until ``cycles`` limit cycles
        are measured, then switch to PID with gains from ``rule`` (``"tyreus_luyben_pi"``,
        ``"tyreus_luyben"`` or ``"ziegler_nichols"``); with ``adapt`` the gains are then
        rescaled by the plant gain estimated from settled stretches: ``settle_window``
        calls within a band of ``settle_band`` (see :mod:`krystal.kernel.autotune`).
        ``control()`` keeps
        its contract: one output per call. If no limit cycle shows within ``max_time``
        seconds (of summed ``dt``), the configured gains stay. The experiment in progress
        and the adapter are not saved by :meth:`save` (the gains in use are).

        >>> k = Krystal(KrystalConfig(pid_output_min=-5.0, pid_output_max=5.0))
        >>> y, dt = 0.0, 0.05
        >>> _ = k.autotune(amplitude=1.0, bias=0.5)
        >>> for _ in range(2000):  # plant dy/dt = u - y, reached through a 0.25 s delay
        ...     u = k.control(setpoint=1.0, current=y, dt=dt)
        ...     y += (u - y) * dt  # (delay omitted here for brevity)
        >>> k.get_metrics()["autotune"]["state"], round(y, 2)
        ('adapting', 1.0)
        """
        amplitude = finite_number("amplitude", amplitude)
        if amplitude <= 0.0:
            raise InputError(f"amplitude: expected a positive number, got {amplitude!r}")
        if rule not in ("tyreus_luyben_pi", "tyreus_luyben", "ziegler_nichols"):
            raise InputError(
                "rule: expected 'tyreus_luyben_pi', 'tyreus_luyben' or 'ziegler_nichols', "
                f"got {rule!r}"
            )
        if isinstance(cycles, bool) or not isinstance(cycles, int) or cycles < 2:
            raise InputError(f"cycles: expected an integer >= 2, got {cycles!r}")
        if isinstance(settle_window, bool) or not isinstance(settle_window, int):
            raise InputError(f"settle_window: expected an integer >= 2, got {settle_window!r}")
        if settle_window < 2:
            raise InputError(f"settle_window: expected an integer >= 2, got {settle_window!r}")
        if not (isinstance(max_time, (int, float)) and max_time > 0) or isinstance(max_time, bool):
            raise InputError(f"max_time: expected a positive number of seconds, got {max_time!r}")
        band = finite_number("settle_band", settle_band)
        if band <= 0.0:
            raise InputError(f"settle_band: expected a positive number, got {settle_band!r}")
        relay = RelayTuner(
            0.0,
            amplitude,
            bias=finite_number("bias", bias),
            hysteresis=abs(finite_number("hysteresis", hysteresis)),
            cycles=cycles,
            max_time=max_time,
        )
        self._autotune = _Autotune(relay, rule, GainAdapter(settle_window, band) if adapt else None)
        return self

    def get_phase(self) -> str:
        """The current exploration phase: ``SOLID``, ``LIQUID``, ``GAS`` or ``PLASMA``."""
        return Phase(self._learner.phase.phase).value

    def get_metrics(self) -> dict[str, Any]:
        """Learning and health signals: phase, temperature, TD error, counts."""
        out = self._learner.metrics()
        out.update(
            {
                "metric_names": list(self._metric_names),
                "missing_values": self._missing_total,
                "action_dim": self._config.action_dim,
                "state_dim": self._config.state_dim,
                "mean_reward": self.total_reward / self.cycle if self.cycle else 0.0,
            }
        )
        if self._autotune is not None:
            out["autotune"] = self._autotune.describe()
        return out

    # -- persistence ----------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the agent to ``path`` atomically (see :mod:`krystal.agent._state_file`)."""
        write_state(
            path,
            {
                "krystal_version": __version__,
                "config": self._config.to_dict(),
                "space": None if self._space is None else self._space.to_spec(),
                "metrics": list(self._metric_names),
                "learner": self._learner.get_state(),
                "agent": {
                    "pid": self._pid.get_state(),
                    "pending": self._pending,
                    "last_action": self._last_action,
                    "missing_total": self._missing_total,
                    "optimize_calls": self._optimize_calls,
                    "seed": self._seed,
                },
            },
        )

    def load(self, path: str | os.PathLike[str]) -> "Krystal":
        """Replace this agent's state with the one saved at ``path``.

        A corrupt, truncated or foreign-version file raises
        :class:`~krystal.StateFileError` and leaves this agent exactly as it was.
        """
        document = read_state(path)
        try:
            fresh = Krystal(
                KrystalConfig.from_dict(document["config"]),
                space=document["space"],
                reward_fn=self._reward_fn,
            )
            fresh._learner.set_state(document["learner"])
            agent = document["agent"]
            fresh._pid.set_state(agent["pid"])
            fresh._metric_names = [str(n) for n in document["metrics"]]
            fresh._slots = {name: i for i, name in enumerate(fresh._metric_names)}
            fresh._pending = bool(agent["pending"])
            fresh._last_action = agent["last_action"]
            fresh._missing_total = int(agent["missing_total"])
            fresh._optimize_calls = int(agent.get("optimize_calls", 0))
            fresh._seed = int(agent.get("seed", fresh._seed))
        except StateFileError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise StateFileError(f"{path}: agent file content is invalid: {exc!r}") from exc
        self.__dict__.update(fresh.__dict__)
        return self

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> "Krystal":
        """Build an agent from a saved file."""
        return cls().load(path)

    # -- properties -----------------------------------------------------------------

    @property
    def cycle(self) -> int:
        """Number of rewarded decisions so far."""
        return self._learner.cycle

    @property
    def total_reward(self) -> float:
        """Sum of all rewards so far."""
        return self._learner.total_reward

    @property
    def last_action(self) -> Action | None:
        """The most recent decision, or ``None`` before the first."""
        return self._last_action

    @property
    def seed(self) -> int:
        """The seed in use: the configured one, or the one drawn when none was given."""
        return self._seed

    @property
    def config(self) -> KrystalConfig:
        """The agent's settings."""
        return self._config

    @property
    def space(self) -> ActionSpace | None:
        """The named action space, or ``None`` on the plain-vector path."""
        return self._space

    @property
    def phase_history(self) -> list[tuple[int, str]]:
        """``(cycle, phase)`` for each phase change, oldest first."""
        return [(int(c), str(p)) for c, p in self._learner.phase.history]

    # -- helpers --------------------------------------------------------------------

    def _to_user(self, units: list[float]) -> Action:
        if self._space is None:
            return list(units)
        return self._space.decode(units)

    def _improve_with(self, objective: Objective, units: list[float]) -> list[float]:
        best, best_score = units, finite_number("objective", objective(self._to_user(units)))
        c = self._config
        swarm = ParticleSwarm(c.action_dim, self._learner.rng, particles=c.swarm_particles)
        for _ in range(4 * c.swarm_particles):
            position = swarm.ask()
            score = finite_number("objective", objective(self._to_user(position)))
            swarm.tell(position, score)
            if score > best_score:
                best, best_score = position, score
        return best if self._space is None else self._space.snap(best)

    def _auto_reward(self, values: dict[str, float]) -> float:
        if self._reward_fn is not None:
            return finite_number("reward_fn", self._reward_fn(values))
        return sum(values.values()) / len(values)

    def _check_observation(self, obs: Mapping[str, float]) -> dict[str, float]:
        if not isinstance(obs, Mapping):
            raise InputError(
                f"observe: expected a dict of metric name -> number, got {type(obs).__name__}"
            )
        if not obs:
            raise InputError("observe: expected at least one metric, got an empty dict")
        values: dict[str, float] = {}
        for name, value in obs.items():
            if not isinstance(name, str) or not name:
                raise InputError(f"observe: metric names must be non-empty strings, got {name!r}")
            values[name] = finite_number(name, value)
        return values

    def __repr__(self) -> str:
        return (
            f"Krystal(cycle={self.cycle}, phase={self.get_phase()}, "
            f"action_dim={self._config.action_dim}, named={self._space is not None})"
        )


MAX_ARMS = 64
"""The most combinations of discrete knobs the arms policy enumerates."""


class _Autotune:
    """The relay experiment, then PID whose gains follow the estimated plant gain."""

    def __init__(self, relay: RelayTuner, rule: str, adapter: GainAdapter | None) -> None:
        self.relay: RelayTuner | None = relay
        self.rule = rule
        self.adapter = adapter
        self.tuned: tuple[float, float, float] | None = None
        self.last_output: float | None = None
        self.failed = False

    def control(self, pid: Pid, target: float, measured: float, dt: float) -> float:
        if self.adapter is not None and self.last_output is not None:
            self.adapter.update(self.last_output, measured)
        relay = self.relay
        if relay is not None:
            relay.setpoint = target
            out = relay.update(measured, dt)
            if not relay.done:
                out = min(pid.out_max, max(pid.out_min, out))
                self.last_output = out
                return out
            self.relay = None
            if relay.failed:
                logger.warning("autotune: no limit cycle; keeping the configured gains")
                self.failed, self.adapter = True, None
            else:
                self.tuned = relay.gains(self.rule)
                state = pid.get_state()
                # Start the integral where the relay held the output on average.
                state.update(kp=self.tuned[0], ki=self.tuned[1], kd=self.tuned[2])
                state.update(integral=relay.bias, prev_measurement=None)
                pid.set_state(state)
        if self.adapter is not None and self.tuned is not None:
            s = self.adapter.scale()
            pid.set_gains(self.tuned[0] * s, self.tuned[1] * s, self.tuned[2] * s)
        out = pid.update(measured, dt, setpoint=target)
        self.last_output = out
        return out

    def describe(self) -> dict[str, Any]:
        if self.relay is not None:
            state = "relay"
        elif self.failed:
            state = "failed"
        else:
            state = "adapting" if self.adapter else "tuned"
        out: dict[str, Any] = {"state": state, "rule": self.rule, "tuned_gains": self.tuned}
        if self.adapter is not None:
            out["plant_gain"] = self.adapter.gain
            out["gain_scale"] = self.adapter.scale()
        return out


def _model(config: KrystalConfig) -> BayesLinear | None:
    """The reward model for the configured backend (None: the kernel's own)."""
    if config.backend != "numpy":
        return None
    from krystal.agent._numpy_model import NumpyBayesLinear

    context = config.state_dim * (4 if config.interactions == "rbf" else 1)
    size = action_size(config.state_dim, config.action_dim, context)
    model = NumpyBayesLinear(size, config.prior_variance, config.forgetting)
    return cast(BayesLinear, model)


def _arm_model_type(config: KrystalConfig) -> type[ArmModels]:
    """The class of the arms' reward models for the configured backend."""
    if config.backend != "numpy":
        return ArmModels
    from krystal.agent._numpy_arms import NumpyArmModels

    return cast(type[ArmModels], NumpyArmModels)


def _replace(config: KrystalConfig, **changes: Any) -> KrystalConfig:
    data = config.to_dict()
    data.update(changes)
    return KrystalConfig.from_dict(data)
