"""Brute-force baselines: the best constant action and the best per-context table."""

from typing import Any

import pytest

from krystal import InputError
from krystal.sims import best_fixed, best_per_context, fixed_chooser, make, rollout


def window_score(domain: str, action: dict[str, Any], steps: int, seeds: list[int]) -> float:
    low = steps - max(1, min(500, steps // 6))
    env = make(domain)
    total = 0.0
    for seed in seeds:
        total += sum(rollout(env, fixed_chooser(action), steps=steps, seed=seed)[low:])
    return total / ((steps - low) * len(seeds))


@pytest.mark.parametrize(("domain", "levels"), [("server", 3), ("iot", 2), ("game", 2)])
def test_best_fixed_beats_every_other_grid_action(domain: str, levels: int) -> None:
    steps, seeds = 240, [0, 1]
    calls: list[tuple[int, int]] = []
    action, score = best_fixed(
        domain,
        steps=steps,
        seeds=seeds,
        levels=levels,
        on_progress=lambda done, total: calls.append((done, total)),
    )
    grid = make(domain).grid(levels)
    assert action in grid
    assert calls[-1] == (len(grid), len(grid)) and len(calls) == len(grid)
    assert score == pytest.approx(window_score(domain, action, steps, seeds))
    for other in grid[:: max(1, len(grid) // 6)]:
        assert window_score(domain, other, steps, seeds) <= score


def test_best_fixed_respects_the_window_and_shift() -> None:
    steps, window = 1700, (1500, 1700)
    moved, moved_score = best_fixed(
        "server", steps=steps, seeds=[0], levels=2, shift=True, window=window
    )
    _, plain_score = best_fixed("server", steps=steps, seeds=[0], levels=2, window=window)
    assert moved_score < plain_score  # 1.7x the traffic costs more replicas
    env = make("server", shift=True)
    rewards = rollout(env, fixed_chooser(moved), steps=steps, seed=0)
    assert moved_score == pytest.approx(sum(rewards[1500:]) / 200)


def test_best_fixed_ml_across_runs() -> None:
    action, score = best_fixed("ml", steps=150, seeds=[0], levels=2, window=(50, 150))
    assert action in make("ml").grid(2)
    rewards = rollout(make("ml"), fixed_chooser(action), steps=150, seed=0)
    assert score == pytest.approx(sum(rewards[50:]) / 100)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"steps": 0}, "steps"),
        ({"steps": 10, "window": (5, 20)}, "window"),
        ({"steps": 10, "window": (6, 6)}, "window"),
        ({"steps": 10, "seeds": []}, "seeds"),
        ({"steps": 10, "levels": 1}, "levels"),
    ],
)
def test_best_fixed_validates(kwargs: dict[str, Any], field: str) -> None:
    arguments = {"seeds": [0], **kwargs}
    with pytest.raises(InputError, match=field):
        best_fixed("server", **arguments)


def test_best_per_context_never_loses_to_best_fixed() -> None:
    steps, seeds = 600, [0]
    _, fixed_score = best_fixed("game", steps=steps, seeds=seeds, levels=2, window=(100, 600))
    table, score = best_per_context("game", steps=steps, seeds=seeds, levels=2, window=(100, 600))
    grid = make("game").grid(2)
    assert set(table) <= {"indoor", "open_world", "combat"} and table
    assert all(action in grid for action in table.values())
    assert score >= fixed_score
    assert len({tuple(a.values()) for a in table.values()}) > 1
    assert score > fixed_score + 0.02


def test_best_per_context_zero_sweeps_is_the_better_start() -> None:
    _, score = best_per_context("server", steps=200, seeds=[0], levels=2, sweeps=0)
    _, fixed_score = best_fixed("server", steps=200, seeds=[0], levels=2)
    assert score >= fixed_score
    with pytest.raises(InputError, match="sweeps"):
        best_per_context("server", steps=200, seeds=[0], sweeps=-1)
