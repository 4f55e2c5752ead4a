"""The four exploration regimes as an Enum."""

from enum import Enum


class Phase(str, Enum):
    """The learner's exploration regime, from coldest to hottest.

    >>> Phase("GAS") is Phase.GAS, Phase.SOLID == "SOLID"
    (True, True)
    """

    SOLID = "SOLID"
    LIQUID = "LIQUID"
    GAS = "GAS"
    PLASMA = "PLASMA"
