import json
import math
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from krystal.kernel.pid import Pid


def run_plant(pid: Pid, steps: int, dt: float, y0: float = 0.0, tau: float = 1.0) -> list[float]:
    """Drive the first-order plant ``tau dy/dt = u - y`` (Euler) and return ``y`` over time."""
    y = y0
    ys = []
    for _ in range(steps):
        u = pid.update(y, dt)
        y += (u - y) * dt / tau
        ys.append(y)
    return ys


def test_proportional_only_output_is_kp_times_error() -> None:
    pid = Pid(kp=2.5, setpoint=3.0)
    assert pid.update(1.0, 0.1) == pytest.approx(5.0)
    assert pid.update(4.0, 0.1) == pytest.approx(-2.5)
    assert (pid.last_i, pid.last_d) == (0.0, 0.0)


def test_proportional_only_leaves_steady_state_error() -> None:
    ys = run_plant(Pid(kp=2.0, setpoint=1.0), steps=2000, dt=0.01)
    # u = 2 (1 - y) and y = u at equilibrium: y = 2/3, a third short of the setpoint.
    assert ys[-1] == pytest.approx(2.0 / 3.0, abs=1e-6)


def test_integral_removes_steady_state_error() -> None:
    ys = run_plant(Pid(kp=2.0, ki=1.0, setpoint=1.0), steps=3000, dt=0.01)
    assert ys[-1] == pytest.approx(1.0, abs=1e-4)


def test_derivative_on_measurement_gives_no_kick_on_setpoint_step() -> None:
    pid = Pid(kp=1.0, kd=5.0, setpoint=0.0)
    pid.update(0.5, 0.1)
    pid.update(0.5, 0.1)
    out = pid.update(0.5, 0.1, setpoint=10.0)
    assert pid.last_d == 0.0
    assert out == pytest.approx(9.5)  # only the proportional jump
    assert pid.setpoint == 10.0


def test_derivative_opposes_a_rising_measurement() -> None:
    pid = Pid(kp=0.0, kd=2.0)
    pid.update(0.0, 0.5)
    assert pid.update(1.0, 0.5) == pytest.approx(-4.0)


def test_derivative_filter_smooths_a_measurement_jump() -> None:
    raw, filtered = Pid(kp=0.0, kd=1.0), Pid(kp=0.0, kd=1.0, derivative_filter=0.9)
    for pid in (raw, filtered):
        pid.update(0.0, 0.1)
        pid.update(1.0, 0.1)
    assert raw.last_d == pytest.approx(-10.0)
    assert filtered.last_d == pytest.approx(-1.0)  # alpha = 0.1 / (0.9 + 0.1)


@settings(max_examples=60, deadline=None)
@given(
    kp=st.floats(0.0, 50.0),
    ki=st.floats(0.0, 50.0),
    kd=st.floats(0.0, 5.0),
    lo=st.floats(-10.0, 0.0),
    width=st.floats(0.01, 10.0),
    windup=st.sampled_from(["clamp", "back_calculation"]),
    measurements=st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=40),
    dt=st.floats(1e-3, 1.0),
)
def test_output_never_exceeds_limits(
    kp: float,
    ki: float,
    kd: float,
    lo: float,
    width: float,
    windup: str,
    measurements: list[float],
    dt: float,
) -> None:
    hi = lo + width
    pid = Pid(kp, ki, kd, out_min=lo, out_max=hi, setpoint=0.5, windup=windup)
    for m in measurements:
        out = pid.update(m, dt)
        assert lo <= out <= hi
        assert out == pid.last_output


def windup_scenario(controller: Callable[[float, float], float], dt: float) -> tuple[float, float]:
    """Hold ``y`` at 1 against a load that makes it unreachable for 10 s, then drop the load.

    Returns the overshoot above the setpoint after the load drops and the final ``y``.
    """
    y, peak = 0.0, 0.0
    for k in range(int(30.0 / dt)):
        load = -0.6 if k * dt < 10.0 else 0.0
        u = controller(y, dt)
        y += (u - y + load) * dt
        if k * dt >= 10.0:
            peak = max(peak, y - 1.0)
    return peak, y


