"""Domain presets: spaces agree with the simulators, reward helpers behave."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

import krystal
from krystal import InputError, Krystal
from krystal.agent import (
    PRESET_NAMES,
    PRESETS,
    ActionSpace,
    game_reward,
    get_preset,
    iot_reward,
    ml_reward,
    server_reward,
)
from krystal.sims import DOMAINS, make

CREATORS = {
    "game": krystal.create_game_optimizer,
    "server": krystal.create_server_optimizer,
    "ml": krystal.create_ml_optimizer,
    "iot": krystal.create_iot_optimizer,
}


def test_presets_cover_exactly_the_simulated_domains() -> None:
    assert set(PRESET_NAMES) == set(DOMAINS) == set(CREATORS)


@pytest.mark.parametrize("domain", PRESET_NAMES)
def test_preset_space_equals_the_simulator_action_spec(domain: str) -> None:
    preset = get_preset(domain)
    agent = CREATORS[domain](seed=1)
    env = make(domain)
    assert preset.space == env.action_spec
    assert agent.space is not None
    assert agent.space.to_spec() == ActionSpace.from_spec(env.action_spec).to_spec()
    assert agent.config.action_dim == len(env.action_spec)


@pytest.mark.parametrize("domain", PRESET_NAMES)
def test_preset_agent_drives_its_simulator_with_legal_actions(domain: str) -> None:
    agent = CREATORS[domain](seed=2)
    env = make(domain, seed=3)
    obs, _ = env.reset()
    for _ in range(15):
        action = agent.observe(obs).decide()
        assert isinstance(action, dict)
        assert set(action) == set(env.action_spec)
        agent.space.check(action)  # type: ignore[union-attr]
        obs, reward, _, _, _ = env.step(action)  # the simulator validates it too
        agent.reward(reward)
    assert agent.cycle == 15


@pytest.mark.parametrize("domain", PRESET_NAMES)
def test_default_action_is_legal(domain: str) -> None:
    preset = get_preset(domain)
    ActionSpace.from_spec(preset.space).check(preset.default_action)
    make(domain).validate(preset.default_action)


def test_preset_settings_and_overrides() -> None:
    server = krystal.create_server_optimizer(seed=4)
    assert isinstance(server, Krystal)
    horizon = PRESETS["server"].settings["horizon"]
    assert horizon > 1  # a replica's cold start delays the effect of a decision
    assert server.config.horizon == horizon and server.config.seed == 4
    assert server.config.state_dim == 8
    custom = krystal.create_server_optimizer(seed=4, horizon=2, state_dim=3)
    assert (custom.config.horizon, custom.config.state_dim) == (2, 3)
    for domain, create in CREATORS.items():
        expected = PRESETS[domain].settings.get("horizon", 1)
        assert create().config.horizon == expected
    same = [krystal.create_ml_optimizer(seed=9).observe({"loss": 1.0}).decide() for _ in range(2)]
    assert same[0] == same[1]
    assert repr(PRESETS["iot"]) == "Preset('iot')"
    assert PRESETS["ml"].reward is ml_reward


@pytest.mark.parametrize("domain", ["chess", "", None, 3])
def test_unknown_domain_is_an_input_error(domain: object) -> None:
    with pytest.raises(InputError, match=r"^domain: expected one of game, server, ml, iot"):
        get_preset(domain)  # type: ignore[arg-type]


# -- reward helpers --------------------------------------------------------------------

MS = st.floats(min_value=0.0, max_value=200.0)
UNIT = st.floats(min_value=0.0, max_value=1.0)


@given(MS, MS, UNIT)
def test_game_reward_falls_with_frame_time(t1: float, t2: float, quality: float) -> None:
    fast, slow = min(t1, t2), max(t1, t2)
    assert game_reward(fast, quality) >= game_reward(slow, quality)
    assert -1.0 <= game_reward(slow, quality) <= 1.0


@given(MS, UNIT, UNIT)
def test_game_reward_rises_with_quality(t: float, q1: float, q2: float) -> None:
    assert game_reward(t, min(q1, q2)) <= game_reward(t, max(q1, q2))


def test_game_reward_penalises_missing_the_budget() -> None:
    assert game_reward(10.0, 0.8) == pytest.approx(0.8, abs=0.01)
    assert game_reward(25.0, 0.8) < 0.5
    assert game_reward(40.0, 0.8) < 0.0
    assert game_reward(1000.0, 1.0) == -1.0


@given(UNIT, UNIT, st.integers(1, 16), st.integers(1, 16))
def test_server_reward_monotone(s1: float, s2: float, r1: int, r2: int) -> None:
    assert server_reward(min(s1, s2), r1) <= server_reward(max(s1, s2), r1)
    assert server_reward(s1, max(r1, r2)) <= server_reward(s1, min(r1, r2))
    assert server_reward(s1, r1) == pytest.approx(s1 - 0.04 * r1)


@given(
    st.floats(min_value=0.01, max_value=10.0),
    st.floats(min_value=0.0, max_value=1.0),
    st.floats(min_value=0.0, max_value=1.0),
    st.floats(min_value=0.1, max_value=10.0),
)
def test_ml_reward_monotone(previous: float, f1: float, f2: float, compute: float) -> None:
    # lower new loss is better; more compute for the same gain is worse
    a, b = previous * min(f1, f2), previous * max(f1, f2)
    assert ml_reward(previous, a, compute) >= ml_reward(previous, b, compute)
    gain = ml_reward(previous, previous * 0.5, compute)
    assert gain > 0 and ml_reward(previous, previous * 0.5, compute * 2) == pytest.approx(gain / 2)
    assert ml_reward(previous, previous * 1.1, compute) < 0


@pytest.mark.parametrize("compute", [0.0, -1.0])
def test_ml_reward_needs_positive_compute(compute: float) -> None:
    with pytest.raises(InputError, match=r"^compute: expected a positive amount"):
        ml_reward(1.0, 0.9, compute)


@given(
    st.floats(min_value=0.0, max_value=20.0),
    st.floats(min_value=0.0, max_value=20.0),
    st.floats(min_value=0.0, max_value=50.0),
    st.floats(min_value=0.0, max_value=50.0),
)
def test_iot_reward_monotone(h1: float, h2: float, e1: float, e2: float) -> None:
    assert iot_reward(min(h1, h2), e1, False) <= iot_reward(max(h1, h2), e1, False)
    assert iot_reward(h1, max(e1, e2), False) <= iot_reward(h1, min(e1, e2), False)
    assert iot_reward(h1, e1, True) == -0.5


def test_iot_reward_values() -> None:
    assert iot_reward(0.0, 0.0, False) == 0.0
    assert iot_reward(2.0, 1.0, False) == pytest.approx(1.0 - math.exp(-1.0) - 0.05)
