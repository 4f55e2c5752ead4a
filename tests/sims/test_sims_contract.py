"""The contract every simulator honours: one parameterised suite over all domains."""

import itertools
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from krystal import InputError, KrystalError
from krystal.kernel.rng import Rng
from krystal.sims import (
    DOMAINS,
    Env,
    GameEnv,
    IoTEnv,
    MLEnv,
    ServerEnv,
    fixed_chooser,
    make,
    random_chooser,
    rollout,
)

# Small worlds keep the suite fast: ML runs of 20 steps, shifts early.
SMALL = {"ml": {"run_steps": 20}}
# A sensible setting per domain (near each one's best fixed action).
TYPICAL: dict[str, dict[str, Any]] = {
    "game": {
        "resolution_scale": 0.8,
        "shadow_quality": 2,
        "texture_quality": "high",
        "ray_tracing": False,
    },
    "server": {"replicas": 6, "concurrency": 16},
    "ml": {"learning_rate": 0.03, "momentum": 0.9, "batch_size": 32},
    "iot": {"sampling_hz": 3.0, "radio_power": 2, "duty_cycle": 0.4},
}


def small_env(domain: str, **kwargs: Any) -> Env:
    return make(domain, **{**SMALL.get(domain, {}), **kwargs})


def trajectory(env: Env, seed: int, steps: int, action_seed: int = 5) -> list[Any]:
    choose = random_chooser(env, seed=action_seed)
    out: list[Any] = []
    rollout(env, choose, steps=steps, seed=seed, on_step=lambda t, r, info: out.append(r))
    out.append(env.step(choose({}))[0])
    return out


