"""Hypothesis invariants of the agent: bounds, save/load, seeding."""

import math
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from krystal import Krystal, KrystalConfig
from krystal.agent import ActionSpace

METRICS = ("cpu", "latency", "rps")
FINITE = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)
REWARD = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False)


@st.composite
def float_knob(draw: st.DrawFn) -> dict[str, Any]:
    log = draw(st.booleans())
    if log:
        low = draw(st.floats(min_value=1e-6, max_value=1e3))
        high = low * draw(st.floats(min_value=1.01, max_value=1e6))
        return {"type": "float", "low": low, "high": high, "log": True}
    low = draw(st.floats(min_value=-1e6, max_value=1e6))
    high = low + draw(st.floats(min_value=1e-3, max_value=1e6))
    return {"type": "float", "low": low, "high": high}


@st.composite
def int_knob(draw: st.DrawFn) -> dict[str, Any]:
    low = draw(st.integers(-1000, 1000))
    return {"type": "int", "low": low, "high": low + draw(st.integers(1, 500))}


CHOICE = st.builds(
    lambda options: {"type": "choice", "options": options},
    st.one_of(
        st.lists(st.text(min_size=1, max_size=6), min_size=2, max_size=5, unique=True),
        st.lists(st.integers(-50, 50), min_size=2, max_size=5, unique=True),
    ),
)
KNOB = st.one_of(float_knob(), int_knob(), CHOICE, st.just({"type": "bool"}))
SPECS = st.dictionaries(
    st.text(alphabet="abcdefgh_", min_size=1, max_size=6), KNOB, min_size=1, max_size=4
)


@st.composite
def observation(draw: st.DrawFn) -> dict[str, float]:
    names = draw(st.lists(st.sampled_from(METRICS), min_size=1, max_size=3, unique=True))
    return {name: draw(FINITE) for name in names}


STREAM = st.lists(st.tuples(observation(), REWARD), min_size=1, max_size=25)


def run(k: Krystal, stream: list[tuple[dict[str, float], float]]) -> list[tuple[Any, float]]:
    out = []
    for obs, r in stream:
        action = k.observe(obs).decide()
        out.append((action, k.reward(r)))
    return out


# (1) actions always in bounds ---------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=SPECS, stream=STREAM, seed=st.integers(0, 2**32))
def test_named_actions_are_always_legal(spec: dict[str, Any], stream: list, seed: int) -> None:  # type: ignore[type-arg]
    space = ActionSpace.from_spec(spec)
    k = Krystal(KrystalConfig(seed=seed, state_dim=3), space=spec)
    for obs, r in stream:
        action = k.observe(obs).decide()
        assert isinstance(action, dict)
        space.check(action)  # raises InputError on any illegal value
        for name, dim in space.items():
            if dim.kind == "int":
                assert type(action[name]) is int
            elif dim.kind == "float":
                assert isinstance(action[name], float) and math.isfinite(action[name])
        k.reward(r)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    action_dim=st.integers(1, 5),
    stream=STREAM,
    seed=st.integers(0, 2**32),
    swarm=st.booleans(),
)
def test_plain_actions_are_always_in_the_unit_box(
    action_dim: int,
    stream: list,
    seed: int,
    swarm: bool,  # type: ignore[type-arg]
) -> None:
    k = Krystal(KrystalConfig(seed=seed, state_dim=3, action_dim=action_dim, enable_swarm=swarm))
    for action, _ in run(k, stream):
        assert isinstance(action, list) and len(action) == action_dim
        assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in action)


# (2) save -> load -> same decisions ---------------------------------------------------


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spec=st.one_of(st.none(), SPECS),
    before=STREAM,
    after=STREAM,
    pending=st.booleans(),
    seed=st.integers(0, 2**32),
    horizon=st.integers(1, 4),
)
def test_save_load_gives_the_same_decisions_and_td_errors(
    spec: Any,
    before: list,
    after: list,
    pending: bool,
    seed: int,
    horizon: int,  # type: ignore[type-arg]
) -> None:
    config = KrystalConfig(seed=seed, state_dim=3, action_dim=2, horizon=horizon)
    k = Krystal(config, space=spec)
    run(k, before)
    waiting = None
    if pending:
        waiting = k.observe(before[0][0]).decide()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "agent.json"
        k.save(path)
        loaded = Krystal().load(path)
        built = Krystal.from_file(path)
    assert loaded.config == k.config == built.config
    if pending:
        assert loaded.last_action == waiting == built.last_action
    expected_rewards = []
    if pending:
        expected_rewards.append(k.reward(0.25))
        assert loaded.reward(0.25) == expected_rewards[0]
        assert built.reward(0.25) == expected_rewards[0]
    original = run(k, after)
    assert run(loaded, after) == original
    assert run(built, after) == original


# (3) same seed -> same stream --------------------------------------------------------


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=st.one_of(st.none(), SPECS), stream=STREAM, seed=st.integers(0, 2**32))
def test_same_seed_same_decisions(spec: Any, stream: list, seed: int) -> None:  # type: ignore[type-arg]
    a = Krystal(KrystalConfig(seed=seed, state_dim=3), space=spec)
    b = Krystal(KrystalConfig(seed=seed, state_dim=3), space=spec)
    assert run(a, stream) == run(b, stream)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    stream=st.lists(st.tuples(observation(), REWARD), min_size=3, max_size=10),
    seed=st.integers(0, 2**32),
    offset=st.integers(1, 2**32),
)
def test_different_seeds_give_different_decisions(stream: list, seed: int, offset: int) -> None:  # type: ignore[type-arg]
    a = Krystal(KrystalConfig(seed=seed, state_dim=3, action_dim=3))
    b = Krystal(KrystalConfig(seed=seed + offset, state_dim=3, action_dim=3))
    assert [x for x, _ in run(a, stream)] != [x for x, _ in run(b, stream)]
