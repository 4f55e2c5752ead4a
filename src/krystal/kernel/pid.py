"""A PID controller for holding one metric at a setpoint, with anti-windup.

The textbook parallel form ``u = kp e + ki integral(e) + kd de/dt`` with the refinements
that make it usable on a live system (Åström & Hägglund, *Advanced PID Control*, 2006,
ch. 3; Åström & Murray, *Feedback Systems*, 2008, §10.4):

- derivative on the measurement, ``-kd dy/dt``, so a setpoint step gives no kick;
- an optional first-order low-pass on that derivative (time constant
  ``derivative_filter``), because differentiating a noisy metric amplifies the noise;
- the integral is stored as its contribution to the output (``ki`` already applied), so
  changing ``ki`` never jumps the output, and :meth:`Pid.set_gains` moves the stored
  integral so that ``p + i + d`` is unchanged at the last sample (bumpless transfer);
- two anti-windup schemes for a saturated actuator. ``"clamp"`` (conditional
  integration) stops integrating while the output is saturated and the error pushes
  further into saturation. ``"back_calculation"`` feeds the saturation excess back into
  the integral with tracking gain ``kt = 1 / Tt``; by default ``Tt = sqrt(Ti Td)`` with
  ``Ti = kp / ki`` and ``Td = kd / kp`` (Åström & Hägglund's rule of thumb), or ``Tt = Ti``
  without derivative action, or ``Tt = 1 / |ki|`` for a pure integral controller.
  ``kt dt`` is capped at 1, where the integral is reset exactly onto the limit.

``dt`` comes from the caller because live systems rarely sample on a fixed clock.
"""

import math

_KINDS = ("clamp", "back_calculation")
_INF = float("inf")


def _check_finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(name + ": expected a finite number, got " + repr(value))
    return float(value)


def _default_tracking_gain(kp: float, ki: float, kd: float) -> float:
    kp, ki, kd = abs(kp), abs(ki), abs(kd)
    if ki == 0.0:
        return 0.0
    if kd > 0.0:
        return math.sqrt(ki / kd)  # 1 / Tt with Tt = sqrt(Ti Td) = sqrt((kp/ki) (kd/kp))
    if kp > 0.0:
        return ki / kp  # Tt = Ti
    return ki


