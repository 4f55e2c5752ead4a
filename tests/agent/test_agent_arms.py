"""Which policy an agent uses for its space, and what the arms policy buys."""

from pathlib import Path

import pytest

from krystal import Krystal, KrystalConfig
from krystal._errors import ConfigError
from krystal.kernel.arms import ArmsPolicy
from krystal.kernel.policy import ResponseSurfacePolicy
from krystal.kernel.rng import Rng

MODELS = {"model": {"type": "choice", "options": ["small", "large", "tiny", "medium", "xl"]}}


def _policy(agent: Krystal) -> object:
    return agent._learner.policy


@pytest.mark.parametrize(
    ("space", "expected"),
    [
        (MODELS, ArmsPolicy),
        ({**MODELS, "cache": {"type": "bool"}}, ArmsPolicy),
        ({"replicas": {"type": "int", "low": 1, "high": 8}}, ResponseSurfacePolicy),
        ({**MODELS, "rate": {"type": "float", "low": 0.0, "high": 1.0}}, ResponseSurfacePolicy),
        # 5 x 16 = 80 combinations: more than the arms policy enumerates
        ({**MODELS, "n": {"type": "int", "low": 1, "high": 16}}, ResponseSurfacePolicy),
        (None, ResponseSurfacePolicy),
    ],
)
def test_auto_picks_arms_for_small_discrete_spaces_with_a_choice(space, expected) -> None:
    config = KrystalConfig(state_dim=2, action_dim=1, seed=0)
    assert isinstance(_policy(Krystal(config, space=space)), expected)


def test_policy_can_be_forced_either_way() -> None:
    ints = {"replicas": {"type": "int", "low": 1, "high": 4}}
    forced = Krystal(KrystalConfig(state_dim=2, seed=0, policy="arms"), space=ints)
    assert isinstance(_policy(forced), ArmsPolicy)
    ordered = Krystal(KrystalConfig(state_dim=2, seed=0, policy="surface"), space=MODELS)
    assert isinstance(_policy(ordered), ResponseSurfacePolicy)
    with pytest.raises(ConfigError, match="policy: 'arms' needs a named action space"):
        Krystal(KrystalConfig(state_dim=2, action_dim=2, policy="arms"))


def _unordered_task(agent: Krystal, steps: int, seed: int) -> list[float]:
    # The right model depends on the load, and the right options sit in the middle of
    # the list and are not neighbours: an ordered reading of the list gets them wrong.
    env = Rng(seed)
    rewards = []
    for _ in range(steps):
        load = env.uniform(0.0, 100.0)
        choice = agent.observe({"load": load, "noise": env.gauss()}).decide()["model"]
        right = "large" if load > 50.0 else "medium"
        r = 1.0 if choice == right else 0.0
        agent.reward(r)
        rewards.append(r)
    return rewards


def test_arms_policy_learns_unordered_options_better_than_the_surface() -> None:
    arms = Krystal(KrystalConfig(state_dim=2, seed=7), space=MODELS)
    surface = Krystal(KrystalConfig(state_dim=2, seed=7, policy="surface"), space=MODELS)
    arms_tail = sum(_unordered_task(arms, 800, 1)[-200:]) / 200
    surface_tail = sum(_unordered_task(surface, 800, 1)[-200:]) / 200
    assert arms_tail > 0.85
    assert arms_tail > surface_tail + 0.1


def test_save_and_load_keep_the_arms(tmp_path: Path) -> None:
    agent = Krystal(KrystalConfig(state_dim=2, seed=3), space=MODELS)
    _unordered_task(agent, 200, 2)
    agent.save(tmp_path / "agent.json")
    twin = Krystal(KrystalConfig(state_dim=2, seed=99), space=MODELS)
    twin.load(tmp_path / "agent.json")
    assert isinstance(_policy(twin), ArmsPolicy)
    obs = {"load": 80.0, "noise": 0.1}
    for _ in range(20):
        a, b = agent.observe(obs).decide(), twin.observe(obs).decide()
        assert a == b
        agent.reward(1.0)
        twin.reward(1.0)


def test_numpy_backend_agrees_with_the_python_arms() -> None:
    pytest.importorskip("numpy")
    py = Krystal(KrystalConfig(state_dim=2, seed=5), space=MODELS)
    npy = Krystal(KrystalConfig(state_dim=2, seed=5, backend="numpy"), space=MODELS)
    env = Rng(8)
    for _ in range(150):
        obs = {"load": env.uniform(0.0, 100.0), "noise": env.gauss()}
        a, b = py.observe(obs).decide(), npy.observe(obs).decide()
        assert a == b
        r = 1.0 if a["model"] == ("large" if obs["load"] > 50.0 else "medium") else 0.0
        py.reward(r)
        npy.reward(r)
