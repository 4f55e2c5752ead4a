"""Each simulator behaves like the system it stands for."""

import itertools
import math
from typing import Any

import pytest

from krystal.sims import GameEnv, IoTEnv, MLEnv, ServerEnv, fixed_chooser, rollout


def run(env: Any, action: dict[str, Any], steps: int, seed: int) -> list[tuple[Any, ...]]:
    """Rewards, observations and infos of a constant action (no episode ends here)."""
    out: list[tuple[Any, ...]] = []
    env.reset(seed=seed)
    for _ in range(steps):
        obs, reward, _, _, info = env.step(action)
        out.append((reward, obs, info))
    return out


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


# -- game -------------------------------------------------------------------------------

LOW = {"resolution_scale": 0.5, "shadow_quality": 0, "texture_quality": "low", "ray_tracing": False}
MEDIUM = {
    "resolution_scale": 0.75,
    "shadow_quality": 1,
    "texture_quality": "medium",
    "ray_tracing": False,
}
HIGH = {
    "resolution_scale": 1.0,
    "shadow_quality": 3,
    "texture_quality": "high",
    "ray_tracing": True,
}


def test_game_higher_settings_take_longer_frames() -> None:
    times = []
    for action in (LOW, MEDIUM, HIGH):
        steps = run(GameEnv(), action, steps=20, seed=2)
        times.append(mean([info["frame_time_ms"] for _, _, info in steps]))
    assert times[0] < times[1] < times[2]
    assert times[2] > 2.5 * times[0]


def test_game_every_knob_costs_frame_time() -> None:
    def frame_time(**change: Any) -> float:
        steps = run(GameEnv(), {**MEDIUM, **change}, steps=10, seed=4)
        return mean([info["frame_time_ms"] for _, _, info in steps])

    base = frame_time()
    assert frame_time(resolution_scale=0.9) > base
    assert frame_time(shadow_quality=3) > base
    assert frame_time(texture_quality="ultra") > base
    assert frame_time(ray_tracing=True) > base


def test_game_sustained_heavy_load_heats_and_throttles() -> None:
    heavy = run(GameEnv(), HIGH, steps=300, seed=1)
    light = run(GameEnv(), LOW, steps=300, seed=1)
    hot = heavy[-1][1]
    cool = light[-1][1]
    assert hot["gpu_temp_c"] > 84.0 and heavy[-1][2]["throttle"] > 0.05
    assert hot["gpu_clock_mhz"] < 0.95 * heavy[0][1]["gpu_clock_mhz"]
    assert cool["gpu_temp_c"] < 70.0 and light[-1][2]["throttle"] < 0.01
    # Heat builds up gradually (thermal inertia), not in one step.
    temps = [obs["gpu_temp_c"] for _, obs, _ in heavy]
    assert temps[5] < temps[50] < temps[150]


def test_game_reward_trades_quality_against_frame_budget() -> None:
    scores = {}
    for name, action in (("low", LOW), ("medium", MEDIUM), ("high", HIGH)):
        scores[name] = mean([r for r, _, _ in run(GameEnv(), action, steps=300, seed=3)])
    assert scores["medium"] > scores["low"] and scores["medium"] > scores["high"]


def test_game_shift_makes_the_gpu_slower() -> None:
    plain = run(GameEnv(), MEDIUM, steps=40, seed=5)
    moved = run(GameEnv(shift=True, shift_at=0), MEDIUM, steps=40, seed=5)
    ratio = mean([i["frame_time_ms"] for _, _, i in moved[:10]]) / mean(
        [i["frame_time_ms"] for _, _, i in plain[:10]]
    )
    assert 1.4 < ratio < 1.8


# -- server -----------------------------------------------------------------------------


def test_server_more_replicas_cut_latency_under_load_and_cost_more() -> None:
    few = run(ServerEnv(), {"replicas": 5, "concurrency": 16}, steps=500, seed=0)
    many = run(ServerEnv(), {"replicas": 12, "concurrency": 16}, steps=500, seed=0)
    busy = [t for t, (_, _, info) in enumerate(few[10:], start=10) if info["true_rate"] > 700]
    assert len(busy) > 50
    latency_few = mean([few[t][1]["latency_p95_ms"] for t in busy])
    latency_many = mean([many[t][1]["latency_p95_ms"] for t in busy])
    assert latency_many < 0.7 * latency_few
    assert all(m[2]["cost"] > f[2]["cost"] for f, m in zip(few, many, strict=True))


def test_server_overload_rejects_requests() -> None:
    steps = run(ServerEnv(), {"replicas": 1, "concurrency": 4}, steps=100, seed=0)
    assert min(obs["error_rate"] for _, obs, _ in steps) > 0.5
    assert mean([r for r, _, _ in steps]) < 0.1


def test_server_cold_start_delays_capacity() -> None:
    env = ServerEnv()
    env.reset(seed=0)
    ready = []
    for _ in range(8):
        obs, _, _, _, info = env.step({"replicas": 10, "concurrency": 8})
        ready.append(obs["ready_replicas"])
        assert info["billed_replicas"] == 10
    assert ready == [4.0, 4.0, 4.0, 4.0, 10.0, 10.0, 10.0, 10.0]
    # Scaling down is immediate.
    obs, _, _, _, info = env.step({"replicas": 2, "concurrency": 8})
    assert obs["ready_replicas"] == 2.0 and info["billed_replicas"] == 2


def test_server_traffic_follows_the_day() -> None:
    steps = run(ServerEnv(), {"replicas": 8, "concurrency": 16}, steps=500, seed=1)
    by_hour: dict[int, list[float]] = {}
    for _, obs, info in steps:
        by_hour.setdefault(int(obs["hour"]), []).append(info["true_rate"])
    assert mean(by_hour[16]) > 3.0 * mean(by_hour[4])