class Pid:
    """PID controller; call :meth:`update` with each new measurement and its ``dt``.

    Gains share one sign: all >= 0 for a direct-acting loop (more output raises the
    measurement), all <= 0 for a reverse-acting one.

    >>> pid = Pid(kp=2.0, ki=1.0, out_min=0.0, out_max=10.0, setpoint=1.0)
    >>> y = 0.0
    >>> for _ in range(600):  # first-order plant dy/dt = u - y
    ...     u = pid.update(y, dt=0.05)
    ...     y += (u - y) * 0.05
    >>> round(y, 3), round(u, 3)
    (1.0, 1.0)
    """

    __slots__ = (
        "_deriv",
        "_error",
        "_integral",
        "_prev_measurement",
        "derivative_filter",
        "kd",
        "ki",
        "kp",
        "kt",
        "last_d",
        "last_i",
        "last_output",
        "last_p",
        "out_max",
        "out_min",
        "setpoint",
        "tracking_gain",
        "windup",
    )

    def __init__(
        self,
        kp: float,
        ki: float = 0.0,
        kd: float = 0.0,
        out_min: float = -_INF,
        out_max: float = _INF,
        setpoint: float = 0.0,
        windup: str = "clamp",
        derivative_filter: float = 0.0,
        tracking_gain: float | None = None,
    ) -> None:
        self._check_gains(kp, ki, kd)
        if math.isnan(out_min) or math.isnan(out_max) or not out_min < out_max:
            raise ValueError(
                "out_min, out_max: expected out_min < out_max, got "
                + repr(out_min)
                + ", "
                + repr(out_max)
            )
        if windup not in _KINDS:
            raise ValueError("windup: expected 'clamp' or 'back_calculation', got " + repr(windup))
        if not (math.isfinite(derivative_filter) and derivative_filter >= 0.0):
            raise ValueError(
                "derivative_filter: expected a finite time constant >= 0, got "
                + repr(derivative_filter)
            )
        if tracking_gain is not None and not (math.isfinite(tracking_gain) and tracking_gain > 0.0):
            raise ValueError(
                "tracking_gain: expected None or a finite number > 0, got " + repr(tracking_gain)
            )
        self.kp, self.ki, self.kd = float(kp), float(ki), float(kd)
        self.out_min, self.out_max = float(out_min), float(out_max)
        self.setpoint = _check_finite("setpoint", setpoint)
        self.windup = windup
        self.derivative_filter = float(derivative_filter)
        self.tracking_gain = None if tracking_gain is None else float(tracking_gain)
        self.kt = self._tracking()
        self.reset()

    def _tracking(self) -> float:
        if self.tracking_gain is not None:
            return self.tracking_gain
        return _default_tracking_gain(self.kp, self.ki, self.kd)

    @staticmethod
    def _check_gains(kp: float, ki: float, kd: float) -> None:
        for name, gain in (("kp", kp), ("ki", ki), ("kd", kd)):
            _check_finite(name, gain)
        if not ((kp >= 0 and ki >= 0 and kd >= 0) or (kp <= 0 and ki <= 0 and kd <= 0)):
            raise ValueError(
                "kp, ki, kd: expected gains of one sign, got "
                + repr(kp)
                + ", "
                + repr(ki)
                + ", "
                + repr(kd)
            )

    def reset(self) -> None:
        """Forget the integral, the derivative history and the last terms."""
        self._integral = 0.0
        self._deriv = 0.0
        self._error = 0.0
        self._prev_measurement: float | None = None
        self.last_p = 0.0
        self.last_i = 0.0
        self.last_d = 0.0
        self.last_output = 0.0

    def _saturate(self, v: float) -> float:
        if v > self.out_max:
            return self.out_max
        if v < self.out_min:
            return self.out_min
        return v

    def update(self, measurement: float, dt: float, setpoint: float | None = None) -> float:
        """Return the new output for ``measurement`` taken ``dt`` after the previous one.

        A ``setpoint`` given here replaces the stored one from now on.
        """
        if not (math.isfinite(dt) and dt > 0.0):
            raise ValueError("dt: expected a finite number > 0, got " + repr(dt))
        measurement = _check_finite("measurement", measurement)
        if setpoint is not None:
            self.setpoint = _check_finite("setpoint", setpoint)
        error = self.setpoint - measurement
        p = self.kp * error

        deriv = self._deriv
        if self._prev_measurement is not None:
            raw = -(measurement - self._prev_measurement) / dt
            tf = self.derivative_filter
            deriv = raw if tf == 0.0 else deriv + (raw - deriv) * (dt / (tf + dt))
        d = self.kd * deriv

        step = self.ki * error * dt
        integral = self._integral + step
        v = p + integral + d
        if self.windup == "clamp":
            if (v > self.out_max and step > 0.0) or (v < self.out_min and step < 0.0):
                integral = self._integral
                v = p + integral + d
        else:
            excess = self._saturate(v) - v
            if excess != 0.0:
                gain = self.kt * dt
                integral += excess * (gain if gain < 1.0 else 1.0)
                v = p + integral + d
        out = self._saturate(v)

        self._integral = integral
        self._deriv = deriv
        self._error = error
        self._prev_measurement = measurement
        self.last_p, self.last_i, self.last_d, self.last_output = p, integral, d, out
        return out

    def set_gains(self, kp: float, ki: float, kd: float) -> None:
        """Change the gains without a jump in the output (bumpless transfer)."""
        self._check_gains(kp, ki, kd)
        kp, ki, kd = float(kp), float(ki), float(kd)
        # Keep p + i + d at the last sample where it was: the integral absorbs the change.
        self._integral += (self.kp - kp) * self._error + (self.kd - kd) * self._deriv
        self.last_i = self._integral
        self.last_p = kp * self._error
        self.last_d = kd * self._deriv
        self.kp, self.ki, self.kd = kp, ki, kd
        self.kt = self._tracking()

    def get_state(self) -> dict:  # type: ignore[type-arg]
        """Return gains, settings and memory as JSON-friendly data (``None`` = no limit)."""
        return {
            "kp": self.kp,
            "ki": self.ki,
            "kd": self.kd,
            "tracking_gain": self.tracking_gain,
            "out_min": None if self.out_min == -_INF else self.out_min,
            "out_max": None if self.out_max == _INF else self.out_max,
            "setpoint": self.setpoint,
            "windup": self.windup,
            "derivative_filter": self.derivative_filter,
            "integral": self._integral,
            "deriv": self._deriv,
            "error": self._error,
            "prev_measurement": self._prev_measurement,
            "last": [self.last_p, self.last_i, self.last_d, self.last_output],
        }

    def set_state(self, state: dict) -> None:  # type: ignore[type-arg]
        """Restore a state produced by :meth:`get_state`."""
        self.kp, self.ki, self.kd = float(state["kp"]), float(state["ki"]), float(state["kd"])
        tracking = state["tracking_gain"]
        self.tracking_gain = None if tracking is None else float(tracking)
        self.kt = self._tracking()
        lo, hi = state["out_min"], state["out_max"]
        self.out_min = -_INF if lo is None else float(lo)
        self.out_max = _INF if hi is None else float(hi)
        self.setpoint = float(state["setpoint"])
        self.windup = str(state["windup"])
        self.derivative_filter = float(state["derivative_filter"])
        self._integral = float(state["integral"])
        self._deriv = float(state["deriv"])
        self._error = float(state["error"])
        prev = state["prev_measurement"]
        self._prev_measurement = None if prev is None else float(prev)
        last = [float(v) for v in state["last"]]
        self.last_p, self.last_i, self.last_d, self.last_output = last
