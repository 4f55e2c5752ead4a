"""Relay autotuning and gain adaptation: the kernel pieces and Krystal.autotune()."""

import math
import random

import pytest

from krystal import Krystal, KrystalConfig
from krystal._errors import InputError
from krystal.kernel.autotune import GainAdapter, RelayTuner, pid_gains
from krystal.kernel.pid import Pid

DT = 0.05


class DeadTimePlant:
    """``tau dy/dt = K u(t - L) - y`` by Euler steps of DT; ``gain`` may change."""

    def __init__(self, gain: float = 1.0, tau: float = 2.0, delay: float = 0.5) -> None:
        self.gain, self.tau, self.y = gain, tau, 0.0
        self.pipe = [0.0] * round(delay / DT)

    def step(self, u: float) -> float:
        self.pipe.append(u)
        u = self.pipe.pop(0)
        self.y += (self.gain * u - self.y) * DT / self.tau
        return self.y


def ultimate_period(gain: float, tau: float, delay: float) -> tuple[float, float]:
    """Exact (Ku, Tu) of K e^{-Ls} / (tau s + 1), by bisection on the phase."""
    low, high = 1e-3, math.pi / delay
    for _ in range(100):
        w = (low + high) / 2
        if math.atan(tau * w) + delay * w < math.pi:
            low = w
        else:
            high = w
    return math.sqrt(1 + (tau * low) ** 2) / gain, 2 * math.pi / low


def test_rules_give_the_published_ratios() -> None:
    kp, ki, kd = pid_gains(3.0, 2.0, "ziegler_nichols")
    assert (kp, kp / ki, kd / kp) == pytest.approx((1.8, 1.0, 0.25))
    kp, ki, kd = pid_gains(3.0, 2.0, "tyreus_luyben")
    assert (kp, kp / ki, kd / kp) == pytest.approx((3.0 / 2.2, 4.4, 2.0 / 6.3))
    kp, ki, kd = pid_gains(3.0, 2.0)
    assert (kp, kp / ki, kd) == pytest.approx((3.0 / 3.2, 4.4, 0.0))


@pytest.mark.parametrize(
    "args", [(0.0, 1.0, "tyreus_luyben"), (1.0, math.inf, "tyreus_luyben"), (1.0, 1.0, "magic")]
)
def test_rules_refuse_bad_input(args: tuple[float, float, str]) -> None:
    with pytest.raises(ValueError):
        pid_gains(*args)


def test_relay_measures_the_ultimate_point_of_a_dead_time_plant() -> None:
    plant = DeadTimePlant(gain=1.0, tau=2.0, delay=0.5)
    tuner = RelayTuner(setpoint=1.0, amplitude=1.0, bias=1.0)
    outputs = []
    while not tuner.done:
        outputs.append(tuner.update(plant.y, DT))
        plant.step(outputs[-1])
    ku, tu = ultimate_period(1.0, 2.0, 0.5)
    # The describing function is an approximation: within 30 % on Ku, 20 % on Tu.
    assert tuner.ultimate_period == pytest.approx(tu, rel=0.2)
    assert tuner.ultimate_gain == pytest.approx(ku, rel=0.3)
    assert set(outputs[:-1]) == {0.0, 2.0}  # bias +- amplitude while it runs,
    assert outputs[-1] == 1.0  # and the bias on the sample that finished it
    assert not tuner.failed
    assert tuner.gains("ziegler_nichols")[0] == pytest.approx(0.6 * tuner.ultimate_gain)


