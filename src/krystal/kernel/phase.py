"""The phase engine: one exploration temperature, read as four regimes.

The temperature ``T`` in [0, 1] is the learner's own judgement of how much it should
explore, driven by three signals it computes from itself:

- surprise: the mean ``|TD error|`` of the last ``window`` steps over its mean of the
  last ``memory`` steps. A world that shifts makes the learner's predictions wrong at
  once, before rewards trend anywhere; heat starts when the ratio passes
  ``surprise_threshold`` (1.5 by default: a burst of traffic or a cloud is not a shift).
- trend: the recent mean of ``reward - expected reward`` against its long-run mean, in
  standard deviations. Rewards falling more than ``trend_threshold`` deviations below
  what the learner predicts heat; a drop it predicted (a quiet hour, nightfall) does
  not, nor does a rise.
- stagnation: how long the long-run reward has gone without a new best, as a fraction
  of ``patience``. Being stuck warms a little, never past LIQUID on its own.

On top sits an annealing floor that starts hot and cools with experience. The
temperature rises quickly towards its target and cools slowly (a shifted world needs
exploration now; a calm one earns exploitation gradually). The four phases are bands of
``T`` with a small hysteresis so the label does not flicker:

    SOLID  [0, 0.15)   exploit: actions stay close to the model's best
    LIQUID [0.15, 0.4) local refinement
    GAS    [0.4, 0.7)  broad exploration
    PLASMA [0.7, 1]    re-learning after a surprise: widest exploration, fast forgetting
"""

import math

PHASES = ("SOLID", "LIQUID", "GAS", "PLASMA")
BOUNDARIES = (0.15, 0.4, 0.7)
_HYSTERESIS = 0.03
# Each phase's label holds while the temperature stays in [low, high): its band widened
# by the hysteresis on every side that has a neighbour.
_BANDS = {
    name: (
        BOUNDARIES[i - 1] - _HYSTERESIS if i > 0 else -1.0,
        BOUNDARIES[i] + _HYSTERESIS if i < len(BOUNDARIES) else 2.0,
    )
    for i, name in enumerate(PHASES)
}


def phase_of(temperature: float) -> str:
    """Return the phase band that contains ``temperature``.

    >>> [phase_of(t) for t in (0.05, 0.2, 0.5, 0.9)]
    ['SOLID', 'LIQUID', 'GAS', 'PLASMA']
    """
    for i, bound in enumerate(BOUNDARIES):
        if temperature < bound:
            return PHASES[i]
    return PHASES[-1]


