"""The observe -> decide -> reward loop: call order, named metrics, bad input."""

import json
import logging
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from krystal import InputError, Krystal, KrystalConfig, Phase
from krystal._errors import CallOrderError


def snapshot(k: Krystal) -> str:
    return json.dumps(
        {
            "learner": k._learner.get_state(),
            "metrics": k._metric_names,
            "missing": k._missing_total,
            "pending": k._pending,
            "last": k._last_action,
        },
        sort_keys=True,
    )


def warmed(seed: int = 1, steps: int = 5, **config: Any) -> Krystal:
    k = Krystal(KrystalConfig(seed=seed, state_dim=3, action_dim=2, **config))
    for t in range(steps):
        k.observe({"a": float(t), "b": 10.0 - t}).decide()
        k.reward(0.1 * t)
    return k


# -- call order ------------------------------------------------------------------------


def test_decide_before_observe_is_a_call_order_error() -> None:
    k = Krystal(KrystalConfig(seed=0))
    with pytest.raises(CallOrderError, match="observe"):
        k.decide()


def test_reward_before_any_decide_is_a_call_order_error() -> None:
    k = Krystal(KrystalConfig(seed=0))
    with pytest.raises(CallOrderError, match="decide"):
        k.reward(1.0)
    k.observe({"x": 1.0})
    with pytest.raises(CallOrderError, match="decide"):
        k.reward(1.0)
    assert k.cycle == 0


def test_reward_twice_for_one_decision_is_a_call_order_error() -> None:
    k = Krystal(KrystalConfig(seed=0))
    k.observe({"x": 1.0}).decide()
    k.reward(1.0)
    before = snapshot(k)
    with pytest.raises(CallOrderError):
        k.reward(1.0)
    assert snapshot(k) == before
    assert k.cycle == 1


def test_call_order_error_is_a_krystal_error_and_runtime_error() -> None:
    from krystal import KrystalError

    assert issubclass(CallOrderError, KrystalError)
    assert issubclass(CallOrderError, RuntimeError)


# -- named observations ----------------------------------------------------------------


def test_observations_are_matched_by_name_not_order() -> None:
    forward = Krystal(KrystalConfig(seed=3, state_dim=2, action_dim=2))
    backward = Krystal(KrystalConfig(seed=3, state_dim=2, action_dim=2))
    for t in range(30):
        a, b = float(t % 4), 100.0 - 3.0 * t
        d1 = forward.observe({"a": a, "b": b}).decide()
        d2 = backward.observe({"b": b, "a": a}).decide()
        assert d1 == d2
        assert forward.reward(a - b / 100) == backward.reward(a - b / 100)
    assert forward.get_metrics()["metric_names"] == ["a", "b"]
    assert backward.get_metrics()["metric_names"] == ["a", "b"]


def test_a_missing_metric_is_counted_and_leaves_the_others_alone() -> None:
    gap = Krystal(KrystalConfig(seed=2, state_dim=3, action_dim=1))
    full = Krystal(KrystalConfig(seed=2, state_dim=3, action_dim=1))
    rows = [
        {"a": 1.0, "b": 5.0, "c": -1.0},
        {"a": 2.0, "b": 7.0, "c": 0.5},
        {"a": 4.0, "b": 1.0, "c": 3.0},
    ]
    for row in rows:
        gap.observe(row).decide()
        full.observe(row).decide()
        gap.reward(0.5)
        full.reward(0.5)
    gap.observe({"a": 3.0, "c": 2.0})  # "b" missing
    full.observe({"a": 3.0, "b": 9.0, "c": 2.0})
    assert gap.get_metrics()["missing_values"] == 1
    assert full.get_metrics()["missing_values"] == 0
    ng, nf = gap._learner.normalizer, full._learner.normalizer
    slot = gap._slots
    for name in ("a", "c"):
        i = slot[name]
        assert (ng.counts[i], ng.means[i], ng.variances[i]) == (
            nf.counts[i],
            nf.means[i],
            nf.variances[i],
        )
        assert gap._learner._z[i] == full._learner._z[i]
    b = slot["b"]
    assert ng.counts[b] == 3 and nf.counts[b] == 4
    assert gap._learner._z[b] == 0.0
    action = gap.decide()
    assert isinstance(action, list) and all(0.0 <= v <= 1.0 for v in action)
    gap.observe({"c": 1.0})
    assert gap.get_metrics()["missing_values"] == 3


