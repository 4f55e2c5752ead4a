"""Automatic PID gains: a relay experiment, then gains that follow a drifting plant.

Two pieces, used in sequence by ``Krystal.autotune``:

- :class:`RelayTuner` runs the relay feedback experiment of Åström & Hägglund
  (*Automatica* 20(5), 1984; *Advanced PID Control*, 2006, §6.3). The output switches
  between ``bias + amplitude`` and ``bias - amplitude`` whenever the measurement crosses
  the setpoint (with hysteresis against noise). Most plants then settle into a limit
  cycle whose period is the ultimate period ``Tu`` and whose half peak-to-peak height
  ``a`` gives the ultimate gain ``Ku = 4 d / (pi a)`` (describing-function
  approximation). :func:`pid_gains` turns ``(Ku, Tu)`` into gains. The default rule is
  Tyreus–Luyben's PI, which trades a slower response for much less overshoot and more
  robustness than Ziegler–Nichols: the describing function overestimates ``Ku`` on
  plants with dead time, and derivative action on a noisy measurement with gains from
  a relay test drove the bench's drifting plant unstable. The PID forms are offered.
- :class:`GainAdapter` keeps those gains right when the plant's gain drifts. It reads
  the static gain ``K`` off pairs of settled operating points (``dy / du``) and scales
  the tuned gains by ``K0 / K`` (``K0``: the first estimate): the loop gain ``K kp``,
  and so the margins of the tuning, stay where they were. This is gain scheduling on an
  estimated process gain (Åström & Wittenmark, *Adaptive Control*, 2nd ed., 1995,
  ch. 9). A recursive-least-squares ARX fit inside the loop was tried first and
  rejected: with measurement noise and feedback its gain estimate drifted the wrong way
  and destabilised the loop it was meant to protect (see ``krystal.bench.setpoint``).
  The scale stays within ``[1 / max_scale, max_scale]``.
"""

import math

_RULES = ("tyreus_luyben_pi", "tyreus_luyben", "ziegler_nichols")


def pid_gains(ku: float, tu: float, rule: str = "tyreus_luyben_pi") -> tuple[float, float, float]:
    """``(kp, ki, kd)`` in parallel form from the ultimate gain and period.

    >>> [round(g, 4) for g in pid_gains(2.0, 4.0, "ziegler_nichols")]
    [1.2, 0.6, 0.6]
    >>> [round(g, 4) for g in pid_gains(2.0, 4.0, "tyreus_luyben")]
    [0.9091, 0.1033, 0.5772]
    >>> [round(g, 4) for g in pid_gains(2.0, 4.0)]
    [0.625, 0.071, 0.0]
    """
    if not (math.isfinite(ku) and ku > 0.0 and math.isfinite(tu) and tu > 0.0):
        raise ValueError("ku, tu: expected positive finite numbers, got " + repr((ku, tu)))
    if rule == "ziegler_nichols":
        kp, ti, td = 0.6 * ku, tu / 2.0, tu / 8.0
    elif rule == "tyreus_luyben":
        kp, ti, td = ku / 2.2, 2.2 * tu, tu / 6.3
    elif rule == "tyreus_luyben_pi":
        kp, ti, td = ku / 3.2, 2.2 * tu, 0.0
    else:
        raise ValueError("rule: expected one of " + ", ".join(_RULES) + ", got " + repr(rule))
    return kp, kp / ti, kp * td


