"""The experiment behind ``krystal demo``: Krystal against three baselines on one simulator.

Every policy runs the same number of steps on the same seed of the same simulator, so
they face the same world (scenes, traffic, weather) step for step:

- ``krystal``: the domain preset's agent, learning online from each step's reward;
- ``random``: a uniformly random valid action each step;
- ``default``: the preset's default action, the setting a user starts from;
- ``best_fixed``: the best constant action of a small grid, chosen in hindsight on this
  very run by :func:`krystal.sims.best_fixed` (an oracle no real user has).

No Rich and no Typer here: the command adds the progress bars and tables.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Grid points per float knob for the best-fixed search; 3 keeps ``krystal demo`` quick.
BEST_FIXED_LEVELS = 3
#: The final share of the steps reported separately: where a learner should have converged.
TAIL_FRACTION = 0.2

POLICY_DESCRIPTIONS = {
    "krystal": "Krystal preset, learning online",
    "random": "random valid action each step",
    "default": "the preset's default action",
    "best_fixed": "best constant action in hindsight (grid oracle)",
}

#: ``on_progress(stage, done, total)``; stages are the policy names plus "search".
Progress = Callable[[str, int, int], object]


@dataclass
class PolicyRun:
    """One policy's rewards, step by step, and the constant action it used (if any)."""

    name: str
    rewards: list[float]
    action: dict[str, Any] | None = None
    elapsed_s: float = 0.0

    @property
    def mean(self) -> float:
        return statistics.fmean(self.rewards)

    @property
    def tail_mean(self) -> float:
        return statistics.fmean(self.rewards[-tail_length(len(self.rewards)) :])


@dataclass
class DemoRun:
    """Everything one demo produced: the runs, the agent's phases and final metrics."""

    domain: str
    steps: int
    seed: int
    shift: bool
    shift_at: int | None
    runs: dict[str, PolicyRun]
    phase_history: list[tuple[int, str]]
    metrics: dict[str, Any]
    elapsed_s: float
    overrides: dict[str, Any] = field(default_factory=dict)

    def phase_segments(self) -> list[tuple[str, int, int]]:
        """``(phase, from_cycle, to_cycle)``, inclusive, covering the whole run."""
        segments = []
        for i, (start, phase) in enumerate(self.phase_history):
            end = self.phase_history[i + 1][0] - 1 if i + 1 < len(self.phase_history) else None
            segments.append((phase, start, self.steps if end is None else end))
        return segments

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary: per-policy means and ratios, phases, final metrics."""
        krystal = self.runs["krystal"]
        policies = []
        for name, run in self.runs.items():
            policies.append(
                {
                    "name": name,
                    "description": POLICY_DESCRIPTIONS[name],
                    "mean_reward": run.mean,
                    "mean_reward_last_20pct": run.tail_mean,
                    "krystal_ratio": ratio(krystal.mean, run.mean),
                    "krystal_ratio_last_20pct": ratio(krystal.tail_mean, run.tail_mean),
                    "action": run.action,
                    "elapsed_s": run.elapsed_s,
                }
            )
        return {
            "domain": self.domain,
            "steps": self.steps,
            "seed": self.seed,
            "shift": self.shift,
            "shift_at": self.shift_at,
            "agent_overrides": self.overrides,
            "policies": policies,
            "phase_history": [
                {"phase": phase, "from_cycle": start, "to_cycle": end}
                for phase, start, end in self.phase_segments()
            ],
            "metrics": self.metrics,
            "elapsed_s": self.elapsed_s,
        }


def tail_length(steps: int) -> int:
    """Steps in the final :data:`TAIL_FRACTION` of a run (at least one)."""
    return max(1, math.ceil(steps * TAIL_FRACTION))


def ratio(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``, or None when the denominator is not positive.

    Rewards can be negative; a ratio to a non-positive baseline would read backwards.
    """
    if denominator <= 0.0 or not math.isfinite(numerator):
        return None
    return numerator / denominator


def run_demo(
    domain: str,
    *,
    steps: int,
    seed: int,
    shift: bool = False,
    overrides: Mapping[str, Any] | None = None,
    on_progress: Progress | None = None,
) -> DemoRun:
    """Run Krystal and the three baselines on ``domain``'s simulator; see the module doc.

    ``overrides`` are agent settings (``KrystalConfig`` fields) that replace the
    preset's; ``seed`` seeds the simulator, the agent and the random baseline.
    """
    from krystal import sims
    from krystal.agent import get_preset

    preset = get_preset(domain)
    report = on_progress or (lambda stage, done, total: None)
    # A shifting world changes half-way through the run, whatever its length.
    world: dict[str, Any] = {"shift": shift, **({"shift_at": steps // 2} if shift else {})}
    started = time.perf_counter()

    def timed_rollout(name: str, choose: Any, feedback: Any = None) -> PolicyRun:
        env = sims.make(domain, seed=seed, **world)

        def on_step(t: int, reward: float, info: dict[str, Any]) -> None:
            if (t + 1) % 25 == 0 or t + 1 == steps:
                report(name, t + 1, steps)

        begin = time.perf_counter()
        rewards = sims.rollout(env, choose, feedback, steps=steps, seed=seed, on_step=on_step)
        return PolicyRun(name, rewards, elapsed_s=time.perf_counter() - begin)

    settings = {key: value for key, value in (overrides or {}).items() if key != "seed"}
    agent = preset.create(seed, **settings)

    def choose_krystal(obs: dict[str, float]) -> Any:
        return agent.observe(obs).decide()

    runs = {"krystal": timed_rollout("krystal", choose_krystal, agent.reward)}
    probe = sims.make(domain, seed=seed, **world)
    runs["random"] = timed_rollout("random", sims.random_chooser(probe, seed))
    runs["default"] = timed_rollout("default", sims.fixed_chooser(preset.default_action))
    runs["default"].action = dict(preset.default_action)

    begin = time.perf_counter()
    best_action, _score = sims.best_fixed(
        domain,
        steps=steps,
        seeds=[seed],
        levels=BEST_FIXED_LEVELS,
        on_progress=lambda done, total: report("search", done, total),
        **world,
    )
    search_s = time.perf_counter() - begin
    runs["best_fixed"] = timed_rollout("best_fixed", sims.fixed_chooser(best_action))
    runs["best_fixed"].action = dict(best_action)
    runs["best_fixed"].elapsed_s += search_s

    return DemoRun(
        domain=domain,
        steps=steps,
        seed=seed,
        shift=shift,
        shift_at=probe.shift_at,
        runs=runs,
        phase_history=[(int(cycle), str(phase)) for cycle, phase in agent.phase_history],
        metrics=dict(agent.get_metrics()),
        elapsed_s=time.perf_counter() - started,
        overrides=dict(overrides or {}),
    )