def test_new_metric_takes_the_next_slot(caplog: pytest.LogCaptureFixture) -> None:
    k = Krystal(KrystalConfig(seed=0, state_dim=3, action_dim=1))
    k.observe({"z": 1.0, "a": 2.0}).decide()
    k.reward(0.0)
    with caplog.at_level(logging.INFO, logger="krystal"):
        k.observe({"m": 3.0, "z": 1.0})
    assert k._slots == {"a": 0, "z": 1, "m": 2}
    assert "new metric 'm'" in caplog.text


def test_metric_beyond_state_dim_is_refused_and_changes_nothing() -> None:
    k = warmed()
    k.observe({"a": 1.0, "b": 2.0, "c": 3.0}).decide()  # third slot used
    k.reward(0.2)
    before = snapshot(k)
    with pytest.raises(InputError, match=r"state_dim=3.*\['d'\]"):
        k.observe({"a": 1.0, "d": 4.0})
    assert snapshot(k) == before
    with pytest.raises(CallOrderError):
        k.reward(1.0)  # the refused observe did not open a decision either


# -- bad input never changes state ---------------------------------------------------

BAD_VALUES = st.one_of(
    st.just(math.nan),
    st.just(math.inf),
    st.just(-math.inf),
    st.text(max_size=5),
    st.none(),
    st.booleans(),
    st.lists(st.floats(allow_nan=False), max_size=3),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.complex_numbers(allow_nan=False, allow_infinity=False),
)
GOOD = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.integers(0, 6),
    decided=st.booleans(),
    name=st.sampled_from(["a", "b", "latency ms"]),
    bad=BAD_VALUES,
    other=GOOD,
)
def test_bad_metric_value_raises_input_error_naming_it_and_changes_nothing(
    steps: int, decided: bool, name: str, bad: Any, other: float
) -> None:
    k = warmed(steps=steps)
    k.observe({"a": 1.0, "b": 2.0})
    if decided:
        k.decide()
    before = snapshot(k)
    obs = {"a": other, "b": other, name: bad}
    with pytest.raises(InputError) as info:
        k.observe(obs)
    assert str(info.value).startswith(f"{name}: expected a finite number")
    assert snapshot(k) == before


@pytest.mark.parametrize(
    "obs",
    [
        {},
        [("a", 1.0)],
        [1.0, 2.0],
        "a=1",
        None,
        1.0,
        {1: 2.0},
        {"": 2.0},
        {None: 2.0},
    ],
    ids=repr,
)
def test_malformed_observation_raises_input_error_and_changes_nothing(obs: Any) -> None:
    k = warmed()
    k.observe({"a": 1.0, "b": 2.0}).decide()
    before = snapshot(k)
    with pytest.raises(InputError, match=r"^observe: "):
        k.observe(obs)
    assert snapshot(k) == before


@settings(max_examples=60, deadline=None)
@given(
    steps=st.integers(1, 6),
    bad=st.one_of(
        st.just(math.nan),
        st.just(math.inf),
        st.just(-math.inf),
        st.text(max_size=5),
        st.none(),
        st.booleans(),
        st.lists(st.integers(), max_size=2),
    ),
)
def test_bad_reward_raises_input_error_naming_reward_and_changes_nothing(
    steps: int, bad: Any
) -> None:
    k = warmed(steps=steps)
    k.observe({"a": 1.0, "b": 2.0}).decide()
    before = snapshot(k)
    with pytest.raises(InputError, match=r"^reward: expected a finite number"):
        k.reward(bad)
    assert snapshot(k) == before
    k.reward(0.5)  # the decision is still waiting for its (good) reward
    assert k.cycle == steps + 1


@pytest.mark.parametrize("where", ["observe", "reward"])
def test_huge_integer_is_an_input_error(where: str) -> None:
    k = warmed()
    k.observe({"a": 1.0, "b": 2.0}).decide()
    before = snapshot(k)
    name = "a" if where == "observe" else "reward"
    with pytest.raises(InputError, match=rf"^{name}: expected a finite number"):
        if where == "observe":
            k.observe({"a": 10**400, "b": 1.0})
        else:
            k.reward(10**400)
    assert snapshot(k) == before


