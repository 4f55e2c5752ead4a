"""The agent API: the ergonomic CPython layer over the kernel (standard library only)."""

from krystal.agent._agent import Krystal
from krystal.agent._config import KrystalConfig
from krystal.agent._health import health_check
from krystal.agent._phase import Phase
from krystal.agent._presets import (
    PRESET_NAMES,
    PRESETS,
    Preset,
    create_game_optimizer,
    create_iot_optimizer,
    create_ml_optimizer,
    create_server_optimizer,
    game_reward,
    get_preset,
    iot_reward,
    ml_reward,
    server_reward,
)
from krystal.agent._spaces import ActionSpace, Boolean, Choice, Dimension, FloatRange, Integer

__all__ = [
    "PRESETS",
    "PRESET_NAMES",
    "ActionSpace",
    "Boolean",
    "Choice",
    "Dimension",
    "FloatRange",
    "Integer",
    "Krystal",
    "KrystalConfig",
    "Phase",
    "Preset",
    "create_game_optimizer",
    "create_iot_optimizer",
    "create_ml_optimizer",
    "create_server_optimizer",
    "game_reward",
    "get_preset",
    "health_check",
    "iot_reward",
    "ml_reward",
    "server_reward",
]