class PhaseEngine:
    """Exploration temperature driven by surprise, reward trend and stagnation.

    >>> engine = PhaseEngine(initial_temperature=0.6, anneal_steps=50)
    >>> for _ in range(400):
    ...     _ = engine.update(td_error=0.1, reward=1.0)
    >>> engine.phase
    'SOLID'
    >>> for _ in range(10):
    ...     _ = engine.update(td_error=3.0, reward=-1.0)
    >>> engine.phase in ("GAS", "PLASMA")
    True
    """

    def __init__(
        self,
        initial_temperature: float = 0.6,
        anneal_steps: float = 300.0,
        patience: float = 400.0,
        enabled: bool = True,
        history_limit: int = 256,
        window: float = 30.0,
        memory: float = 300.0,
        surprise_threshold: float = 1.5,
        trend_threshold: float = 1.0,
    ) -> None:
        if not 0.0 <= initial_temperature <= 1.0:
            raise ValueError(
                "initial_temperature: expected a number in [0, 1], got " + repr(initial_temperature)
            )
        if anneal_steps <= 0.0:
            raise ValueError("anneal_steps: expected a positive number, got " + repr(anneal_steps))
        if patience <= 0.0:
            raise ValueError("patience: expected a positive number, got " + repr(patience))
        self.initial_temperature = float(initial_temperature)
        self.anneal_steps = float(anneal_steps)
        self.patience = float(patience)
        self.enabled = bool(enabled)
        self.history_limit = int(history_limit)
        if not 1.0 <= window < memory:
            raise ValueError("window: expected 1 <= window < memory, got " + repr(window))
        self.surprise_threshold = float(surprise_threshold)
        self.trend_threshold = float(trend_threshold)
        self._fast_rate = 1.0 / window
        self._slow_rate = 1.0 / memory
        self.temperature = self.initial_temperature
        self.phase = phase_of(self.temperature)
        self.history: list[list] = [[0, self.phase]]  # type: ignore[type-arg]
        self.steps = 0
        self.surprise = 1.0
        self.trend = 0.0
        self.stagnation = 0.0
        self.heat = 0.0
        self._td_fast = 0.0
        self._td_slow = 0.0
        self._r_fast = 0.0
        self._r_slow = 0.0
        self._r_var = 0.0
        self._level = 0.0
        self._best = -1e300
        self._since_best = 0

    def update(self, td_error: float, reward: float, expected: float | None = None) -> float:
        """Fold in one step's TD error and reward; return the new temperature.

        ``expected`` is the reward the learner predicted for this step, if it has a
        prediction: the trend is then measured on ``reward - expected``, so a drop the
        learner saw coming (night falls, traffic ebbs) does not count as a change.
        """
        n = self.steps + 1
        self.steps = n
        first = 1.0 / n
        # Surprise is averaged over ``window`` steps against ``memory`` steps: a short
        # burst (a traffic spike, a cloud) must not read as a changed world. The reward
        # trend, already corrected for what the learner expects, reacts faster.
        # (Written with locals and inline max/clip: this runs on every reward.)
        magnitude = abs(td_error)
        rate = self._fast_rate
        td_fast = self._td_fast
        td_fast += (first if first > rate else rate) * (magnitude - td_fast)
        rate = self._slow_rate
        td_slow = self._td_slow
        td_slow += (first if first > rate else rate) * (magnitude - td_slow)
        self._td_fast, self._td_slow = td_fast, td_slow
        fast = first if first > 0.1 else 0.1
        slow = first if first > 0.01 else 0.01
        residual = reward if expected is None else reward - expected
        r_slow = self._r_slow
        delta = residual - r_slow
        r_fast = self._r_fast
        r_fast += fast * (residual - r_fast)
        r_slow += slow * delta
        r_var = (1.0 - slow) * (self._r_var + slow * delta * delta)
        level = self._level
        level += slow * (reward - level)
        self._r_fast, self._r_slow, self._r_var, self._level = r_fast, r_slow, r_var, level

        std = math.sqrt(r_var) + 1e-12
        surprise = td_fast / (td_slow + 1e-12 * (1.0 + magnitude))
        trend = (r_fast - r_slow) / std
        self.surprise, self.trend = surprise, trend
        if n > 20 and level > self._best + 0.05 * std:
            self._best = level
            self._since_best = 0
        else:
            self._since_best += 1
        stagnation = self._since_best / self.patience
        if stagnation > 1.0:
            stagnation = 1.0
        self.stagnation = stagnation

        floor = self.initial_temperature * math.exp(-n / self.anneal_steps)
        heat = 0.0
        if self.enabled and n > 30:
            heat += 0.35 * _clip(surprise - self.surprise_threshold, 0.0, 2.0)
            heat += 0.2 * _clip(-trend - self.trend_threshold, 0.0, 2.0)
            heat += 0.1 * stagnation
        self.heat = heat
        target = floor + heat
        if target > 1.0:
            target = 1.0
        temperature = self.temperature
        rate = 0.3 if target > temperature else 0.02
        temperature += rate * (target - temperature)
        self.temperature = temperature
        self._relabel()
        return temperature

    def _relabel(self) -> None:
        t = self.temperature
        low, high = _BANDS[self.phase]
        if low <= t < high:  # still within its phase's band (hysteresis included)
            return
        self.phase = phase_of(t)
        self.history.append([self.steps, self.phase])
        if len(self.history) > self.history_limit:
            self.history = self.history[-self.history_limit :]

    def signals(self) -> dict:  # type: ignore[type-arg]
        """Return the current temperature, phase and the signals behind them."""
        return {
            "temperature": self.temperature,
            "phase": self.phase,
            "surprise": self.surprise,
            "trend": self.trend,
            "stagnation": self.stagnation,
            "heat": self.heat,
        }

    def get_state(self) -> dict:  # type: ignore[type-arg]
        """Return the engine state as JSON-friendly data."""
        return {
            "temperature": self.temperature,
            "phase": self.phase,
            "history": [list(h) for h in self.history],
            "steps": self.steps,
            "ema": [
                self._td_fast,
                self._td_slow,
                self._r_fast,
                self._r_slow,
                self._r_var,
                self._level,
            ],
            "best": self._best,
            "since_best": self._since_best,
            "signals": [self.surprise, self.trend, self.stagnation, self.heat],
        }

    def set_state(self, state: dict) -> None:  # type: ignore[type-arg]
        """Restore a state produced by :meth:`get_state`."""
        if state["phase"] not in PHASES:
            raise ValueError("phase: expected one of " + repr(PHASES))
        self.temperature = float(state["temperature"])
        self.phase = str(state["phase"])
        self.history = [[int(h[0]), str(h[1])] for h in state["history"]]
        self.steps = int(state["steps"])
        ema = [float(v) for v in state["ema"]]
        self._td_fast, self._td_slow, self._r_fast, self._r_slow, self._r_var, self._level = ema
        self._best = float(state["best"])
        self._since_best = int(state["since_best"])
        signals = [float(v) for v in state["signals"]]
        self.surprise, self.trend, self.stagnation, self.heat = signals


def _clip(value: float, low: float, high: float) -> float:
    if value < low:
        return low
    if value > high:
        return high
    return value
