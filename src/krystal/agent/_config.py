"""``KrystalConfig``: every setting of an agent, validated when it is built."""

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from krystal._errors import ConfigError


@dataclass(frozen=True)
class KrystalConfig:
    """Settings of a :class:`~krystal.Krystal` agent.

    The first seven fields are the published contract; the rest tune the learner.

    >>> KrystalConfig(state_dim=4, seed=1).action_dim
    4
    >>> KrystalConfig(learning_rate=2.0)
    Traceback (most recent call last):
    ...
    krystal._errors.ConfigError: learning_rate: expected a number in (0, 1], got 2.0
    """

    state_dim: int = 8
    action_dim: int = 4
    learning_rate: float = 0.1
    swarm_particles: int = 5
    enable_phase: bool = True
    enable_swarm: bool = True
    auto_reward: bool = False
    seed: int | None = None
    gamma: float = 0.9
    trace_decay: float = 0.8
    forgetting: float = 0.995
    prior_variance: float = 10.0
    horizon: int = 1
    locality: float = 0.15
    backend: str = "python"
    interactions: str = "linear"
    policy: str = "auto"
    pid_kp: float = 1.0
    pid_ki: float = 0.1
    pid_kd: float = 0.0
    pid_output_min: float = -math.inf
    pid_output_max: float = math.inf

    def __post_init__(self) -> None:
        _integer(self, "state_dim", 1, 4096)
        _integer(self, "action_dim", 1, 256)
        _integer(self, "swarm_particles", 2, 1000)
        _integer(self, "horizon", 1, 64)
        if self.interactions not in ("linear", "rbf"):
            _fail("interactions", self.interactions, "'linear' or 'rbf'")
        if self.backend not in ("python", "numpy"):
            _fail("backend", self.backend, "'python' or 'numpy'")
        if self.policy not in ("auto", "surface", "arms"):
            _fail("policy", self.policy, "'auto', 'surface' or 'arms'")
        for name in ("enable_phase", "enable_swarm", "auto_reward"):
            if not isinstance(getattr(self, name), bool):
                _fail(name, getattr(self, name), "true or false")
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int)
        ):
            _fail("seed", self.seed, "an integer or None")
        _number(self, "learning_rate", 0.0, 1.0, "a number in (0, 1]", low_open=True)
        _number(self, "gamma", 0.0, 0.999, "a number in [0, 0.999]")
        _number(self, "trace_decay", 0.0, 1.0, "a number in [0, 1]")
        _number(self, "forgetting", 0.9, 1.0, "a number in [0.9, 1]")
        _number(self, "prior_variance", 0.0, 1e6, "a number in (0, 1e6]", low_open=True)
        _number(self, "locality", 0.0, 10.0, "a number in [0, 10] (0 turns local weighting off)")
        for name in ("pid_kp", "pid_ki", "pid_kd"):
            _number(self, name, 0.0, 1e9, "a non-negative number")
        for name in ("pid_output_min", "pid_output_max"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
                _fail(name, value, "a number (inf allowed)")
        if self.pid_output_min >= self.pid_output_max:
            _fail("pid_output_max", self.pid_output_max, "a number above pid_output_min")

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as a plain dict (infinite limits become strings)."""
        out = asdict(self)
        for key in ("pid_output_min", "pid_output_max"):
            if math.isinf(out[key]):
                out[key] = "inf" if out[key] > 0 else "-inf"
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "KrystalConfig":
        """Build a config from a dict; unknown keys are an error.

        >>> KrystalConfig.from_dict({"state_dim": 3}).state_dim
        3
        >>> KrystalConfig.from_dict({"state_dims": 3})
        Traceback (most recent call last):
        ...
        krystal._errors.ConfigError: state_dims: unknown setting; expected one of action_dim, ...
        """
        if not isinstance(data, dict):
            raise ConfigError(f"config: expected a mapping of settings, got {type(data).__name__}")
        names = [f.name for f in fields(cls)]
        for key in data:
            if key not in names:
                raise ConfigError(
                    f"{key}: unknown setting; expected one of {', '.join(sorted(names))}"
                )
        values = dict(data)
        for key in ("pid_output_min", "pid_output_max"):
            if isinstance(values.get(key), str):
                try:
                    values[key] = float(values[key])
                except ValueError:
                    _fail(key, values[key], "a number (inf allowed)")
        return cls(**values)


def _fail(name: str, value: object, expected: str) -> None:
    raise ConfigError(f"{name}: expected {expected}, got {value!r}")


def _integer(config: KrystalConfig, name: str, low: int, high: int) -> None:
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        _fail(name, value, f"an integer in [{low}, {high}]")


def _number(
    config: KrystalConfig,
    name: str,
    low: float,
    high: float,
    expected: str,
    low_open: bool = False,
) -> None:
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        _fail(name, value, expected)
    if value > high or value < low or (low_open and value == low):
        _fail(name, value, expected)