@pytest.mark.parametrize("windup", ["clamp", "back_calculation"])
def test_anti_windup_limits_overshoot_after_long_saturation(windup: str) -> None:
    # With |u| <= 1.2 and a load of -0.6 the plant tops out at 0.6, so the output sits
    # on its limit for 10 s. A naive integrator keeps growing meanwhile and, once the
    # load drops, holds the output on the limit long after y has passed the setpoint.
    kp, ki, limit = 1.0, 2.0, 1.2
    integral = 0.0

    def naive(y: float, dt: float) -> float:
        nonlocal integral
        error = 1.0 - y
        integral += ki * error * dt
        return min(max(kp * error + integral, -limit), limit)

    pid = Pid(kp, ki, out_min=-limit, out_max=limit, setpoint=1.0, windup=windup)
    naive_peak, _ = windup_scenario(naive, dt=0.01)
    peak, final = windup_scenario(pid.update, dt=0.01)
    assert naive_peak > 0.15
    assert peak < 0.4 * naive_peak
    assert final == pytest.approx(1.0, abs=1e-3)


def test_halving_dt_with_twice_the_steps_gives_a_similar_trajectory() -> None:
    coarse = run_plant(Pid(kp=1.5, ki=0.8, kd=0.1, setpoint=1.0), steps=500, dt=0.02)
    fine = run_plant(Pid(kp=1.5, ki=0.8, kd=0.1, setpoint=1.0), steps=1000, dt=0.01)
    gap = max(abs(c - f) for c, f in zip(coarse, fine[1::2], strict=True))
    assert gap < 0.02


def test_set_gains_is_bumpless() -> None:
    pid = Pid(kp=1.0, ki=0.5, kd=0.2, setpoint=1.0)
    run_plant(pid, steps=50, dt=0.05)
    before = pid.last_p + pid.last_i + pid.last_d
    pid.set_gains(3.0, 0.1, 0.0)
    assert pid.last_p + pid.last_i + pid.last_d == pytest.approx(before)
    y = pid._prev_measurement
    assert y is not None
    # The next output at the same measurement moves only by the new integral step.
    assert pid.update(y, 0.05) == pytest.approx(before + 0.1 * (1.0 - y) * 0.05)


def test_reset_forgets_memory() -> None:
    pid = Pid(kp=1.0, ki=1.0, kd=1.0, setpoint=1.0)
    run_plant(pid, steps=20, dt=0.1)
    pid.reset()
    assert pid.update(0.0, 0.1) == pytest.approx(1.0 + 0.1)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"kp": math.nan}, "kp"),
        ({"kp": 1.0, "ki": math.inf}, "ki"),
        ({"kp": 1.0, "ki": -1.0}, "one sign"),
        ({"kp": 1.0, "out_min": 1.0, "out_max": 1.0}, "out_min < out_max"),
        ({"kp": 1.0, "out_min": math.nan}, "out_min"),
        ({"kp": 1.0, "windup": "naive"}, "windup"),
        ({"kp": 1.0, "derivative_filter": -0.1}, "derivative_filter"),
        ({"kp": 1.0, "tracking_gain": 0.0}, "tracking_gain"),
        ({"kp": 1.0, "setpoint": math.inf}, "setpoint"),
    ],
)
def test_invalid_constructor_arguments(kwargs: dict, name: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError, match=name):
        Pid(**kwargs)


@pytest.mark.parametrize("dt", [0.0, -0.1, math.nan, math.inf])
def test_invalid_dt(dt: float) -> None:
    with pytest.raises(ValueError, match="dt"):
        Pid(kp=1.0).update(0.0, dt)


def test_non_finite_measurement_leaves_state_unchanged() -> None:
    pid = Pid(kp=1.0, ki=1.0, kd=1.0, setpoint=1.0)
    run_plant(pid, steps=10, dt=0.1)
    before = pid.get_state()
    for bad in (math.nan, math.inf):
        with pytest.raises(ValueError, match="measurement"):
            pid.update(bad, 0.1)
    with pytest.raises(ValueError, match="setpoint"):
        pid.update(0.3, 0.1, setpoint=math.nan)
    assert pid.get_state() == before


@pytest.mark.parametrize("windup", ["clamp", "back_calculation"])
def test_state_round_trip_gives_identical_outputs(windup: str) -> None:
    pid = Pid(1.2, 0.7, 0.3, out_min=-1.0, setpoint=0.8, windup=windup, derivative_filter=0.05)
    run_plant(pid, steps=37, dt=0.03)
    pid.set_gains(1.0, 0.9, 0.2)
    copy = Pid(kp=0.0)
    copy.set_state(json.loads(json.dumps(pid.get_state(), allow_nan=False)))
    measurements = [0.1 * math.sin(0.3 * k) + 0.7 for k in range(50)]
    assert [pid.update(m, 0.03) for m in measurements] == [
        copy.update(m, 0.03) for m in measurements
    ]
    assert copy.out_max == math.inf
