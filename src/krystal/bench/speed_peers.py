"""Section 5: the observe + decide + reward cycle beside the peers, as ratios.

One *cycle* is what an online learner does per event: take the context (8 or 32
metrics), choose an action (4 or 8 of them), learn from the reward. Krystal runs
its public loop (``observe``, ``decide``, ``reward``) with the pure-Python kernel and
with the numpy backend; the peers run their own equivalent with the same context
size and as many discrete actions: VW ``--cb_explore_adf --squarecb`` (predict +
learn), MABWiser LinUCB (predict + partial_fit), River ``LinUCBDisjoint`` (pull +
update). Inputs are generated before the clock starts; each cycle is timed on its
own after a warm-up and the median is reported. Ratios (Krystal / peer) are what
carry across machines; microseconds are shown for context only.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from krystal._imports import require
from krystal.bench._section import Progress, goal, peer_versions

__all__ = ["SIZES", "estimate", "plot", "render_markdown", "run"]

SIZES = ((8, 4), (32, 8))
RUNNERS = ("krystal", "krystal_numpy", "vw", "mabwiser", "river")
_MODULES = {
    "krystal_numpy": "numpy",
    "vw": "vowpalwabbit",
    "mabwiser": "mabwiser",
    "river": "river",
}


def _cycles(quick: bool) -> int:
    return 300 if quick else 2000


def estimate(*, quick: bool, seeds: int | None = None) -> float:
    """One unit per runner and size."""
    return float(len(SIZES) * len(RUNNERS))


Step = Callable[[list[float], float], None]


def _krystal(dim: int, arms: int, backend: str) -> Step:
    from krystal import Krystal, KrystalConfig

    agent = Krystal(KrystalConfig(state_dim=dim, action_dim=arms, seed=0, backend=backend))
    names = [f"metric_{i}" for i in range(dim)]

    def step(x: list[float], r: float) -> None:
        agent.observe(dict(zip(names, x)))
        agent.decide()
        agent.reward(r)

    return step


def _vw(dim: int, arms: int) -> Step:
    vw = require("vowpalwabbit", "bench")
    workspace = vw.Workspace("--cb_explore_adf --squarecb -q UA --quiet --random_seed 0")
    actions = [f"|A a{k}" for k in range(arms)]
    rng = random.Random(0)

    def step(x: list[float], r: float) -> None:
        shared = "shared |U " + " ".join(f"m{i}:{v:.5f}" for i, v in enumerate(x))
        pmf = workspace.predict([shared, *actions])
        k = rng.choices(range(arms), weights=pmf)[0]
        lines = [shared, *actions]
        lines[k + 1] = f"0:{-r}:{pmf[k]} {actions[k]}"
        workspace.learn(lines)

    return step


def _mabwiser(dim: int, arms: int) -> Step:
    mab = require("mabwiser.mab", "bench")
    np = require("numpy", "bench")
    model = mab.MAB(list(range(arms)), mab.LearningPolicy.LinUCB(alpha=1.0), seed=0)
    model.fit([0], [0.0], np.zeros((1, dim)))

    def step(x: list[float], r: float) -> None:
        context = np.asarray([x])
        arm = model.predict(context)
        model.partial_fit([arm], [r], context)

    return step


def _river(dim: int, arms: int) -> Step:
    bandit = require("river.bandit", "bench")
    policy = bandit.LinUCBDisjoint(alpha=1.0, seed=0)
    arm_ids = list(range(arms))
    names = [f"m{i}" for i in range(dim)]

    def step(x: list[float], r: float) -> None:
        context = dict(zip(names, x))
        arm = policy.pull(arm_ids, context=context)
        policy.update(arm, context, r)

    return step


def measure(runner: str, dim: int, arms: int, cycles: int) -> dict[str, float]:
    """Median and p90 microseconds of one cycle of ``runner`` at ``dim`` x ``arms``."""
    from krystal.cli._measure import percentile

    if runner == "krystal":
        step = _krystal(dim, arms, "python")
    elif runner == "krystal_numpy":
        step = _krystal(dim, arms, "numpy")
    else:
        step = {"vw": _vw, "mabwiser": _mabwiser, "river": _river}[runner](dim, arms)
    rng = random.Random(1)
    warmup = min(200, max(10, cycles // 10))
    inputs = [([rng.random() for _ in range(dim)], rng.random()) for _ in range(warmup + cycles)]
    for x, r in inputs[:warmup]:
        step(x, r)
    clock = time.perf_counter_ns
    samples = []
    for x, r in inputs[warmup:]:
        start = clock()
        step(x, r)
        samples.append((clock() - start) / 1000.0)
    return {"median_us": statistics.median(samples), "p90_us": percentile(samples, 90)}


def run(*, quick: bool, seeds: int | None = None, progress: Progress) -> dict[str, Any]:
    """Time every runner at both sizes; see the module docstring."""
    import importlib.util

    cycles = _cycles(quick)
    skipped, results = [], {}
    for dim, arms in SIZES:
        key = f"{dim}x{arms}"
        results[key] = {}
        for runner in RUNNERS:
            module = _MODULES.get(runner)
            if module is not None and importlib.util.find_spec(module) is None:
                if key == f"{SIZES[0][0]}x{SIZES[0][1]}":
                    skipped.append({"peer": runner, "reason": f"{module} is not installed"})
                progress(1.0, f"speed: {runner} skipped")
                continue
            progress(0.0, f"speed: {runner} at {key}")
            results[key][runner] = measure(runner, dim, arms, cycles)
            progress(1.0, f"speed: {runner} at {key}")
    out: dict[str, Any] = {
        "section": "speed_peers",
        "cycles": cycles,
        "results": results,
        "versions": peer_versions(["vowpalwabbit", "mabwiser", "river", "numpy"]),
        "skipped": skipped,
    }
    out["ratios"], out["speed"], out["goals"] = _judge(results)
    return out


def _judge(
    results: dict[str, Any],
) -> tuple[dict[str, dict[str, float]], dict[str, float], list[dict[str, Any]]]:
    ratios: dict[str, dict[str, float]] = {}
    speed: dict[str, float] = {}
    goals = []
    for key, timings in results.items():
        ratios[key] = {}
        best_ours = min(
            (timings[r]["median_us"], r) for r in ("krystal", "krystal_numpy") if r in timings
        )
        for peer in ("vw", "mabwiser", "river"):
            if peer not in timings:
                continue
            for ours in ("krystal", "krystal_numpy"):
                if ours in timings:
                    ratio = timings[ours]["median_us"] / timings[peer]["median_us"]
                    ratios[key][f"{ours}/{peer}"] = ratio
                    speed[f"{key}.{ours}_vs_{peer}"] = ratio
            ratio = best_ours[0] / timings[peer]["median_us"]
            goals.append(
                goal(
                    f"speed {key}: Krystal cycle faster than {peer}",
                    ratio < 1.0,
                    f"{best_ours[1]} {best_ours[0]:.0f} µs vs {peer} "
                    f"{timings[peer]['median_us']:.0f} µs (ratio {ratio:.2f})",
                )
            )
    return ratios, speed, goals


def render_markdown(result: dict[str, Any]) -> str:
    """Median µs per cycle and Krystal / peer ratios, then the goals."""
    from krystal.bench._report import goals_markdown, table

    lines = [
        "## 5. Speed: one observe + decide + reward cycle",
        "",
        f"{result['cycles']:,} timed cycles each, medians; ratio = Krystal / peer (below 1: "
        "Krystal is faster).",
        "",
    ]
    rows = []
    for key, timings in result["results"].items():
        for runner, v in timings.items():
            rows.append([key, runner, f"{v['median_us']:,.1f}", f"{v['p90_us']:,.1f}"])
    lines += table(["metrics x actions", "runner", "median µs", "p90 µs"], rows)
    lines += [""]
    rows = [
        [key, name, f"{r:.2f}"] for key, rs in result["ratios"].items() for name, r in rs.items()
    ]
    lines += table(["size", "ratio", "value"], rows)
    lines += ["", *goals_markdown(result)]
    return "\n".join(lines)


def plot(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """Bars of median microseconds per runner at each size (log scale)."""
    from krystal.bench._report import pyplot, save_figure

    plt = pyplot()
    sizes = list(result["results"])
    fig, axes = plt.subplots(1, len(sizes), figsize=(5 * len(sizes), 3.2), squeeze=False)
    for ax, key in zip(axes.flat, sizes):
        timings = result["results"][key]
        names = list(timings)
        values = [timings[n]["median_us"] for n in names]
        colors = ["tab:blue" if n.startswith("krystal") else "tab:gray" for n in names]
        ax.bar(names, values, color=colors)
        ax.set_yscale("log")
        ax.set_title(f"{key} (metrics x actions)")
        ax.set_ylabel("median µs per cycle")
        ax.tick_params(axis="x", labelrotation=30)
    return [save_figure(fig, out_dir / "speed.png")]
