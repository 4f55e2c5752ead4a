import json
import math
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from krystal.kernel.rng import Rng
from krystal.kernel.swarm import ParticleSwarm, optimize


def quadratic(centre: list[float]) -> Callable[[list[float]], float]:
    def score(x: list[float]) -> float:
        return -sum((xi - ci) ** 2 for xi, ci in zip(x, centre, strict=True))

    return score


def run(swarm: ParticleSwarm, objective: Callable[[list[float]], float], n: int) -> list:  # type: ignore[type-arg]
    asked = []
    for _ in range(n):
        x = swarm.ask()
        asked.append(x)
        swarm.tell(x, objective(x))
    return asked


@pytest.mark.parametrize(("dim", "budget"), [(2, 500), (5, 1500)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_finds_the_maximum_of_a_concave_quadratic(dim: int, budget: int, seed: int) -> None:
    centre = [0.15 + 0.7 * d / dim for d in range(dim)]
    low, high = [-2.0] * dim, [3.0] * dim
    x, score = optimize(quadratic(centre), dim, budget, Rng(seed), low=low, high=high)
    assert max(abs(a - b) for a, b in zip(x, centre, strict=True)) < 0.01
    assert score == quadratic(centre)(x)


def test_finds_a_maximum_on_the_wall() -> None:
    swarm = ParticleSwarm(3, Rng(4), particles=6)
    run(swarm, lambda x: x[0] - x[1] - (x[2] - 0.5) ** 2, 600)
    best = swarm.best_position
    assert best is not None
    assert best[0] == 1.0 and best[1] == 0.0
    assert abs(best[2] - 0.5) < 0.01


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    dim=st.integers(1, 4),
    particles=st.integers(1, 6),
    seed=st.integers(0, 2**32),
)
def test_never_asks_outside_the_bounds(
    data: st.DataObject, dim: int, particles: int, seed: int
) -> None:
    low = data.draw(st.lists(st.floats(-1e3, 1e3), min_size=dim, max_size=dim))
    widths = data.draw(st.lists(st.floats(1e-3, 1e3), min_size=dim, max_size=dim))
    high = [lo + w for lo, w in zip(low, widths, strict=True)]
    # Scores that pull towards a random corner far outside the box, plus noise.
    pull = data.draw(st.lists(st.floats(-1e6, 1e6), min_size=dim, max_size=dim))
    noise = Rng(seed + 1)
    swarm = ParticleSwarm(dim, Rng(seed), particles=particles, low=low, high=high, patience=3)
    for _ in range(120):
        x = swarm.ask()
        assert all(lo <= v <= hi for v, lo, hi in zip(x, low, high, strict=True))
        swarm.tell(x, sum(p * v for p, v in zip(pull, x, strict=True)) + noise.gauss())


def test_default_bounds_are_the_unit_box() -> None:
    swarm = ParticleSwarm(3, Rng(0))
    for x in run(swarm, lambda x: sum(x), 200):
        assert all(0.0 <= v <= 1.0 for v in x)
    best = swarm.best_position
    assert best is not None
    assert all(v > 0.999 for v in best)


def test_tell_must_match_the_outstanding_ask() -> None:
    swarm = ParticleSwarm(2, Rng(0))
    with pytest.raises(ValueError, match="no outstanding ask"):
        swarm.tell([0.5, 0.5], 1.0)
    x = swarm.ask()
    assert swarm.ask() == x  # asking again repeats the outstanding point
    before = swarm.get_state()
    with pytest.raises(ValueError, match="outstanding ask"):
        swarm.tell([x[0] + 0.01, x[1]], 1.0)
    with pytest.raises(ValueError, match="outstanding ask"):
        swarm.tell(x[:1], 1.0)
    with pytest.raises(ValueError, match="outstanding ask"):
        swarm.tell([math.nan, x[1]], 1.0)
    # A JSON round trip of the asked point is accepted.
    assert json.loads(json.dumps(x)) == x
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match="score"):
            swarm.tell(x, bad)
    assert swarm.get_state() == before
    swarm.tell(x, 1.0)
    with pytest.raises(ValueError, match="no outstanding ask"):
        swarm.tell(x, 1.0)
    assert swarm.evaluations == 1
    assert swarm.best_score == 1.0


