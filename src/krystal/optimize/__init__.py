"""Black-box optimisation over a bounded box, ask/tell or in one call.

Standard library only, like the agent API that uses it. Every optimiser maximises a score
over ``[low, high]`` with ``ask()`` / ``tell(x, score)`` / ``recommend()``; ``optimize()``
runs one to the end of a budget. ``Auto`` (the default, and what ``Krystal.optimize()``
uses) is the portfolio that won the black-box section of the benchmark suite
(``python benchmarks/blackbox.py``); ``CMAES`` and ``RandomSearch`` are its parts and
its baseline.

>>> from krystal.optimize import Auto
>>> opt = Auto(1, low=[0.0], high=[4.0], budget=60, seed=0)
>>> for _ in range(60):
...     x = opt.ask()
...     opt.tell(x, -((x[0] - 3.0) ** 2))
>>> round(opt.recommend()[0][0], 3)
3.0
"""

from krystal.optimize._auto import Auto
from krystal.optimize._base import Optimizer
from krystal.optimize._cmaes import CMAES
from krystal.optimize._random import RandomSearch
from krystal.optimize._run import METHODS, make_optimizer, optimize

__all__ = ["CMAES", "METHODS", "Auto", "Optimizer", "RandomSearch", "make_optimizer", "optimize"]
