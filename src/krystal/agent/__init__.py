"""The agent API: the ergonomic CPython layer over the kernel (standard library only)."""

from krystal.agent._agent import Krystal
from krystal.agent._config import KrystalConfig
from krystal.agent._phase import Phase
from krystal.agent._spaces import ActionSpace, Boolean, Choice, Dimension, FloatRange, Integer

__all__ = [
    "ActionSpace",
    "Boolean",
    "Choice",
    "Dimension",
    "FloatRange",
    "Integer",
    "Krystal",
    "KrystalConfig",
    "Phase",
]
