"""Domain presets: a named action space, a default setting and a reward helper each.

Each preset is what a user of that domain would otherwise write by hand: the knobs with
their real bounds, the setting they would start from, learner settings that suit the
domain (``horizon`` is the number of steps over which an action's effect shows, e.g. a
replica's cold start), and a function that turns the domain's metrics into a reward.
"""

import math
from collections.abc import Callable
from typing import Any

from krystal._errors import InputError
from krystal.agent._agent import Krystal
from krystal.agent._config import KrystalConfig


def _softplus(x: float, sharpness: float = 1.0) -> float:
    return math.log1p(math.exp(-abs(x * sharpness))) / sharpness + max(x, 0.0)


def game_reward(frame_time_ms: float, quality: float, budget_ms: float = 1000.0 / 60.0) -> float:
    """Visual quality (0-1) minus a penalty for frames over budget, worse under 30 fps.

    >>> round(game_reward(12.0, 0.8), 3), game_reward(40.0, 0.8) < 0
    (0.799, True)
    """
    penalty = 0.08 * _softplus(frame_time_ms - budget_ms) + 0.10 * _softplus(
        frame_time_ms - 2.0 * budget_ms
    )
    return max(-1.0, min(1.0, quality - penalty))


def server_reward(slo_attainment: float, replicas: int, cost_per_replica: float = 0.04) -> float:
    """Share of requests within the latency SLO minus the cost of the replicas.

    >>> round(server_reward(0.99, 3), 2)
    0.87
    """
    return slo_attainment - cost_per_replica * replicas


def ml_reward(previous_val_loss: float, val_loss: float, compute: float) -> float:
    """Relative validation-loss improvement per unit of compute (positive is progress).

    >>> ml_reward(0.5, 0.45, compute=2.0) > ml_reward(0.5, 0.45, compute=4.0) > 0
    True
    """
    if compute <= 0.0:
        raise InputError(f"compute: expected a positive amount, got {compute!r}")
    return (previous_val_loss - val_loss) / max(previous_val_loss, 1e-12) / compute


def iot_reward(
    delivered_hz: float, energy_mah: float, browned_out: bool, price: float = 0.05
) -> float:
    """Usefulness of the delivered sample rate minus energy, and -0.5 while browned out.

    >>> iot_reward(2.0, 1.0, False) > iot_reward(2.0, 3.0, False) > iot_reward(2.0, 0.0, True)
    True
    """
    if browned_out:
        return -0.5
    return 1.0 - math.exp(-delivered_hz / 2.0) - price * energy_mah


class Preset:
    """A domain preset: space, default action, learner settings and reward helper."""

    def __init__(
        self,
        name: str,
        description: str,
        space: dict[str, dict[str, Any]],
        default_action: dict[str, Any],
        reward: Callable[..., float],
        settings: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.description = description
        self.space = space
        self.default_action = default_action
        self.reward = reward
        self.settings = dict(settings or {})

    def create(self, seed: int | None = None, **overrides: Any) -> Krystal:
        """A new agent for this domain; ``overrides`` change any KrystalConfig field."""
        values: dict[str, Any] = {"seed": seed, "state_dim": 8, **self.settings, **overrides}
        return Krystal(KrystalConfig.from_dict(values), space=self.space)

    def __repr__(self) -> str:
        return f"Preset({self.name!r})"


PRESETS: dict[str, Preset] = {
    "game": Preset(
        "game",
        "Quality settings of a GPU-bound game: best look that holds 60 fps.",
        {
            "resolution_scale": {"type": "float", "low": 0.5, "high": 1.0},
            "shadow_quality": {"type": "int", "low": 0, "high": 3},
            "texture_quality": {"type": "choice", "options": ["low", "medium", "high", "ultra"]},
            "ray_tracing": {"type": "bool"},
        },
        {
            "resolution_scale": 1.0,
            "shadow_quality": 2,
            "texture_quality": "high",
            "ray_tracing": False,
        },
        game_reward,
    ),
    "server": Preset(
        "server",
        "Replicas and per-replica concurrency of a service: meet the SLO cheaply.",
        {
            "replicas": {"type": "int", "low": 1, "high": 16},
            "concurrency": {"type": "int", "low": 1, "high": 32},
        },
        {"replicas": 4, "concurrency": 8},
        server_reward,
        {"horizon": 8},
    ),
    "ml": Preset(
        "ml",
        "Learning rate, momentum and batch size along a training run.",
        {
            "learning_rate": {"type": "float", "low": 0.001, "high": 1.0, "log": True},
            "momentum": {"type": "float", "low": 0.0, "high": 0.99},
            "batch_size": {"type": "choice", "options": [8, 16, 32, 64, 128]},
        },
        {"learning_rate": 0.01, "momentum": 0.9, "batch_size": 32},
        ml_reward,
        {"horizon": 4},
    ),
    "iot": Preset(
        "iot",
        "Sampling rate, radio power and duty cycle of a solar-powered sensor node.",
        {
            "sampling_hz": {"type": "float", "low": 0.1, "high": 10.0, "log": True},
            "radio_power": {"type": "int", "low": 0, "high": 3},
            "duty_cycle": {"type": "float", "low": 0.05, "high": 1.0},
        },
        {"sampling_hz": 1.0, "radio_power": 2, "duty_cycle": 0.5},
        iot_reward,
        {"horizon": 4},
    ),
}

PRESET_NAMES = tuple(PRESETS)


def get_preset(domain: str) -> Preset:
    """The preset for ``domain`` (one of ``PRESET_NAMES``).

    >>> get_preset("server").default_action
    {'replicas': 4, 'concurrency': 8}
    """
    try:
        return PRESETS[domain]
    except (KeyError, TypeError):
        raise InputError(
            f"domain: expected one of {', '.join(PRESET_NAMES)}, got {domain!r}"
        ) from None


def create_game_optimizer(seed: int | None = None, **overrides: Any) -> Krystal:
    """An agent for game quality settings (see :data:`PRESETS`)."""
    return PRESETS["game"].create(seed, **overrides)


def create_server_optimizer(seed: int | None = None, **overrides: Any) -> Krystal:
    """An agent for service replicas and concurrency."""
    return PRESETS["server"].create(seed, **overrides)


def create_ml_optimizer(seed: int | None = None, **overrides: Any) -> Krystal:
    """An agent for training hyper-parameters along a run."""
    return PRESETS["ml"].create(seed, **overrides)


def create_iot_optimizer(seed: int | None = None, **overrides: Any) -> Krystal:
    """An agent for a sensor node's sampling, radio and duty cycle."""
    return PRESETS["iot"].create(seed, **overrides)
