"""Each optimiser reaches a stated precision within a stated budget, and Auto handles noise."""

import math
import random

import pytest

from krystal.optimize import CMAES, Auto, RandomSearch, optimize


def sphere(x: list[float]) -> float:
    return -sum((v - 0.7) ** 2 for v in x)


def rosenbrock(x: list[float]) -> float:
    return -sum(100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2 for i in range(len(x) - 1))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cmaes_solves_a_5d_sphere_in_900_evaluations(seed: int) -> None:
    opt = CMAES(5, low=[-5.0] * 5, high=[5.0] * 5, seed=seed)
    for _ in range(900):
        x = opt.ask()
        opt.tell(x, sphere(x))
    assert opt.recommend()[1] > -1e-8


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auto_solves_a_5d_sphere_in_150_evaluations(seed: int) -> None:
    # The quadratic model makes a sphere a few steps' work once it has its points.
    _, score = optimize(sphere, low=[-5.0] * 5, high=[5.0] * 5, budget=150, seed=seed)
    assert score > -1e-8


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auto_solves_a_4d_rosenbrock_in_800_evaluations(seed: int) -> None:
    x, score = optimize(rosenbrock, low=[-2.0] * 4, high=[2.0] * 4, budget=800, seed=seed)
    assert score > -1e-4
    assert x == pytest.approx([1.0] * 4, abs=0.05)


def test_cmaes_restarts_with_a_larger_population_when_stuck() -> None:
    def rastrigin(x: list[float]) -> float:
        return -(10.0 * len(x) + sum(v * v - 10.0 * math.cos(2.0 * math.pi * v) for v in x))

    opt = CMAES(4, low=[-5.12] * 4, high=[5.12] * 4, seed=0)
    for _ in range(4000):
        x = opt.ask()
        opt.tell(x, rastrigin(x))
    assert opt.restarts >= 2
    assert opt.run.popsize == opt.popsize0 * 2**opt.restarts
    assert opt.recommend()[1] > -2.0  # at most two unit steps from the global optimum


def test_auto_beats_random_search_on_the_same_budget() -> None:
    wins = 0
    for seed in range(5):
        random_best = optimize(
            rosenbrock, low=[-2.0] * 6, high=[2.0] * 6, budget=300, seed=seed, method="random"
        )[1]
        auto_best = optimize(rosenbrock, low=[-2.0] * 6, high=[2.0] * 6, budget=300, seed=seed)[1]
        wins += auto_best > random_best
    assert wins == 5


def test_random_search_covers_the_box() -> None:
    opt = RandomSearch(1, low=[0.0], high=[10.0], seed=0)
    seen = []
    for _ in range(500):
        x = opt.ask()
        seen.append(x[0])
        opt.tell(x, 0.0)
    assert min(seen) < 0.1 and max(seen) > 9.9


def test_auto_notices_a_deterministic_objective() -> None:
    opt = Auto(2, budget=50, seed=0)
    for _ in range(50):
        x = opt.ask()
        opt.tell(x, sphere(x))
    assert opt.noisy is False


def test_auto_recommends_by_repeated_evidence_when_scores_are_noisy() -> None:
    # A 3-D bowl under noise as large as the differences near the top: the best single
    # score is mostly luck, so the recommendation must be the best mean of repeats.
    true_regret_auto, true_regret_best_seen = [], []
    for seed in range(6):
        noise = random.Random(seed)
        opt = Auto(3, budget=300, seed=seed)
        seen = []
        for _ in range(300):
            x = opt.ask()
            score = sphere(x) + noise.gauss(0.0, 0.05)
            seen.append((score, x))
            opt.tell(x, score)
        assert opt.noisy is True
        x, estimate = opt.recommend()
        repeats = opt._scores[tuple(u for u in x)]  # unit cube == box here
        assert len(repeats) >= 2 and estimate == pytest.approx(sum(repeats) / len(repeats))
        true_regret_auto.append(-sphere(x))
        true_regret_best_seen.append(-sphere(max(seen)[1]))
    assert sorted(true_regret_auto)[3] < sorted(true_regret_best_seen)[3]
    assert max(true_regret_auto) < 0.05


def test_optimize_refuses_bad_arguments() -> None:
    from krystal import InputError

    with pytest.raises(InputError, match=r"^objective: expected a callable"):
        optimize(42, low=[0.0], high=[1.0], budget=5)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"^budget: expected a positive integer"):
        optimize(sphere, low=[0.0], high=[1.0], budget=0)
    with pytest.raises(InputError, match=r"^score: expected a finite number"):
        optimize(lambda x: math.nan, low=[0.0], high=[1.0], budget=5)
