"""The best action depends on the context, so an agent that reads the observations can win.

For each domain the world is brought into two contexts (light vs heavy scene, quiet vs
busy hour, early vs late training, day vs night); there a copy of the environment tries
every grid action for a short while from the very same state. The best action must
differ between the contexts, and using one context's best action in the other must cost
a clear margin.
"""

import copy
from collections.abc import Callable
from typing import Any

import pytest

from krystal.sims import Env, make


def branch_scores(
    env: Env, actions: list[dict[str, Any]], steps: int, skip: int = 0
) -> list[float]:
    """Mean reward of each action over ``steps`` steps from ``env``'s current state."""
    scores = []
    for action in actions:
        trial = copy.deepcopy(env)
        rewards = [trial.step(action)[1] for _ in range(steps)]
        scores.append(sum(rewards[skip:]) / (steps - skip))
    return scores


def advance_until(
    env: Env, action: dict[str, Any], seed: int, ready: Callable[[dict[str, Any]], bool]
) -> Env:
    """Reset with ``seed`` and step ``action`` until ``ready(info)``; return the env."""
    env.reset(seed=seed)
    for _ in range(5000):
        info = env.step(action)[4]
        if ready(info):
            return env
    raise AssertionError("context never reached")


def assert_context_matters(
    a: Env, b: Env, actions: list[dict[str, Any]], steps: int, margin: float, skip: int = 0
) -> None:
    scores_a = branch_scores(a, actions, steps, skip)
    scores_b = branch_scores(b, actions, steps, skip)
    best_a = max(range(len(actions)), key=scores_a.__getitem__)
    best_b = max(range(len(actions)), key=scores_b.__getitem__)
    assert actions[best_a] != actions[best_b]
    # Acting on the wrong context's best costs a clear margin, both ways.
    assert scores_a[best_a] - scores_a[best_b] > margin
    assert scores_b[best_b] - scores_b[best_a] > margin


GAME_TYPICAL = {
    "resolution_scale": 0.75,
    "shadow_quality": 1,
    "texture_quality": "medium",
    "ray_tracing": False,
}


def test_game_light_and_heavy_scenes_want_different_settings() -> None:
    def in_scene(scene: str) -> Env:
        env = make("game")
        # Enter the scene and make sure it lasts for the trial horizon.
        for seed in range(50):
            advance_until(env, GAME_TYPICAL, seed, lambda info: info["scene"] == scene)
            probe = copy.deepcopy(env)
            if all(probe.step(GAME_TYPICAL)[4]["scene"] == scene for _ in range(30)):
                return env
        raise AssertionError(f"no long {scene} scene found")

    actions = make("game").grid(levels=3)
    assert_context_matters(in_scene("indoor"), in_scene("combat"), actions, 30, margin=0.05)


def test_server_quiet_and_busy_hours_want_different_scale() -> None:
    action = {"replicas": 8, "concurrency": 16}

    quiet = make("server")
    advance_until(quiet, action, 0, lambda info: info["true_rate"] < 300.0)
    busy = make("server")
    advance_until(busy, action, 0, lambda info: info["true_rate"] > 900.0)
    # Skip the cold-start steps so capacity, not boot time, decides.
    assert_context_matters(
        quiet, busy, make("server").grid(levels=6), steps=25, skip=5, margin=0.05
    )


def test_ml_early_and_late_training_want_different_settings() -> None:
    good = {"learning_rate": 0.03, "momentum": 0.9, "batch_size": 32}
    early = make("ml")
    early.reset(seed=0)
    late = make("ml")
    late.reset(seed=0)
    for _ in range(70):
        late.step(good)
    actions = make("ml").grid(levels=3)
    assert_context_matters(early, late, actions, steps=15, margin=0.02)


@pytest.mark.parametrize("seed", [0, 1])
def test_iot_day_and_night_want_different_settings(seed: int) -> None:
    typical = {"sampling_hz": 1.0, "radio_power": 2, "duty_cycle": 0.3}

    def at(hour: float) -> Env:
        env = make("iot")
        env.reset(seed=seed)
        for _ in range(600):
            obs = env.step(typical)[0]
            if abs(obs["hour"] - hour) < 0.05:
                return env
        raise AssertionError("hour never reached")

    actions = make("iot").grid(levels=4)
    assert_context_matters(at(10.0), at(22.0), actions, steps=24, margin=0.05)