def test_relay_without_a_limit_cycle_gives_up_at_max_time() -> None:
    tuner = RelayTuner(setpoint=1.0, amplitude=1.0, max_time=1.0)
    for _ in range(40):  # the measurement never reaches the setpoint
        out = tuner.update(0.0, DT)
    assert tuner.done and tuner.failed
    assert out == 0.0  # back to the bias once it gave up
    with pytest.raises(ValueError, match="not finished"):
        tuner.gains()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"amplitude": 0.0},
        {"amplitude": 1.0, "hysteresis": -1.0},
        {"amplitude": 1.0, "cycles": 1},
        {"amplitude": 1.0, "bias": math.nan},
    ],
)
def test_relay_refuses_bad_settings(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RelayTuner(setpoint=0.0, **kwargs)  # type: ignore[arg-type]


def test_relay_refuses_bad_samples() -> None:
    tuner = RelayTuner(setpoint=0.0, amplitude=1.0)
    with pytest.raises(ValueError, match="dt"):
        tuner.update(0.0, 0.0)
    with pytest.raises(ValueError, match="measurement"):
        tuner.update(math.nan, DT)
    assert tuner.time == 0.0


def test_hysteresis_ignores_noise_around_the_setpoint() -> None:
    tuner = RelayTuner(setpoint=1.0, amplitude=1.0, hysteresis=0.1)
    rng = random.Random(0)
    outputs = {tuner.update(1.0 + rng.uniform(-0.05, 0.05), DT) for _ in range(200)}
    assert outputs == {1.0}  # never switched: the noise stays inside the band


def settle(adapter: GainAdapter, u: float, y: float, n: int) -> None:
    for _ in range(n):
        adapter.update(u, y)


def test_adapter_reads_the_gain_from_settled_points_despite_an_offset() -> None:
    adapter = GainAdapter(window=20, tolerance=0.01, min_step=0.1)
    assert adapter.scale() == 1.0  # nothing known yet
    settle(adapter, 1.0, 2.0 * 1.0 - 0.3, 20)
    settle(adapter, 1.5, 2.0 * 1.5 - 0.3, 20)
    assert adapter.gain == pytest.approx(2.0)
    assert adapter.reference_gain == pytest.approx(2.0)
    # The plant's gain doubles: the pair straddling the change is off, the next is right.
    settle(adapter, 0.5, 4.0 * 0.5 - 0.3, 20)
    settle(adapter, 1.0, 4.0 * 1.0 - 0.3, 20)
    assert adapter.gain == pytest.approx(4.0)
    assert adapter.scale() == pytest.approx(0.5)


def test_adapter_ignores_unsettled_blocks_small_steps_and_sign_flips() -> None:
    adapter = GainAdapter(window=10, tolerance=0.01, min_step=0.1)
    for i in range(10):
        adapter.update(1.0, 0.1 * i)  # still moving: not settled
    assert adapter.estimates == 0
    settle(adapter, 1.0, 1.0, 10)
    settle(adapter, 2.0, 1.05, 10)  # moved less than min_step
    assert adapter.estimates == 0
    settle(adapter, 3.0, 2.0, 10)
    assert adapter.estimates == 1 and adapter.gain > 0
    settle(adapter, 4.0, 1.0, 10)  # a disturbance, not a negative gain
    assert adapter.estimates == 1 and adapter.gain > 0


def test_adapter_scale_is_clamped() -> None:
    adapter = GainAdapter(window=2, tolerance=0.01, min_step=0.1, max_scale=2.0)
    settle(adapter, 1.0, 1.0, 2)
    settle(adapter, 2.0, 2.0, 2)
    adapter.mark_reference()
    settle(adapter, 2.1, 3.0, 2)  # gain 10: scale would be 0.1
    assert adapter.scale() == pytest.approx(0.5)


@pytest.mark.parametrize(
    "kwargs",
    [{"window": 1}, {"tolerance": 0.0}, {"min_step": -1.0}, {"smoothing": 0.0}, {"max_scale": 0.5}],
)
def test_adapter_refuses_bad_settings(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        GainAdapter(**kwargs)  # type: ignore[arg-type]


def run_loop(agent: Krystal, plant: DeadTimePlant, steps: int, drift: float = 0.0) -> float:
    """Setpoint steps every 500 samples; returns the integral absolute error."""
    schedule = (1.0, 2.0, 0.5, 1.5, 1.0, 2.0)
    rng = random.Random(0)
    iae, start = 0.0, plant.gain
    for k in range(steps):
        plant.gain = start + drift * k / steps
        setpoint = schedule[(k // 500) % len(schedule)]
        u = agent.control(setpoint, plant.y + rng.gauss(0.0, 0.005), dt=DT)
        plant.step(u)
        iae += abs(setpoint - plant.y) * DT
    return iae


def agent_with(kp: float, ki: float) -> Krystal:
    return Krystal(
        KrystalConfig(pid_kp=kp, pid_ki=ki, pid_output_min=-10.0, pid_output_max=10.0, seed=0)
    )


def test_autotune_finds_gains_that_hold_the_setpoint() -> None:
    agent = agent_with(0.01, 0.0)  # gains far too weak to begin with
    # bias +- amplitude straddles the output that holds the setpoint (1 here).
    agent.autotune(amplitude=1.0, bias=1.0, hysteresis=0.02, settle_window=100, settle_band=0.04)
    assert agent.get_metrics()["autotune"]["state"] == "relay"
    iae = run_loop(agent, DeadTimePlant(), 3000)
    info = agent.get_metrics()["autotune"]
    assert info["state"] == "adapting"
    kp, ki, kd = info["tuned_gains"]
    assert kp > 0.5 and ki > 0.05 and kd == 0.0
    assert iae < run_loop(agent_with(0.01, 0.0), DeadTimePlant(), 3000) / 3


def test_adaptation_beats_fixed_gains_when_the_plant_gain_drifts() -> None:
    fixed = agent_with(2.0, 1.0)  # SIMC gains for the starting plant
    fixed_iae = run_loop(fixed, DeadTimePlant(gain=1.0), 3000, drift=2.0)
    tuned = agent_with(2.0, 1.0)
    tuned.autotune(amplitude=1.0, bias=1.0, hysteresis=0.02, settle_window=100, settle_band=0.04)
    tuned_iae = run_loop(tuned, DeadTimePlant(gain=1.0), 3000, drift=2.0)
    info = tuned.get_metrics()["autotune"]
    assert info["plant_gain"] > 1.5  # it noticed the drift (from 1 to 3)
    assert info["gain_scale"] < 0.9  # and backed the gains off
    assert tuned_iae < fixed_iae


def test_autotune_without_adaptation_keeps_the_tuned_gains() -> None:
    agent = agent_with(1.0, 0.1)
    agent.autotune(amplitude=1.0, bias=1.0, adapt=False, rule="ziegler_nichols")
    run_loop(agent, DeadTimePlant(), 1500)
    info = agent.get_metrics()["autotune"]
    assert info["state"] == "tuned" and "plant_gain" not in info
    assert agent._pid.kp == pytest.approx(info["tuned_gains"][0])


def test_relay_output_respects_the_output_limits() -> None:
    agent = Krystal(KrystalConfig(pid_output_min=-0.5, pid_output_max=0.5))
    agent.autotune(amplitude=2.0)
    assert agent.control(1.0, 0.0, dt=DT) == 0.5


@pytest.mark.parametrize(
    "kwargs",
    [
        {"amplitude": 0.0},
        {"amplitude": math.nan},
        {"amplitude": 1.0, "rule": "magic"},
        {"amplitude": 1.0, "cycles": 1},
        {"amplitude": 1.0, "settle_window": 1},
        {"amplitude": 1.0, "settle_window": True},
        {"amplitude": 1.0, "settle_band": 0.0},
        {"amplitude": 1.0, "bias": "x"},
    ],
)
def test_autotune_refuses_bad_input_and_changes_nothing(kwargs: dict[str, object]) -> None:
    agent = agent_with(1.0, 0.1)
    with pytest.raises(InputError):
        agent.autotune(**kwargs)  # type: ignore[arg-type]
    assert "autotune" not in agent.get_metrics()
    assert agent.control(1.0, 0.0) == pytest.approx(Pid(1.0, 0.1).update(0.0, 1.0, 1.0))


def test_autotune_gives_up_without_a_limit_cycle_and_keeps_the_gains(
    caplog: pytest.LogCaptureFixture,
) -> None:
    agent = agent_with(1.0, 0.1)
    agent.autotune(amplitude=0.1, max_time=2.0)  # far too small to reach the setpoint
    plant = DeadTimePlant()
    with caplog.at_level("WARNING", logger="krystal"):
        for _ in range(100):
            plant.step(agent.control(5.0, plant.y, dt=DT))
    info = agent.get_metrics()["autotune"]
    assert info["state"] == "failed" and info["tuned_gains"] is None
    assert "no limit cycle" in caplog.text
    assert (agent._pid.kp, agent._pid.ki) == (1.0, 0.1)


@pytest.mark.parametrize("value", [0.0, -1.0, math.nan, True])
def test_autotune_refuses_a_bad_max_time(value: object) -> None:
    with pytest.raises(InputError, match="max_time"):
        agent_with(1.0, 0.1).autotune(amplitude=1.0, max_time=value)  # type: ignore[arg-type]