def test_server_concurrency_has_an_interior_best_under_load() -> None:
    def score(slots: int) -> float:
        action = {"replicas": 6, "concurrency": slots}
        return mean([r for r, _, _ in run(ServerEnv(), action, 500, 2)])

    best = score(20)
    assert best > score(1) + 0.5 and best > score(8) + 0.05 and best > score(32) + 0.05


# -- ml ---------------------------------------------------------------------------------


def run_ml(action: dict[str, Any], seed: int = 0) -> list[tuple[Any, ...]]:
    env = MLEnv()
    env.reset(seed=seed)
    out = []
    terminated = False
    while not terminated:
        obs, reward, terminated, _, info = env.step(action)
        out.append((reward, obs, info))
    return out


def test_ml_reasonable_rate_learns_tiny_rate_barely_moves() -> None:
    good = run_ml({"learning_rate": 0.03, "momentum": 0.9, "batch_size": 32})
    tiny = run_ml({"learning_rate": 0.001, "momentum": 0.0, "batch_size": 128})
    assert len(good) == len(tiny) == 100
    start = math.log(2.0)
    assert good[-1][1]["val_loss"] < start - 0.15 and good[-1][2]["gap"] < 0.15
    assert start - tiny[-1][1]["val_loss"] < 0.05 and tiny[-1][2]["gap"] > 0.8
    assert mean([r for r, _, _ in good]) > mean([r for r, _, _ in tiny]) + 0.5


def test_ml_too_large_a_rate_is_unstable() -> None:
    wild = run_ml({"learning_rate": 1.0, "momentum": 0.9, "batch_size": 8})
    assert max(obs["val_loss"] for _, obs, _ in wild) > 1.5 * math.log(2.0)


def test_ml_observations_track_training() -> None:
    steps = run_ml({"learning_rate": 0.03, "momentum": 0.9, "batch_size": 32})
    assert [round(obs["progress"], 2) for _, obs, _ in steps[:3]] == [0.01, 0.02, 0.03]
    previous = math.log(2.0)
    for _, obs, _ in steps:
        assert obs["loss_delta"] == pytest.approx(obs["val_loss"] - previous)
        previous = obs["val_loss"]
    assert steps[-1][1]["train_loss"] < steps[0][1]["train_loss"]


def test_ml_shift_moves_the_best_rate_down() -> None:
    def final_gap(rate: float, shift: bool) -> float:
        env = MLEnv(shift=shift, shift_at=0)
        env.reset(seed=1)
        gaps = []
        for _ in range(100):
            info = env.step({"learning_rate": rate, "momentum": 0.5, "batch_size": 32})[4]
            gaps.append(info["gap"])
        return mean(gaps[-20:])

    assert final_gap(0.1, shift=False) < final_gap(0.01, shift=False)
    assert final_gap(0.01, shift=True) < final_gap(0.1, shift=True)


# -- iot --------------------------------------------------------------------------------

HUNGRY = {"sampling_hz": 10.0, "radio_power": 3, "duty_cycle": 1.0}
FRUGAL = {"sampling_hz": 0.5, "radio_power": 1, "duty_cycle": 0.1}


def test_iot_battery_drains_at_night_with_high_duty_cycle() -> None:
    steps = run(IoTEnv(), HUNGRY, steps=288, seed=0)
    night = [
        (obs["battery_pct"], info)
        for _, obs, info in steps
        if info["context"].startswith("night") and not info["browned_out"]
    ]
    assert len(night) > 20
    drops = [b - a for (a, _), (b, _) in itertools.pairwise(night)]
    assert sum(d < 0 for d in drops) > 0.9 * len(drops)
    frugal = run(IoTEnv(), FRUGAL, steps=288, seed=0)
    assert min(obs["battery_pct"] for _, obs, _ in frugal) > 40.0


def test_iot_brown_out_happens_and_recovers() -> None:
    steps = run(IoTEnv(), HUNGRY, steps=2 * 288, seed=0)
    down = [info["browned_out"] for _, _, info in steps]
    first = down.index(True)
    recovered = down.index(False, first)
    assert recovered > first
    assert all(r == -0.5 for r, _, info in steps[first + 1 : recovered])
    assert all(obs["delivered_hz"] == 0.0 for _, obs, _ in steps[first + 1 : recovered])
    assert steps[recovered][1]["battery_pct"] > 15.0
    assert not any(info["browned_out"] for _, _, info in run(IoTEnv(), FRUGAL, 576, 0))


def test_iot_radio_power_buys_delivery_on_a_poor_link() -> None:
    def delivered(power: int) -> float:
        action = {"sampling_hz": 1.0, "radio_power": power, "duty_cycle": 0.5}
        return mean([obs["delivered_hz"] for _, obs, _ in run(IoTEnv(), action, 200, 3)])

    assert delivered(0) < delivered(1) < delivered(3)


def test_iot_solar_follows_the_day() -> None:
    steps = run(IoTEnv(), FRUGAL, steps=288, seed=2)
    noon = [obs["solar_w"] for _, obs, _ in steps if 11.0 <= obs["hour"] <= 13.0]
    midnight = [obs["solar_w"] for _, obs, _ in steps if obs["hour"] < 4.0]
    assert min(noon) > 0.05 and max(midnight) == 0.0


def test_rollout_of_fixed_chooser_matches_manual_loop() -> None:
    action = {"sampling_hz": 1.0, "radio_power": 1, "duty_cycle": 0.2}
    manual = [r for r, _, _ in run(IoTEnv(), action, steps=50, seed=8)]
    assert rollout(IoTEnv(), fixed_chooser(action), steps=50, seed=8) == manual