class RelayTuner:
    """The relay experiment: call :meth:`update` until :attr:`done`, then read the result.

    >>> tuner = RelayTuner(setpoint=1.0, amplitude=1.0, bias=0.5)
    >>> y, dt, pipe = 0.0, 0.05, [0.0] * 10  # plant dy/dt = u(t - 0.5) - y
    >>> while not tuner.done:
    ...     pipe.append(tuner.update(y, dt))
    ...     y += (pipe.pop(0) - y) * dt
    >>> round(tuner.ultimate_period, 1), round(tuner.ultimate_gain, 1)
    (2.0, 3.1)
    """

    def __init__(
        self,
        setpoint: float,
        amplitude: float,
        bias: float = 0.0,
        hysteresis: float = 0.0,
        cycles: int = 3,
        max_time: float = math.inf,
    ) -> None:
        if not (math.isfinite(amplitude) and amplitude > 0.0):
            raise ValueError("amplitude: expected a positive finite number, got " + repr(amplitude))
        if not (math.isfinite(hysteresis) and hysteresis >= 0.0):
            raise ValueError("hysteresis: expected a finite number >= 0, got " + repr(hysteresis))
        if not (isinstance(cycles, int) and cycles >= 2):
            raise ValueError("cycles: expected an int >= 2, got " + repr(cycles))
        if not (math.isfinite(setpoint) and math.isfinite(bias)):
            raise ValueError("setpoint, bias: expected finite numbers")
        self.setpoint = float(setpoint)
        self.amplitude = float(amplitude)
        self.bias = float(bias)
        self.hysteresis = float(hysteresis)
        self.cycles = cycles
        self.max_time = float(max_time)
        self.time = 0.0
        self.high = True
        self._ups: list[float] = []  # times the relay switched up (one per cycle)
        self._peaks: list[float] = []  # max - min of the measurement over each cycle
        self._cycle_max = -math.inf
        self._cycle_min = math.inf
        self.ultimate_gain = 0.0
        self.ultimate_period = 0.0
        self.done = False
        self.failed = False

    def update(self, measurement: float, dt: float) -> float:
        """Advance by ``dt`` with the new ``measurement``; return the relay output."""
        if not (math.isfinite(dt) and dt > 0.0):
            raise ValueError("dt: expected a finite number > 0, got " + repr(dt))
        if not math.isfinite(measurement):
            raise ValueError("measurement: expected a finite number, got " + repr(measurement))
        self.time += dt
        if measurement > self._cycle_max:
            self._cycle_max = measurement
        if measurement < self._cycle_min:
            self._cycle_min = measurement
        error = self.setpoint - measurement
        if self.high and error < -self.hysteresis:
            self.high = False
        elif not self.high and error > self.hysteresis:
            self.high = True
            self._switched_up()
        if not self.done and self.time >= self.max_time:
            self.done = self.failed = True
        if self.done:
            return self.bias
        return self.bias + self.amplitude if self.high else self.bias - self.amplitude

    def _switched_up(self) -> None:
        if self._ups:
            self._peaks.append(self._cycle_max - self._cycle_min)
        self._ups.append(self.time)
        self._cycle_max, self._cycle_min = -math.inf, math.inf
        # The first cycle is a transient from wherever the plant started: skip it.
        if len(self._ups) >= self.cycles + 2:
            periods = [b - a for a, b in zip(self._ups[1:], self._ups[2:])]
            height = sum(self._peaks[1:]) / len(self._peaks[1:])
            self.ultimate_period = sum(periods) / len(periods)
            # Describing function of an ideal relay: N(a) = 4 d / (pi a), a = height / 2.
            self.ultimate_gain = 4.0 * self.amplitude / (math.pi * max(height / 2.0, 1e-12))
            self.done = True

    def gains(self, rule: str = "tyreus_luyben_pi") -> tuple[float, float, float]:
        """PID gains from the experiment (``ValueError`` if it has not succeeded)."""
        if not self.done or self.failed:
            raise ValueError("relay experiment has not finished with a limit cycle")
        return pid_gains(self.ultimate_gain, self.ultimate_period, rule)


