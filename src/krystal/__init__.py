"""Krystal: adaptive intelligence for live systems.

Observe metrics, decide knob settings, reward the outcome; Krystal learns online which
settings work in which situation. ``import krystal`` needs nothing beyond the standard
library.

>>> from krystal import Krystal, KrystalConfig
>>> k = Krystal(KrystalConfig(seed=7))
>>> action = k.observe({"fps": 0.71, "gpu_temp": 0.83}).decide()
>>> len(action), all(0.0 <= a <= 1.0 for a in action)
(4, True)
>>> isinstance(k.reward(0.64), float)
True
"""

from krystal._errors import (
    ConfigError,
    InputError,
    KrystalError,
    MissingExtraError,
    StateFileError,
)
from krystal._version import __version__

# The agent layer is imported on first use, so ``import krystal`` costs almost nothing.
_AGENT_EXPORTS = (
    "Krystal",
    "KrystalConfig",
    "Phase",
    "create_game_optimizer",
    "create_iot_optimizer",
    "create_ml_optimizer",
    "create_server_optimizer",
    "health_check",
)


def __getattr__(name: str) -> object:
    if name in _AGENT_EXPORTS:
        from krystal import agent

        value = getattr(agent, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'krystal' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_AGENT_EXPORTS))


__all__ = [
    "ConfigError",
    "InputError",
    "Krystal",
    "KrystalConfig",
    "KrystalError",
    "MissingExtraError",
    "Phase",
    "StateFileError",
    "__version__",
    "create_game_optimizer",
    "create_iot_optimizer",
    "create_ml_optimizer",
    "create_server_optimizer",
    "health_check",
]