def middle_action(env: Env) -> dict[str, Any]:
    grid = env.grid(levels=3)
    return grid[len(grid) // 2]


def test_domains_and_classes() -> None:
    assert DOMAINS == ("game", "server", "ml", "iot")
    classes = [type(make(d)) for d in DOMAINS]
    assert classes == [GameEnv, ServerEnv, MLEnv, IoTEnv]
    assert all(issubclass(c, Env) for c in classes)


def test_unknown_domain_lists_valid_ones() -> None:
    with pytest.raises(InputError, match=r"'chess'.*'game', 'server', 'ml', 'iot'"):
        make("chess")


@pytest.mark.parametrize("domain", DOMAINS)
def test_reset_returns_declared_finite_float_observations(domain: str) -> None:
    env = small_env(domain)
    obs, info = env.reset(seed=3)
    assert tuple(obs) == env.observation_keys
    assert all(type(v) is float and math.isfinite(v) for v in obs.values())
    assert info["shifted"] is False and isinstance(info["context"], str)


@pytest.mark.parametrize("domain", DOMAINS)
def test_step_returns_the_gymnasium_five_tuple(domain: str) -> None:
    env = small_env(domain)
    env.reset(seed=1)
    choose = random_chooser(env, seed=2)
    for _ in range(30):
        obs, reward, terminated, truncated, info = env.step(choose({}))
        assert tuple(obs) == env.observation_keys
        assert all(type(v) is float and math.isfinite(v) for v in obs.values())
        assert type(reward) is float and -1.0 <= reward <= 1.0
        assert type(terminated) is bool and truncated is False
        assert isinstance(info, dict) and {"shifted", "context"} <= set(info)
        if terminated:
            env.reset()


@pytest.mark.parametrize("domain", DOMAINS)
def test_same_seed_same_trajectory_different_seed_differs(domain: str) -> None:
    first = trajectory(small_env(domain), seed=11, steps=60)
    again = trajectory(small_env(domain), seed=11, steps=60)
    other = trajectory(small_env(domain), seed=12, steps=60)
    assert first == again
    assert first != other


@pytest.mark.parametrize("domain", DOMAINS)
def test_constructor_seed_is_used_by_first_unseeded_reset(domain: str) -> None:
    env = small_env(domain, seed=7)
    obs, _ = env.reset()
    step = env.step(middle_action(env))
    env2 = small_env(domain)
    assert env2.reset(seed=7)[0] == obs
    assert env2.step(middle_action(env2)) == step


@pytest.mark.parametrize("domain", DOMAINS)
def test_step_before_reset_is_an_error(domain: str) -> None:
    env = small_env(domain)
    with pytest.raises(KrystalError, match="reset"):
        env.step(middle_action(env))


def invalid_cases(env: Env) -> list[tuple[dict[str, Any], str, str]]:
    """(action, key named in the message, value named in the message)."""
    good = middle_action(env)
    cases: list[tuple[dict[str, Any], str, str]] = []
    for key, spec in env.action_spec.items():
        missing = {k: v for k, v in good.items() if k != key}
        cases.append((missing, key, "missing"))
        kind = spec["type"]
        if kind in ("float", "int"):
            bad_values = [spec["high"] + 1, spec["low"] - 1, "high", None]
            if kind == "float":
                bad_values += [math.nan, math.inf]
            else:
                bad_values += [1.5, True]
        elif kind == "choice":
            bad_values = ["nonsense", None]
        else:
            bad_values = [1, "yes"]
        for value in bad_values:
            cases.append(({**good, key: value}, key, repr(value)))
    cases.append(({**good, "turbo": 1}, "turbo", "unknown"))
    return cases


@pytest.mark.parametrize("domain", DOMAINS)
def test_invalid_actions_raise_and_leave_state_untouched(domain: str) -> None:
    env = small_env(domain)
    reference = small_env(domain)
    env.reset(seed=4)
    reference.reset(seed=4)
    good = middle_action(env)
    for _ in range(3):
        assert env.step(good) == reference.step(good)
    for action, key, detail in invalid_cases(env):
        with pytest.raises(InputError) as caught:
            env.step(action)
        message = str(caught.value)
        assert repr(key) in message and detail in message
        if detail not in ("missing", "unknown"):
            assert "expected" in message
        assert isinstance(caught.value, ValueError)
    assert env.t == reference.t == 3
    for _ in range(5):
        assert env.step(good) == reference.step(good)


@pytest.mark.parametrize("domain", DOMAINS)
def test_range_message_states_the_bounds(domain: str) -> None:
    env = small_env(domain)
    env.reset(seed=0)
    key, spec = next((k, s) for k, s in env.action_spec.items() if s["type"] in ("int", "float"))
    with pytest.raises(InputError, match=rf"\[{spec['low']}, {spec['high']}\]"):
        env.step({**middle_action(env), key: spec["high"] * 2})


@pytest.mark.parametrize("domain", DOMAINS)
def test_grid_covers_the_spec(domain: str) -> None:
    env = small_env(domain)
    for levels in (2, 3, env.default_levels):
        grid = env.grid(levels)
        for action in grid:
            env.validate(action)
        keys = list(env.action_spec)
        assert len({tuple(a[k] for k in keys) for a in grid}) == len(grid)
        axes = {k: sorted({a[k] for a in grid}, key=str) for k in keys}
        assert len(grid) == math.prod(len(axis) for axis in axes.values())
        for key, spec in env.action_spec.items():
            values = {a[key] for a in grid}
            if spec["type"] == "bool":
                assert values == {False, True}
            elif spec["type"] == "choice":
                assert values == set(spec["options"])
            elif spec["type"] == "int":
                assert {spec["low"], spec["high"]} <= values
                span = spec["high"] - spec["low"] + 1
                assert len(values) == (span if span <= max(levels, 8) else levels)
            else:
                assert {spec["low"], spec["high"]} <= values and len(values) == levels
    with pytest.raises(InputError, match="levels"):
        env.grid(1)


def test_log_float_grid_is_geometric() -> None:
    rates = sorted({a["learning_rate"] for a in make("ml").grid(levels=4)})
    assert rates == pytest.approx([0.001, 0.01, 0.1, 1.0])


@pytest.mark.parametrize("domain", DOMAINS)
@settings(max_examples=20, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**63))
def test_sampled_actions_are_always_valid(domain: str, seed: int) -> None:
    env = small_env(domain)
    rng = Rng(seed)
    for _ in range(10):
        env.validate(env.sample_action(rng))