class GainAdapter:
    """Estimate the plant's static gain from settled stretches; rescale the tuned gains.

    Samples are taken in blocks of ``window``. A block whose measurement stays within a
    band of ``tolerance`` is *settled*: its mean input and mean measurement are a point
    on the plant's static characteristic. Two settled points at least ``min_step`` apart
    in the measurement give the gain ``dy / du`` (offsets and disturbances that stay
    put cancel out, and settled data carries none of the closed-loop bias that fitting
    a dynamic model inside the loop suffers from). Estimates are smoothed with weight
    ``smoothing``; the first one is the reference the tuned gains belong to.

    >>> adapter = GainAdapter(window=10, tolerance=0.01, min_step=0.1)
    >>> for u in (1.0, 2.0, 2.0, 3.0):  # a plant with gain 3 and offset 0.5, settled
    ...     for _ in range(10):
    ...         adapter.update(u, 3.0 * u + 0.5)
    >>> adapter.gain, adapter.scale()
    (3.0, 1.0)
    >>> for u in (1.0, 2.0):  # the gain has grown to 6: halve the tuned gains
    ...     for _ in range(10):
    ...         adapter.update(u, 6.0 * u + 0.5)
    >>> round(adapter.gain, 2), round(adapter.scale(), 2)
    (6.0, 0.5)
    """

    def __init__(
        self,
        window: int = 50,
        tolerance: float = 0.05,
        min_step: float = 0.1,
        smoothing: float = 1.0,
        max_scale: float = 5.0,
    ) -> None:
        if not (isinstance(window, int) and window >= 2):
            raise ValueError("window: expected an int >= 2, got " + repr(window))
        for name, value in (("tolerance", tolerance), ("min_step", min_step)):
            if not (math.isfinite(value) and value > 0.0):
                raise ValueError(name + ": expected a positive number, got " + repr(value))
        if not 0.0 < smoothing <= 1.0:
            raise ValueError("smoothing: expected a number in (0, 1], got " + repr(smoothing))
        if not (math.isfinite(max_scale) and max_scale >= 1.0):
            raise ValueError("max_scale: expected a finite number >= 1, got " + repr(max_scale))
        self.window = window
        self.tolerance = float(tolerance)
        self.min_step = float(min_step)
        self.smoothing = float(smoothing)
        self.max_scale = float(max_scale)
        self.gain = 0.0
        self.reference_gain = 0.0
        self.estimates = 0
        self._point: tuple[float, float] | None = None
        self._reset_block()

    def _reset_block(self) -> None:
        self._n = 0
        self._u_sum = 0.0
        self._y_sum = 0.0
        self._y_min = math.inf
        self._y_max = -math.inf

    def update(self, u: float, y: float) -> None:
        """Record the input ``u`` held over the last interval and the ``y`` it ended at."""
        self._n += 1
        self._u_sum += u
        self._y_sum += y
        if y < self._y_min:
            self._y_min = y
        if y > self._y_max:
            self._y_max = y
        if self._n < self.window:
            return
        settled = self._y_max - self._y_min <= self.tolerance
        point = (self._u_sum / self._n, self._y_sum / self._n)
        self._reset_block()
        if not settled:
            return
        previous = self._point
        self._point = point
        if previous is None or abs(point[1] - previous[1]) < self.min_step:
            return
        du = point[0] - previous[0]
        if du == 0.0:
            return
        k = (point[1] - previous[1]) / du
        if self.gain != 0.0 and (k > 0.0) != (self.gain > 0.0):
            return  # a sign flip is a disturbance between the two points, not the plant
        self.gain = k if self.gain == 0.0 else self.gain + self.smoothing * (k - self.gain)
        self.estimates += 1
        if self.reference_gain == 0.0:
            self.reference_gain = self.gain

    def mark_reference(self) -> None:
        """Take the current estimate as the gain the tuned gains belong to."""
        self.reference_gain = self.gain

    def scale(self) -> float:
        """Factor to multiply the tuned gains by: ``K0 / K``, clamped (1 until known)."""
        k, k0 = self.gain, self.reference_gain
        if k == 0.0 or k0 == 0.0:
            return 1.0
        s = k0 / k
        return min(self.max_scale, max(1.0 / self.max_scale, s))