def test_best_is_none_before_any_tell() -> None:
    swarm = ParticleSwarm(2, Rng(0))
    assert swarm.best_position is None
    assert swarm.best_score is None
    assert swarm.evaluations == 0


def test_same_seed_same_trajectory() -> None:
    objective = quadratic([0.2, 0.8, 0.4])
    first = run(ParticleSwarm(3, Rng(42), particles=4), objective, 150)
    second = run(ParticleSwarm(3, Rng(42), particles=4), objective, 150)
    other = run(ParticleSwarm(3, Rng(43), particles=4), objective, 150)
    assert first == second
    assert first != other


@pytest.mark.parametrize("pending", [False, True])
def test_state_round_trip_gives_identical_continuation(pending: bool) -> None:
    objective = quadratic([0.3, 0.6])
    rng = Rng(8)
    swarm = ParticleSwarm(2, rng, particles=5, low=[-1.0, 0.0], high=[1.0, 2.0], patience=4)
    run(swarm, objective, 37)  # mid-sweep
    if pending:
        swarm.ask()
    copy_rng = Rng(0)
    copy_rng.set_state(json.loads(json.dumps(rng.get_state())))
    copy = ParticleSwarm(2, copy_rng)
    copy.set_state(json.loads(json.dumps(swarm.get_state(), allow_nan=False)))
    assert run(copy, objective, 200) == run(swarm, objective, 200)
    assert (copy.best_position, copy.best_score) == (swarm.best_position, swarm.best_score)
    assert (copy.evaluations, copy.restarts) == (swarm.evaluations, swarm.restarts)


def test_restarts_scatter_all_but_the_best_on_a_flat_function() -> None:
    swarm = ParticleSwarm(2, Rng(3), particles=4, patience=3)
    run(swarm, lambda x: 0.0, 4)  # first sweep: the first particle holds the best
    best = swarm.best_position
    assert swarm.restarts == 0
    run(swarm, lambda x: 0.0, 4 * 2)
    assert swarm.restarts == 0
    positions = [list(x) for x in swarm.get_state()["positions"]]
    run(swarm, lambda x: 0.0, 4)  # the third sweep without improvement
    assert swarm.restarts == 1
    scattered = swarm.get_state()
    assert scattered["positions"][0] == positions[0]
    assert all(scattered["positions"][i] != positions[i] for i in range(1, 4))
    assert scattered["personal_scores"] == [0.0, None, None, None]
    assert swarm.best_position == best
    run(swarm, lambda x: 0.0, 4 * 30)
    assert swarm.restarts == 11


def test_restarts_do_not_happen_while_improving() -> None:
    swarm = ParticleSwarm(2, Rng(3), particles=4, patience=2)
    step = [0.0]

    def rising(x: list[float]) -> float:
        step[0] += 1.0
        return step[0]

    run(swarm, rising, 200)
    assert swarm.restarts == 0


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"dim": 0}, "dim"),
        ({"dim": 2.0}, "dim"),
        ({"particles": 0}, "particles"),
        ({"patience": 0}, "patience"),
        ({"low": [0.0]}, "low"),
        ({"high": [1.0, math.inf]}, "high"),
        ({"low": [0.0, 1.0], "high": [1.0, 1.0]}, "low < high"),
        ({"inertia": 1.0}, "inertia"),
        ({"cognitive": -1.0}, "cognitive"),
        ({"social": math.nan}, "social"),
    ],
)
def test_rejects_bad_arguments(kwargs: dict, name: str) -> None:  # type: ignore[type-arg]
    args: dict = {"dim": 2, "rng": Rng(0)}  # type: ignore[type-arg]
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        ParticleSwarm(**args)


def test_optimize_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="budget"):
        optimize(lambda x: 0.0, 2, 0, Rng(0))
    with pytest.raises(ValueError, match="objective"):
        optimize(3.0, 2, 10, Rng(0))