def test_integer_values_are_accepted() -> None:
    k = Krystal(KrystalConfig(seed=0, state_dim=1, action_dim=1))
    k.observe({"a": 3}).decide()
    assert isinstance(k.reward(1), float)


# -- auto reward ---------------------------------------------------------------------


def test_auto_reward_defaults_to_the_mean_of_the_next_observation() -> None:
    k = Krystal(KrystalConfig(seed=0, state_dim=2, action_dim=1, auto_reward=True))
    k.observe({"a": 1.0, "b": 2.0}).decide()
    assert k.cycle == 0
    k.observe({"a": 3.0, "b": 5.0})
    assert k.cycle == 1
    assert k.total_reward == pytest.approx(4.0)
    k.observe({"a": 0.0, "b": 0.0})  # no decision waiting: no reward
    assert k.cycle == 1


def test_auto_reward_uses_reward_fn() -> None:
    seen: list[dict[str, float]] = []

    def reward_fn(values: dict[str, float]) -> float:
        seen.append(values)
        return -values["latency"]

    k = Krystal(
        KrystalConfig(seed=0, state_dim=1, action_dim=1, auto_reward=True), reward_fn=reward_fn
    )
    k.observe({"latency": 1.0}).decide()
    k.observe({"latency": 7.0})
    assert seen == [{"latency": 7.0}]
    assert k.total_reward == -7.0


def test_auto_reward_fn_returning_garbage_is_an_input_error() -> None:
    k = Krystal(
        KrystalConfig(seed=0, state_dim=1, action_dim=1, auto_reward=True),
        reward_fn=lambda values: math.nan,
    )
    k.observe({"a": 1.0}).decide()
    with pytest.raises(InputError, match=r"^reward_fn:"):
        k.observe({"a": 2.0})
    assert k.cycle == 0


def test_auto_reward_observation_refused_for_state_dim_changes_nothing() -> None:
    k = Krystal(KrystalConfig(seed=1, state_dim=1, action_dim=1, auto_reward=True))
    k.observe({"a": 1.0}).decide()
    before = snapshot(k)
    with pytest.raises(InputError):
        k.observe({"a": 1.0, "b": 2.0})
    assert snapshot(k) == before


# -- construction and read-outs ------------------------------------------------------


def test_config_must_be_a_krystal_config() -> None:
    with pytest.raises(InputError, match=r"^config: expected a KrystalConfig"):
        Krystal({"seed": 1})  # type: ignore[arg-type]


def test_named_space_sets_action_dim() -> None:
    k = Krystal(
        KrystalConfig(action_dim=4),
        space={"x": {"type": "bool"}, "y": {"type": "int", "low": 0, "high": 2}},
    )
    assert k.config.action_dim == 2
    assert k.space is not None and list(k.space) == ["x", "y"]
    action = k.observe({"m": 1.0}).decide()
    assert set(action) == {"x", "y"}  # type: ignore[arg-type]


def test_properties_and_metrics() -> None:
    k = Krystal(KrystalConfig(seed=4, state_dim=2, action_dim=3))
    assert k.last_action is None
    assert k.space is None
    assert k.get_metrics()["mean_reward"] == 0.0
    for t in range(4):
        action = k.observe({"a": float(t)}).decide()
        assert k.last_action == action
        k.reward(float(t))
    assert k.cycle == 4
    assert k.total_reward == 6.0
    m = k.get_metrics()
    assert m["mean_reward"] == 1.5
    assert (m["action_dim"], m["state_dim"], m["metric_names"]) == (3, 2, ["a"])
    assert isinstance(Phase(k.get_phase()), Phase)
    assert k.get_phase() == m["phase"]
    history = k.phase_history
    assert history[0] == (0, "GAS")
    assert all(isinstance(c, int) and isinstance(p, str) for c, p in history)
    text = repr(k)
    assert (
        text.startswith("Krystal(cycle=4, phase=")
        and "action_dim=3" in text
        and "named=False" in text
    )
