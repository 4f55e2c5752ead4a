"""The ask/tell contract every optimiser of krystal.optimize passes."""

import math
from collections.abc import Callable
from typing import Any

import pytest

from krystal import InputError
from krystal._errors import CallOrderError
from krystal.kernel.rng import Rng
from krystal.optimize import CMAES, METHODS, Auto, Optimizer, RandomSearch, make_optimizer

LOW = [-3.0, 10.0, -0.5]
HIGH = [5.0, 12.0, 0.5]


def build(method: str, seed: int = 0, budget: int | None = 200) -> Optimizer:
    return make_optimizer(method, 3, low=LOW, high=HIGH, budget=budget, seed=seed)


def drive(
    opt: Optimizer, objective: Callable[[list[float]], float], count: int
) -> list[list[float]]:
    asked = []
    for _ in range(count):
        x = opt.ask()
        asked.append(x)
        opt.tell(x, objective(x))
    return asked


def far_corner(x: list[float]) -> float:
    # Best at the high corner: pushes every optimiser against the walls.
    return sum(x)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_asked_point_is_inside_the_box(method: str) -> None:
    opt = build(method)
    for x in drive(opt, far_corner, 300):
        assert all(lo <= v <= hi for v, lo, hi in zip(x, LOW, HIGH)), x
    best, score = opt.recommend()
    assert all(lo <= v <= hi for v, lo, hi in zip(best, LOW, HIGH))
    assert score == pytest.approx(sum(best))


@pytest.mark.parametrize("method", sorted(METHODS))
def test_the_same_seed_gives_the_same_run(method: str) -> None:
    def objective(x: list[float]) -> float:
        return -((x[0] - 1.0) ** 2) - math.cos(3.0 * x[1]) - abs(x[2])

    first = drive(build(method, seed=5), objective, 120)
    again = drive(build(method, seed=5), objective, 120)
    other = drive(build(method, seed=6), objective, 120)
    assert first == again
    assert first != other


@pytest.mark.parametrize("method", sorted(METHODS))
def test_asking_twice_repeats_the_point(method: str) -> None:
    opt = build(method)
    assert opt.ask() == opt.ask()
    opt.tell(opt.ask(), 1.0)
    assert opt.evaluations == 1


@pytest.mark.parametrize("method", sorted(METHODS))
def test_tell_without_ask_is_refused(method: str) -> None:
    opt = build(method)
    with pytest.raises(CallOrderError, match=r"no outstanding ask"):
        opt.tell([0.0, 11.0, 0.0], 1.0)
    with pytest.raises(CallOrderError, match=r"before any tell"):
        opt.recommend()


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize(
    ("point", "score", "message"),
    [
        ("shifted", 1.0, r"^x: expected the point from the outstanding ask"),
        ("short", 1.0, r"^x: expected the point from the outstanding ask"),
        ("text", 1.0, r"^x: expected the point from the outstanding ask"),
        ("asked", math.nan, r"^score: expected a finite number"),
        ("asked", math.inf, r"^score: expected a finite number"),
        ("asked", "1.0", r"^score: expected a finite number"),
        ("asked", True, r"^score: expected a finite number"),
        ("asked", 10**400, r"^score: expected a finite number"),
    ],
)
def test_a_bad_tell_is_refused_and_changes_nothing(
    method: str, point: str, score: Any, message: str
) -> None:
    opt, twin = build(method), build(method)
    drive(opt, far_corner, 7)
    drive(twin, far_corner, 7)
    x = opt.ask()
    bad = {
        "shifted": [x[0] + 0.01, *x[1:]],
        "short": x[:2],
        "text": ["a", "b", "c"],
        "asked": x,
    }[point]
    with pytest.raises(InputError, match=message):
        opt.tell(bad, score)
    assert opt.evaluations == 7
    opt.tell(x, 2.0)  # the ask is still outstanding and the run goes on as if nothing happened
    twin.tell(twin.ask(), 2.0)
    assert drive(opt, far_corner, 20) == drive(twin, far_corner, 20)


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dim": 0}, r"^dim: expected an integer >= 1"),
        ({"dim": 2.0}, r"^dim: expected an integer >= 1"),
        ({"low": [0.0, 1.0]}, r"^low: expected 3 finite numbers"),
        ({"high": [1.0, 1.0, math.nan]}, r"^high: expected 3 finite numbers"),
        ({"high": [1.0, 1.0, "x"]}, r"^high: expected 3 finite numbers"),
        ({"low": [0.0, 2.0, 0.0]}, r"^low, high: expected low < high"),
        ({"seed": "1"}, r"^seed: expected an integer or a krystal Rng"),
    ],
)
def test_bad_settings_are_refused(method: str, kwargs: dict[str, Any], message: str) -> None:
    settings: dict[str, Any] = {"dim": 3, "low": None, "high": [1.0, 1.0, 1.0], "seed": 0}
    settings.update(kwargs)
    dim = settings.pop("dim")
    with pytest.raises(InputError, match=message):
        make_optimizer(method, dim, **settings)


def test_unknown_method_is_refused() -> None:
    with pytest.raises(InputError, match=r"^method: expected one of \['auto', 'cmaes', 'random'\]"):
        make_optimizer("bayes", 2)


def test_a_shared_rng_is_used_as_given() -> None:
    rng = Rng(3)
    opt = RandomSearch(2, seed=rng)
    opt.ask()
    assert rng.get_state() != Rng(3).get_state()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sigma": 0.0}, r"^sigma: expected a number in \(0, 1\]"),
        ({"popsize": -1}, r"^popsize: expected an integer >= 0"),
        ({"mean": [0.0]}, r"^mean: expected 2 numbers inside the box"),
        ({"mean": [0.0, 7.0]}, r"^mean: expected 2 numbers inside the box"),
    ],
)
def test_bad_cmaes_settings_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        CMAES(2, low=[-1.0, -1.0], high=[1.0, 1.0], **kwargs)


@pytest.mark.parametrize("budget", [0, -5, 2.5, True, "10"])
def test_bad_auto_budget_is_refused(budget: Any) -> None:
    with pytest.raises(InputError, match=r"^budget: expected a positive integer or None"):
        Auto(2, budget=budget)
