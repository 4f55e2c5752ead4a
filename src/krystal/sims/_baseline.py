"""Baselines an adaptive agent has to beat: the best constant action, found by brute force.

:func:`best_fixed` runs every action of the environment's grid for ``steps`` steps on
each seed and scores it by its mean reward inside a window of steps, so it answers "how
good would a perfectly hand-tuned constant setting have been on exactly these runs".
:func:`best_per_context` searches a table from context label (``info["context"]``: the
scene, the load band, day or night and link, the training phase) to grid action and
scores it by running the policy that switches between them, one step late, as an agent
reading the observations would. The gap between the two is the head-room a
context-aware learner has over any fixed setting.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from krystal._errors import InputError
from krystal.sims._rollout import fixed_chooser, rollout

__all__ = ["best_fixed", "best_per_context"]

Progress = Callable[[int, int], object]


def _window(steps: int, window: tuple[int, int] | None) -> tuple[int, int]:
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise InputError(f"steps = {steps!r}: expected an int >= 1")
    if window is None:
        return steps - max(1, min(500, steps // 6)), steps
    low, high = window
    if not 0 <= low < high <= steps:
        raise InputError(
            f"window = {window!r}: expected (low, high) with 0 <= low < high <= {steps}"
        )
    return low, high


def _check_seeds(seeds: Sequence[int]) -> list[int]:
    seeds = list(seeds)
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise InputError(f"seeds = {seeds!r}: expected a non-empty list of ints")
    return seeds


def _grid_scores(
    domain: str,
    *,
    steps: int,
    seeds: Sequence[int],
    shift: bool,
    window: tuple[int, int] | None,
    levels: int | None,
    on_progress: Progress | None,
    by_context: bool,
    shift_at: int | None = None,
) -> tuple[list[dict[str, Any]], list[float], list[dict[str, list[float]]]]:
    """Score each grid action: window mean reward, and per context (sum, count)."""
    from krystal.sims._registry import make

    low, high = _window(steps, window)
    seeds = _check_seeds(seeds)
    env = make(domain, shift=shift, **({} if shift_at is None else {"shift_at": shift_at}))
    actions = env.grid(levels)
    scores: list[float] = []
    per_context: list[dict[str, list[float]]] = []
    for done, action in enumerate(actions, start=1):
        total = 0.0
        stats: dict[str, list[float]] = {}

        def record(
            t: int, reward: float, info: dict[str, Any], stats: dict[str, list[float]] = stats
        ) -> None:
            if low <= t < high:
                entry = stats.setdefault(info["context"], [0.0, 0.0])
                entry[0] += reward
                entry[1] += 1.0

        for seed in seeds:
            rewards = rollout(
                env,
                fixed_chooser(action),
                steps=steps,
                seed=seed,
                on_step=record if by_context else None,
            )
            total += sum(rewards[low:high])
        scores.append(total / ((high - low) * len(seeds)))
        per_context.append(stats)
        if on_progress is not None:
            on_progress(done, len(actions))
    return actions, scores, per_context


def best_fixed(
    domain: str,
    *,
    steps: int,
    seeds: list[int],
    shift: bool = False,
    window: tuple[int, int] | None = None,
    levels: int | None = None,
    on_progress: Progress | None = None,
    shift_at: int | None = None,
) -> tuple[dict[str, Any], float]:
    """Exhaustive search over constant actions; return the best one and its score.

    Every action of ``make(domain).grid(levels)`` runs ``steps`` steps on each seed; its
    score is the mean reward over steps ``window[0] <= t < window[1]`` and all seeds
    (default window: the last ``min(500, steps // 6)`` steps; pass the post-shift window
    for ``shift=True`` runs; ``shift_at`` moves the shift). ``on_progress(done, total)`` is
    called after each action.

    >>> from krystal.sims import make
    >>> action, score = best_fixed("server", steps=120, seeds=[0], levels=3)
    >>> action in make("server").grid(levels=3), -1.0 <= score <= 1.0
    (True, True)
    """
    actions, scores, _ = _grid_scores(
        domain,
        steps=steps,
        seeds=seeds,
        shift=shift,
        window=window,
        levels=levels,
        on_progress=on_progress,
        by_context=False,
        shift_at=shift_at,
    )
    best = max(range(len(actions)), key=scores.__getitem__)
    return actions[best], scores[best]


def _policy_score(
    domain: str,
    table: dict[str, dict[str, Any]],
    fallback: dict[str, Any],
    *,
    steps: int,
    seeds: list[int],
    shift: bool,
    low: int,
    high: int,
) -> float:
    """Mean window reward of the policy that acts on the previous step's context."""
    from krystal.sims._registry import make

    env = make(domain, shift=shift)
    total = 0.0
    for seed in seeds:
        _, info = env.reset(seed=seed)
        for t in range(steps):
            action = table.get(info["context"], fallback)
            _, reward, terminated, truncated, info = env.step(action)
            if low <= t < high:
                total += reward
            if terminated or truncated:
                _, info = env.reset()
    return total / ((high - low) * len(seeds))


def best_per_context(
    domain: str,
    *,
    steps: int,
    seeds: list[int],
    shift: bool = False,
    window: tuple[int, int] | None = None,
    levels: int | None = None,
    sweeps: int = 1,
    on_progress: Progress | None = None,
) -> tuple[dict[str, dict[str, Any]], float]:
    """Search a table "context label -> grid action"; return it and its real score.

    The policy reads the context reported by the previous step (or by ``reset``), as an
    agent reading the observations would, and looks its action up in the table; labels
    not in the table use the best fixed action. The search starts from the better of
    two tables, the best fixed action everywhere and each context's best action in
    the constant-action runs of :func:`best_fixed`, then runs ``sweeps`` rounds of
    coordinate ascent: for each context (most frequent first) every grid action is
    tried in the whole policy and kept if the policy's window score improves. Scores
    are measured by running the switching policy, so cold starts, battery state and
    momentum carried across a switch all count, and the result is never below
    :func:`best_fixed`. Cost: about ``sweeps * contexts + 2`` times that of
    :func:`best_fixed`.

    >>> table, score = best_per_context("server", steps=120, seeds=[0], levels=2)
    >>> fixed, fixed_score = best_fixed("server", steps=120, seeds=[0], levels=2)
    >>> score >= fixed_score
    True
    """
    if not isinstance(sweeps, int) or isinstance(sweeps, bool) or sweeps < 0:
        raise InputError(f"sweeps = {sweeps!r}: expected an int >= 0")
    actions, scores, per_context = _grid_scores(
        domain,
        steps=steps,
        seeds=seeds,
        shift=shift,
        window=window,
        levels=levels,
        on_progress=None,
        by_context=True,
    )
    low, high = _window(steps, window)
    seeds = _check_seeds(seeds)
    best = max(range(len(actions)), key=scores.__getitem__)
    fallback = actions[best]
    counts: dict[str, float] = {}
    estimate: dict[str, dict[str, Any]] = {}
    best_mean: dict[str, float] = {}
    for action, stats in zip(actions, per_context, strict=True):
        for context, (total, count) in stats.items():
            counts[context] = count
            if context not in best_mean or total / count > best_mean[context]:
                best_mean[context] = total / count
                estimate[context] = action
    contexts = sorted(counts, key=lambda c: (-counts[c], c))

    def score_of(candidate: dict[str, dict[str, Any]]) -> float:
        return _policy_score(
            domain, candidate, fallback, steps=steps, seeds=seeds, shift=shift, low=low, high=high
        )

    table = {context: fallback for context in contexts}
    score = scores[best]
    estimate_score = score_of(estimate)
    if estimate_score > score:
        table, score = dict(estimate), estimate_score
    total_work = sweeps * len(contexts) * len(actions)
    done = 0
    for _ in range(sweeps):
        for context in contexts:
            for action in actions:
                done += 1
                if action is not table[context]:
                    candidate = dict(table)
                    candidate[context] = action
                    candidate_score = score_of(candidate)
                    if candidate_score > score:
                        table, score = candidate, candidate_score
                if on_progress is not None:
                    on_progress(done, total_work)
    return table, score
