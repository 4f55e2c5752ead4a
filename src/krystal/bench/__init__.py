"""The benchmark suite: Krystal beside the tools its users would pick instead.

Five sections, each a module following :mod:`krystal.bench._section`: contextual bandits
from classification data (``bandits``), black-box optimisation (``blackbox``), online
control in the domain simulators (``control``), setpoint control (``setpoint``) and speed
(``speed_peers``). :func:`run_suite` runs them and :func:`compare` checks a run against a
stored baseline. The peers live in the ``bench`` extra and are imported only when a
section runs.
"""

from krystal.bench._suite import SECTIONS, run_suite
from krystal.bench.compare import Tolerances, compare

__all__ = ["SECTIONS", "Tolerances", "compare", "run_suite"]
