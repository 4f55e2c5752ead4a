"""Does Krystal learn? Mean reward on the four simulators against three baselines.

For each domain and seed, 3,000 steps of: Krystal through its domain preset, uniform
random actions, the preset's default setting, and the best fixed setting (exhaustive
grid search over constant actions on the same seeds, scored on the same window). In
the shift runs each world changes at step 1,500 and the script also reports Krystal's
recovery time: the number of steps after the shift until its mean reward over the next
100 steps first comes within 10 % of what the new best fixed setting earned over the
same 100 steps (``recovery_steps``), and, as before, until it first reaches 90 % of
the best fixed setting's score over the last 500 steps (``recovery_to_tail``; the
best fixed setting's own figure by that measure is ``best_fixed_recovery_to_tail``:
it waits for an easy stretch of the world, not for learning).

    python benchmarks/learning.py                      # all domains, 5 seeds, +shift runs
    python benchmarks/learning.py --domains game --seeds 1 --steps 600 --no-shift

Writes benchmarks/results/learning.json and learning.png (learning curves).
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from krystal import __version__
from krystal.agent import get_preset
from krystal.bench.control import matched_recovery, recovery_steps
from krystal.sims import DOMAINS, fixed_chooser, make, random_chooser, rollout

RESULTS = Path(__file__).parent / "results"
WINDOW = 100


def run_policies(domain: str, seed: int, steps: int, shift: bool) -> dict:
    preset = get_preset(domain)
    agent = preset.create(seed=seed)
    started = time.perf_counter()
    krystal = rollout(
        make(domain, shift=shift),
        lambda obs: agent.observe(obs).decide(),
        agent.reward,
        steps=steps,
        seed=seed,
    )
    elapsed = time.perf_counter() - started
    env = make(domain, shift=shift)
    return {
        "krystal": krystal,
        "random": rollout(env, random_chooser(env, seed + 1000), steps=steps, seed=seed),
        "default": rollout(
            make(domain, shift=shift), fixed_chooser(preset.default_action), steps=steps, seed=seed
        ),
        "krystal_seconds": elapsed,
        "phase_history": agent.phase_history,
    }


def grid_scores(domain: str, seed: int, steps: int, shift: bool) -> list[float]:
    """Mean reward over the scoring window of every constant grid action, on one seed."""
    last = max(1, min(500, steps // 6))
    scores = []
    for action in make(domain).grid():
        rewards = rollout(make(domain, shift=shift), fixed_chooser(action), steps=steps, seed=seed)
        scores.append(statistics.mean(rewards[-last:]))
    return scores


def best_fixed_rewards(
    domain: str, action: dict, seed: int, steps: int, shift: bool
) -> list[float]:
    return rollout(make(domain, shift=shift), fixed_chooser(action), steps=steps, seed=seed)


def rolling(values: list[float], width: int) -> list[float]:
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= width:
            total -= values[i - width]
        out.append(total / min(i + 1, width))
    return out


def summarise(domain, seeds, steps, shift, runs, fixed) -> dict:
    last = max(1, min(500, steps // 6))

    def tail(xs):
        return statistics.mean(xs[-last:])

    out = {"domain": domain, "shift": shift, "steps": steps, "seeds": seeds}
    for name in ("krystal", "random", "default"):
        out[name] = statistics.median(tail(runs[s][name]) for s in seeds)
    out["best_fixed"] = statistics.median(tail(fixed["rewards"][s]) for s in seeds)
    out["best_fixed_action"] = fixed["action"]
    out["ratio_to_best_fixed"] = out["krystal"] / out["best_fixed"] if out["best_fixed"] else None
    out["per_seed_krystal"] = [tail(runs[s]["krystal"]) for s in seeds]
    out["per_seed_best_fixed"] = [tail(fixed["rewards"][s]) for s in seeds]
    out["krystal_us_per_step"] = statistics.median(
        runs[s]["krystal_seconds"] / steps * 1e6 for s in seeds
    )
    if shift:
        shift_at = make(domain, shift=True).shift_at
        recov, to_tail, own = [], [], []
        for s in seeds:
            reference = fixed["rewards"][s]
            recov.append(matched_recovery(runs[s]["krystal"], reference, shift_at))
            target = 0.9 * tail(reference)
            to_tail.append(recovery_steps(runs[s]["krystal"], shift_at, target))
            own.append(recovery_steps(reference, shift_at, target))
        out["shift_at"] = shift_at
        out["recovery_steps"] = recov
        done = [r for r in recov if r is not None]
        out["recovery_median"] = statistics.median(done) if len(done) == len(recov) else None
        out["recovery_to_tail"] = to_tail
        out["best_fixed_recovery_to_tail"] = own
    out["curves"] = {
        name: rolling(runs[seeds[0]][name], WINDOW)[::10]
        for name in ("krystal", "random", "default")
    }
    out["curves"]["best_fixed"] = rolling(fixed["rewards"][seeds[0]], WINDOW)[::10]
    out["phase_history"] = runs[seeds[0]]["phase_history"]
    return out


def plot(summaries: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        len(summaries) // 2 + len(summaries) % 2,
        2,
        figsize=(12, 3.2 * ((len(summaries) + 1) // 2)),
        squeeze=False,
    )
    for ax, s in zip(axes.flat, summaries):
        for name, style in (
            ("krystal", "-"),
            ("best_fixed", "--"),
            ("default", ":"),
            ("random", "-."),
        ):
            curve = s["curves"][name]
            ax.plot([10 * i for i in range(len(curve))], curve, style, label=name)
        if s["shift"]:
            ax.axvline(s["shift_at"], color="grey", lw=0.8)
        ax.set_title(f"{s['domain']}{' (shift)' if s['shift'] else ''}")
        ax.set_xlabel("step")
        ax.set_ylabel(f"reward, rolling mean of {WINDOW}")
    axes.flat[0].legend(fontsize=8)
    for ax in list(axes.flat)[len(summaries) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--domains", default=",".join(DOMAINS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--no-shift", action="store_true")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default=str(RESULTS / "learning.json"))
    args = parser.parse_args()
    domains = [d for d in args.domains.split(",") if d]
    seeds = list(range(args.seeds))
    shifts = [False] if args.no_shift else [False, True]
    jobs = [(d, sh) for d in domains for sh in shifts]
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        run_futures = {
            (d, sh, s): pool.submit(run_policies, d, s, args.steps, sh)
            for d, sh in jobs
            for s in seeds
        }
        score_futures = {
            (d, sh, s): pool.submit(grid_scores, d, s, args.steps, sh)
            for d, sh in jobs
            for s in seeds
        }
        summaries = []
        for d, sh in jobs:
            runs = {s: run_futures[(d, sh, s)].result() for s in seeds}
            per_seed = [score_futures[(d, sh, s)].result() for s in seeds]
            grid = make(d).grid()
            means = [statistics.mean(col) for col in zip(*per_seed)]
            best = max(range(len(grid)), key=means.__getitem__)
            fixed = {
                "action": grid[best],
                "score": means[best],
                "rewards": {s: best_fixed_rewards(d, grid[best], s, args.steps, sh) for s in seeds},
            }
            summary = summarise(d, seeds, args.steps, sh, runs, fixed)
            summaries.append(summary)
            print(
                f"{d:7s} shift={sh!s:5s} krystal={summary['krystal']:.4f} "
                f"best_fixed={summary['best_fixed']:.4f} "
                f"ratio={summary['ratio_to_best_fixed']:.3f} "
                f"default={summary['default']:.4f} random={summary['random']:.4f} "
                f"recovery={summary.get('recovery_steps')}",
                flush=True,
            )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": "learning",
        "krystal_version": __version__,
        "python": sys.version.split()[0],
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "command": " ".join(["python", "benchmarks/learning.py", *sys.argv[1:]]),
        "elapsed_s": time.perf_counter() - started,
        "results": summaries,
    }
    out.write_text(json.dumps(document, indent=1))
    plot(summaries, out.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
