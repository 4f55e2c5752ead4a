"""The short path for known metrics gives the same vector as the checked path, or none."""

import math
import pickle
from collections import OrderedDict, defaultdict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from krystal import InputError, Krystal, KrystalConfig
from krystal.agent._observations import KnownMetrics

NAMES = ["cpu", "latency", "rps"]


def _known(width: int = 4) -> KnownMetrics:
    known = KnownMetrics()
    known.remember(NAMES, width)
    return known


def test_known_names_in_any_order_are_placed_by_slot_and_padded() -> None:
    known = _known()
    assert known.vector({"rps": 3.0, "cpu": 1.0, "latency": 2}) == [1.0, 2.0, 3.0, None]
    one = KnownMetrics()
    one.remember(["only"], 1)
    assert one.vector({"only": 5}) == [5.0]


@pytest.mark.parametrize(
    "obs",
    [
        {"cpu": 1.0, "latency": 2.0},  # one missing
        {"cpu": 1.0, "latency": 2.0, "rps": 3.0, "new": 4.0},  # one new
        {"cpu": 1.0, "latency": 2.0, "disk": 3.0},  # as many, not the same
        {"cpu": 1.0, "latency": True, "rps": 3.0},  # a bool is not a number here
        {"cpu": 1.0, "latency": "2", "rps": 3.0},
        {"cpu": 1.0, "latency": math.nan, "rps": 3.0},
        {"cpu": 1.0, "latency": -math.inf, "rps": 3.0},
        {"cpu": 1.0, "latency": 10**400, "rps": 3.0},  # too large for a float
        OrderedDict(cpu=1.0, latency=2.0, rps=3.0),  # not a plain dict
        [1.0, 2.0, 3.0],
    ],
)
def test_anything_else_goes_to_the_checked_path(obs: Any) -> None:
    assert _known().vector(obs) is None


def test_nothing_is_known_before_remember() -> None:
    assert KnownMetrics().vector({"cpu": 1.0}) is None


def test_a_mapping_that_invents_values_is_not_read() -> None:
    obs: defaultdict[str, float] = defaultdict(float, cpu=1.0, latency=2.0, x=0.0)
    assert _known().vector(obs) is None
    assert "rps" not in obs


def test_pickles() -> None:
    copy = pickle.loads(pickle.dumps(_known()))
    assert copy.vector({"cpu": 1.0, "latency": 2.0, "rps": 3.0}) == [1.0, 2.0, 3.0, None]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["a", "b", "c", "d"]),
            st.one_of(st.floats(-1e6, 1e6), st.integers(-1000, 1000)),
            min_size=1,
        ),
        min_size=1,
        max_size=12,
    )
)
def test_agent_learns_the_same_with_or_without_the_short_path(
    observations: list[dict[str, float]],
) -> None:
    fast, checked = (Krystal(KrystalConfig(state_dim=4, action_dim=2, seed=1)) for _ in "ab")
    checked._known.vector = lambda obs: None  # type: ignore[method-assign]
    for i, obs in enumerate(observations):
        assert fast.observe(obs).decide() == checked.observe(obs).decide()
        assert fast.reward(0.1 * i) == checked.reward(0.1 * i)
    assert fast.get_metrics() == checked.get_metrics()
    assert fast._learner.get_state() == checked._learner.get_state()


def test_bad_values_still_get_the_precise_error_and_change_nothing() -> None:
    agent = Krystal(KrystalConfig(state_dim=3, action_dim=1, seed=0))
    agent.observe({"cpu": 1.0, "rps": 2.0}).decide()
    agent.reward(1.0)
    before = agent._learner.get_state()
    with pytest.raises(InputError, match="rps: expected a finite number, got nan"):
        agent.observe({"cpu": 1.0, "rps": math.nan})
    with pytest.raises(InputError, match="rps: expected a finite number, got True"):
        agent.observe({"cpu": 1.0, "rps": True})
    assert agent._learner.get_state() == before


def test_the_short_path_works_after_load(tmp_path: Path) -> None:
    agent = Krystal(KrystalConfig(state_dim=2, action_dim=1, seed=0))
    for t in range(5):
        agent.observe({"cpu": float(t), "rps": 2.0 * t}).decide()
        agent.reward(1.0)
    agent.save(tmp_path / "agent.json")
    twin = Krystal.from_file(tmp_path / "agent.json")
    obs = {"rps": 9.0, "cpu": 4.0}
    assert twin._known.vector(obs) is None  # nothing remembered yet: the checked path
    assert twin.observe(obs).decide() == agent.observe(obs).decide()
    assert twin._known.vector(obs) == [4.0, 9.0]
    assert agent.get_metrics()["missing_values"] == twin.get_metrics()["missing_values"] == 0


def test_auto_reward_sees_every_metric_on_the_short_path() -> None:
    seen: list[dict[str, float]] = []

    def reward_fn(metrics: dict[str, float]) -> float:
        seen.append(metrics)
        return metrics["rps"] - metrics["cpu"]

    agent = Krystal(
        KrystalConfig(state_dim=3, action_dim=1, seed=0, auto_reward=True), reward_fn=reward_fn
    )
    for t in range(4):
        agent.observe({"cpu": float(t), "rps": 10.0}).decide()
    assert seen == [{"cpu": float(t), "rps": 10.0} for t in (1, 2, 3)]
    assert agent.cycle == 3
    assert agent.total_reward == pytest.approx(9.0 + 8.0 + 7.0)