@pytest.mark.parametrize("domain", DOMAINS)
def test_shift_changes_reward_statistics_after_shift_at(domain: str) -> None:
    shift_at, after = 60, 120
    action = TYPICAL[domain]
    plain = small_env(domain)
    moved = small_env(domain, shift=True, shift_at=shift_at)
    assert plain.shift_at is None and moved.shift_at == shift_at
    flags: list[bool] = []
    base = rollout(plain, fixed_chooser(action), steps=shift_at + after, seed=9)
    shifted = rollout(
        moved,
        fixed_chooser(action),
        steps=shift_at + after,
        seed=9,
        on_step=lambda t, r, info: flags.append(info["shifted"]),
    )
    assert base[:shift_at] == shifted[:shift_at]
    assert flags == [False] * shift_at + [True] * after
    mean_base = sum(base[shift_at:]) / after
    mean_shifted = sum(shifted[shift_at:]) / after
    assert abs(mean_base - mean_shifted) > 0.05


@pytest.mark.parametrize("domain", DOMAINS)
def test_rollout_keeps_going_across_episodes(domain: str) -> None:
    env = small_env(domain)
    seen: list[int] = []
    fed: list[float] = []
    rewards = rollout(
        env,
        random_chooser(env, seed=0),
        fed.append,
        steps=45,
        seed=1,
        on_step=lambda t, r, info: seen.append(t),
    )
    assert len(rewards) == 45 and fed == rewards and seen == list(range(45))
    assert env.t == 45


def test_ml_runs_terminate_and_restart_with_a_new_dataset() -> None:
    env = make("ml", run_steps=20)
    refs: list[float] = []
    ends: list[int] = []

    def record(t: int, reward: float, info: dict[str, Any]) -> None:
        refs.append(info["reference_loss"])

    env.reset(seed=0)
    action = {"learning_rate": 0.03, "momentum": 0.9, "batch_size": 32}
    for t in range(60):
        _, _, terminated, _, info = env.step(action)
        record(t, 0.0, info)
        if terminated:
            ends.append(t)
            obs, _ = env.reset()
            assert obs["progress"] == 0.0
    assert ends == [19, 39, 59]
    assert len({refs[0], refs[20], refs[40]}) == 3


@pytest.mark.parametrize("domain", ["game", "server", "iot"])
def test_continuous_domains_never_end(domain: str) -> None:
    env = make(domain)
    env.reset(seed=0)
    action = middle_action(env)
    assert not any(any(env.step(action)[2:4]) for _ in range(400))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"seed": "1"}, "seed"),
        ({"seed": 1.0}, "seed"),
        ({"shift": 1}, "shift"),
        ({"shift_at": -1}, "shift_at"),
    ],
)
def test_constructor_validates(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError, match=field):
        make("game", **kwargs)


def test_reset_validates_seed_and_options() -> None:
    env = make("server")
    with pytest.raises(InputError, match="options"):
        env.reset(options=[1])  # type: ignore[arg-type]
    with pytest.raises(InputError, match="seed"):
        env.reset(seed="x")  # type: ignore[arg-type]


def test_fixed_chooser_returns_copies() -> None:
    choose = fixed_chooser({"replicas": 3, "concurrency": 4})
    first = choose({})
    first["replicas"] = 99
    assert choose({}) == {"replicas": 3, "concurrency": 4}


def test_grid_orders_like_itertools_product() -> None:
    env = make("server")
    grid = env.grid(levels=3)
    axes = [sorted({a[k] for a in grid}) for k in env.action_spec]
    assert [tuple(a.values()) for a in grid] == list(itertools.product(*axes))
