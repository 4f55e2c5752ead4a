"""Run a chooser against an environment: the loop every benchmark and test shares."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from krystal.kernel.rng import Rng
from krystal.sims.base import Env

__all__ = ["fixed_chooser", "random_chooser", "rollout"]

Chooser = Callable[[dict[str, float]], dict[str, Any]]


def rollout(
    env: Env,
    choose: Chooser,
    feedback: Callable[[float], object] | None = None,
    *,
    steps: int,
    seed: int,
    on_step: Callable[[int, float, dict[str, Any]], object] | None = None,
) -> list[float]:
    """Reset ``env`` with ``seed`` and run ``steps`` steps; return the per-step rewards.

    Each step calls ``action = choose(obs)``, steps the environment, then
    ``feedback(reward)`` and ``on_step(t, reward, info)`` when given. When an episode
    terminates or is truncated the environment is reset (without a seed) and the stream
    of steps goes on, so the result always has ``steps`` rewards.

    >>> from krystal.sims import make, fixed_chooser
    >>> env = make("server")
    >>> rewards = rollout(env, fixed_chooser({"replicas": 6, "concurrency": 8}),
    ...                   steps=50, seed=0)
    >>> len(rewards)
    50
    """
    obs, _ = env.reset(seed=seed)
    rewards: list[float] = []
    for t in range(steps):
        action = choose(obs)
        obs, reward, terminated, truncated, info = env.step(action)
        rewards.append(reward)
        if feedback is not None:
            feedback(reward)
        if on_step is not None:
            on_step(t, reward, info)
        if terminated or truncated:
            obs, _ = env.reset()
    return rewards


def random_chooser(env: Env, seed: int) -> Chooser:
    """A chooser that ignores the observation and samples a random valid action.

    >>> from krystal.sims import make
    >>> env = make("iot")
    >>> choose = random_chooser(env, seed=1)
    >>> env.validate(choose({}))
    """
    rng = Rng(seed)

    def choose(obs: dict[str, float]) -> dict[str, Any]:
        return env.sample_action(rng)

    return choose


def fixed_chooser(action: dict[str, Any]) -> Chooser:
    """A chooser that always returns (a copy of) the same action.

    >>> fixed_chooser({"replicas": 4, "concurrency": 8})({"request_rate": 900.0})
    {'replicas': 4, 'concurrency': 8}
    """
    fixed = dict(action)

    def choose(obs: dict[str, float]) -> dict[str, Any]:
        return dict(fixed)

    return choose
