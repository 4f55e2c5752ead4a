"""Section 1: contextual bandits built from classification data.

The standard construction (Dudík et al. 2011; Bietti, Agarwal & Langford, *A Contextual
Bandit Bake-off*, 2021): each example is a context, each class an arm, the reward is 1
for the right class and 0 otherwise, and a policy sees only the reward of the arm it
chose. Streams are repeated shuffled passes over a dataset that ships inside an
installed package (scikit-learn's digits, wine, breast cancer and iris; River's image
segments). Features are standardised once per dataset so that every policy gets the
same numbers; Krystal is used through its public API with a named choice space.

Scores: progressive average reward over the whole stream and over its last 20 %, and
the median microseconds of one decide + learn event (sampled on every 10th event).
"""

from __future__ import annotations

import functools
import math
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from krystal._imports import require
from krystal.bench._pool import run_jobs
from krystal.bench._section import Progress, goal, peer_versions

__all__ = ["DATASETS", "POLICIES", "estimate", "plot", "render_markdown", "run"]

DATASETS = ("digits", "wine", "breast_cancer", "iris", "image_segments")
QUICK_DATASETS = ("wine", "iris")
POLICIES = (
    "krystal",
    "vw_squarecb",
    "vw_epsilon",
    "vw_cover",
    "river_linucb",
    "river_epsilon",
    "mabwiser_linucb",
    "mabwiser_lints",
    "numpy_linucb",
    "random",
    "full_info_logistic",
)
#: Peers that only set a ceiling or a floor; the goal compares Krystal with the others.
REFERENCES = ("random", "full_info_logistic")
TIMED_EVERY = 10


def _sizes(quick: bool, seeds: int | None) -> tuple[tuple[str, ...], int, int]:
    datasets = QUICK_DATASETS if quick else DATASETS
    events = 2_000 if quick else 10_000
    return datasets, events, (seeds if seeds is not None else (1 if quick else 5))


def estimate(*, quick: bool, seeds: int | None = None) -> float:
    """Progress units of a run: one per policy, dataset and seed."""
    datasets, _, n_seeds = _sizes(quick, seeds)
    return float(len(datasets) * n_seeds * len(POLICIES))


# -- data -----------------------------------------------------------------------------


def load_dataset(name: str) -> tuple[list[list[float]], list[int]]:
    """Standardised feature rows and integer labels 0..k-1 of a bundled dataset."""
    if name == "image_segments":
        datasets = require("river.datasets", "bench")
        rows, raw = [], []
        for x, y in datasets.ImageSegments():
            rows.append([float(x[key]) for key in sorted(x)])
            raw.append(y)
    else:
        sk = require("sklearn.datasets", "bench")
        loader = {
            "digits": sk.load_digits,
            "wine": sk.load_wine,
            "breast_cancer": sk.load_breast_cancer,
            "iris": sk.load_iris,
        }[name]
        bunch = loader()
        rows = [[float(v) for v in row] for row in bunch.data]
        raw = [int(v) for v in bunch.target]
    classes = sorted(set(raw), key=str)
    index = {c: i for i, c in enumerate(classes)}
    return _standardise(rows), [index[c] for c in raw]


def _standardise(rows: list[list[float]]) -> list[list[float]]:
    columns = list(zip(*rows))
    means = [statistics.fmean(c) for c in columns]
    stds = [statistics.pstdev(c) or 1.0 for c in columns]
    return [[(v - m) / s for v, m, s in zip(row, means, stds)] for row in rows]


def stream(n_rows: int, events: int, seed: int) -> list[int]:
    """Row indices of ``events`` events: repeated passes, each freshly shuffled."""
    rng = random.Random(seed)
    order: list[int] = []
    while len(order) < events:
        block = list(range(n_rows))
        rng.shuffle(block)
        order.extend(block)
    return order[:events]


# -- policies: choose(x) -> arm, learn(x, arm, reward) ----------------------------------


class _Policy:
    def choose(self, x: list[float]) -> int:
        raise NotImplementedError

    def learn(self, x: list[float], arm: int, reward: float, label: int) -> None:
        raise NotImplementedError


class KrystalPolicy(_Policy):
    """Krystal through its public API: named metrics in, a named choice out."""

    def __init__(self, dim: int, arms: int, seed: int) -> None:
        import importlib.util

        from krystal import Krystal, KrystalConfig

        # The optional numpy backend (same decisions, vectorised) when numpy is there.
        backend = "numpy" if importlib.util.find_spec("numpy") else "python"
        self.names = [f"x{i}" for i in range(dim)]
        # These streams are stationary (the classes never change), so the reward models
        # keep every outcome (forgetting=1.0), as every peer here does; the default
        # forgetting is for live systems that drift.
        self.agent = Krystal(
            KrystalConfig(state_dim=dim, seed=seed, backend=backend, forgetting=1.0),
            space={"label": {"type": "choice", "options": list(range(arms))}},
        )

    def choose(self, x: list[float]) -> int:
        action = self.agent.observe(dict(zip(self.names, x))).decide()
        assert isinstance(action, dict)
        return int(action["label"])

    def learn(self, x: list[float], arm: int, reward: float, label: int) -> None:
        self.agent.reward(reward)


class VowpalPolicy(_Policy):
    """VW ``--cb_explore_adf``: shared context, one action-dependent example per arm."""

    def __init__(self, dim: int, arms: int, seed: int, explore: str) -> None:
        vw = require("vowpalwabbit", "bench")
        self.arms = arms
        self.rng = random.Random(seed)
        self.workspace = vw.Workspace(
            f"--cb_explore_adf {explore} -q UA --quiet --random_seed {seed}"
        )
        self.actions = [f"|A a{k}" for k in range(arms)]
        self.pmf: list[float] = []
        self.shared = ""

    def choose(self, x: list[float]) -> int:
        self.shared = "shared |U " + " ".join(f"f{i}:{v:.5f}" for i, v in enumerate(x) if v)
        self.pmf = self.workspace.predict([self.shared, *self.actions])
        return self.rng.choices(range(self.arms), weights=self.pmf)[0]

    def learn(self, x: list[float], arm: int, reward: float, label: int) -> None:
        lines = [self.shared, *self.actions]
        lines[arm + 1] = f"0:{-reward}:{self.pmf[arm]} {self.actions[arm]}"
        self.workspace.learn(lines)


class RiverPolicy(_Policy):
    """A River bandit policy; contextual ones get the features as a dict."""

    def __init__(self, dim: int, arms: int, seed: int, kind: str) -> None:
        bandit = require("river.bandit", "bench")
        self.arm_ids = list(range(arms))
        self.names = [f"x{i}" for i in range(dim)]
        if kind == "linucb":
            self.policy = bandit.LinUCBDisjoint(alpha=1.0, seed=seed)
        else:
            self.policy = bandit.EpsilonGreedy(epsilon=0.1, seed=seed)
        self.contextual = kind == "linucb"

    def choose(self, x: list[float]) -> int:
        if self.contextual:
            return int(self.policy.pull(self.arm_ids, context=dict(zip(self.names, x))))
        return int(self.policy.pull(self.arm_ids))

    def learn(self, x: list[float], arm: int, reward: float, label: int) -> None:
        if self.contextual:
            self.policy.update(arm, dict(zip(self.names, x)), reward)
        else:
            self.policy.update(arm, reward)


class MabwiserPolicy(_Policy):
    """MABWiser LinUCB / LinTS with one ``partial_fit`` per event (online use)."""

    def __init__(self, dim: int, arms: int, seed: int, kind: str) -> None:
        mab = require("mabwiser.mab", "bench")
        np = require("numpy", "bench")
        self.np = np
        learning = (
            mab.LearningPolicy.LinUCB(alpha=1.0)
            if kind == "linucb"
            else mab.LearningPolicy.LinTS(alpha=1.0)
        )
        self.mab = mab.MAB(arms=list(range(arms)), learning_policy=learning, seed=seed)
        self.rng = random.Random(seed)
        self.arms = arms
        self.fitted = False

    def choose(self, x: list[float]) -> int:
        if not self.fitted:
            return self.rng.randrange(self.arms)
        return int(self.mab.predict(self.np.asarray([x])))

    def learn(self, x: list[float], arm: int, reward: float, label: int) -> None:
        context = self.np.asarray([x])
        if self.fitted:
            self.mab.partial_fit([arm], [reward], context)
        else:
            self.mab.fit([arm], [reward], context)
            self.fitted = True


class NumpyLinUCB(_Policy):
    """Disjoint LinUCB (Li et al. 2010) in plain numpy, Sherman-Morrison updates."""

    def __init__(self, dim: int, arms: int, seed: int, alpha: float = 1.0) -> None:
        np = require("numpy", "bench")
        self.np = np
        self.alpha = alpha
        self.a_inv = np.stack([np.eye(dim + 1) for _ in range(arms)])
        self.b = np.zeros((arms, dim + 1))
        self.x = np.zeros(dim + 1)

    def choose(self, x: list[float]) -> int:
        np = self.np
        self.x = np.append(np.asarray(x), 1.0)
        theta = np.einsum("kij,kj->ki", self.a_inv, self.b)
        width = np.sqrt(np.einsum("i,kij,j->k", self.x, self.a_inv, self.x))
        return int(np.argmax(theta @ self.x + self.alpha * width))

    def learn(self, x: list[float], arm: int, reward: float, label: int) -> None:
        a_inv = self.a_inv[arm]
        v = a_inv @ self.x
        a_inv -= self.np.outer(v, v) / (1.0 + self.x @ v)
        self.b[arm] += reward * self.x


class RandomPolicy(_Policy):
    def __init__(self, dim: int, arms: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.arms = arms

    def choose(self, x: list[float]) -> int:
        return self.rng.randrange(self.arms)

    def learn(self, x: list[float], arm: int, reward: float, label: int) -> None:
        pass


class FullInformationLogistic(_Policy):
    """The ceiling: multinomial logistic regression told the true class after every event.

    Plain numpy SGD (AdaGrad step sizes): scikit-learn's ``partial_fit`` costs about
    3 ms per single example, which would dominate the suite's run time.
    """

    def __init__(self, dim: int, arms: int, seed: int, step: float = 0.5) -> None:
        np = require("numpy", "bench")
        self.np = np
        self.weights = np.zeros((arms, dim + 1))
        self.squares = np.full((arms, dim + 1), 1e-8)
        self.step = step
        self.x = np.zeros(dim + 1)
        self.scores = np.zeros(arms)

    def choose(self, x: list[float]) -> int:
        self.x = self.np.append(self.np.asarray(x), 1.0)
        self.scores = self.weights @ self.x
        return int(self.np.argmax(self.scores))

    def learn(self, x: list[float], arm: int, reward: float, label: int) -> None:
        np = self.np
        p = np.exp(self.scores - self.scores.max())
        p /= p.sum()
        p[label] -= 1.0
        grad = np.outer(p, self.x)
        self.squares += grad * grad
        self.weights -= self.step * grad / np.sqrt(self.squares)


_FACTORIES: dict[str, Callable[[int, int, int], _Policy]] = {
    "krystal": KrystalPolicy,
    "vw_squarecb": lambda d, k, s: VowpalPolicy(d, k, s, "--squarecb"),
    "vw_epsilon": lambda d, k, s: VowpalPolicy(d, k, s, "--epsilon 0.05"),
    "vw_cover": lambda d, k, s: VowpalPolicy(d, k, s, "--cover 4"),
    "river_linucb": lambda d, k, s: RiverPolicy(d, k, s, "linucb"),
    "river_epsilon": lambda d, k, s: RiverPolicy(d, k, s, "epsilon"),
    "mabwiser_linucb": lambda d, k, s: MabwiserPolicy(d, k, s, "linucb"),
    "mabwiser_lints": lambda d, k, s: MabwiserPolicy(d, k, s, "lints"),
    "numpy_linucb": NumpyLinUCB,
    "random": RandomPolicy,
    "full_info_logistic": FullInformationLogistic,
}
#: The package each peer needs (skipped with a reason when it is missing).
PEER_MODULES = {
    "vw_squarecb": "vowpalwabbit",
    "vw_epsilon": "vowpalwabbit",
    "vw_cover": "vowpalwabbit",
    "river_linucb": "river",
    "river_epsilon": "river",
    "mabwiser_linucb": "mabwiser",
    "mabwiser_lints": "mabwiser",
    "numpy_linucb": "numpy",
    "full_info_logistic": "numpy",
}


def play(
    policy: _Policy, rows: list[list[float]], labels: list[int], order: list[int]
) -> dict[str, Any]:
    """Run one stream; return the reward sequence summary and sampled event times."""
    clock = time.perf_counter_ns
    rewards: list[float] = []
    times: list[float] = []
    for t, i in enumerate(order):
        x, label = rows[i], labels[i]
        start = clock()
        arm = policy.choose(x)
        reward = 1.0 if arm == label else 0.0
        policy.learn(x, arm, reward, label)
        if t % TIMED_EVERY == 0:
            times.append((clock() - start) / 1000.0)
        rewards.append(reward)
    tail = rewards[int(0.8 * len(rewards)) :]
    return {
        "reward": statistics.fmean(rewards),
        "reward_last20": statistics.fmean(tail),
        "us_per_event": statistics.median(times),
        "curve": _curve(rewards),
    }


def _curve(rewards: list[float], points: int = 50) -> list[float]:
    """Progressive average reward at ``points`` evenly spaced event counts."""
    out, total = [], 0.0
    step = max(1, len(rewards) // points)
    for t, r in enumerate(rewards, 1):
        total += r
        if t % step == 0:
            out.append(total / t)
    return out


@functools.lru_cache(maxsize=8)
def _cached_dataset(name: str) -> tuple[list[list[float]], list[int]]:
    return load_dataset(name)


def bandit_job(dataset: str, name: str, seed: int, events: int) -> dict[str, Any]:
    """One policy on one seeded stream of one dataset (runs in a worker process)."""
    rows, labels = _cached_dataset(dataset)
    order = stream(len(rows), events, 1000 + seed)
    policy = _FACTORIES[name](len(rows[0]), max(labels) + 1, seed)
    return play(policy, rows, labels, order)


def missing_peers() -> dict[str, str]:
    """Peer name -> reason, for every peer whose package cannot be imported."""
    import importlib.util

    out = {}
    for name, module in PEER_MODULES.items():
        if importlib.util.find_spec(module) is None:
            out[name] = f"{module} is not installed (pip install 'krystal-sdk[bench]')"
    return out


def run(*, quick: bool, seeds: int | None = None, progress: Progress) -> dict[str, Any]:
    """Play every policy on every dataset and seed; see the module docstring."""
    datasets, events, n_seeds = _sizes(quick, seeds)
    missing = missing_peers()
    results: dict[str, Any] = {}
    available = []
    for dataset in datasets:
        try:
            rows, labels = load_dataset(dataset)
        except Exception as exc:  # a missing dataset package: report, do not crash
            results[dataset] = {"error": f"{type(exc).__name__}: {exc}"}
            progress(n_seeds * len(POLICIES), f"bandits: {dataset} unavailable")
            continue
        available.append(dataset)
        results[dataset] = {
            "rows": len(rows),
            "features": len(rows[0]),
            "arms": max(labels) + 1,
            "policies": {},
        }
    for dataset in available:
        for name in POLICIES:
            if name in missing:
                progress(n_seeds, f"bandits: {dataset} {name} skipped")
    jobs = [
        (dataset, name, seed, events)
        for dataset in available
        for name in POLICIES
        if name not in missing
        for seed in range(n_seeds)
    ]
    outputs = run_jobs(
        bandit_job, jobs, progress, lambda job: f"bandits: {job[0]} · {job[1]} · seed {job[2]}"
    )
    by_key: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for job, output in zip(jobs, outputs):
        by_key.setdefault((job[0], job[1]), []).append(output)
    for (dataset, name), runs in by_key.items():
        results[dataset]["policies"][name] = {
            "reward": statistics.median(r["reward"] for r in runs),
            "reward_last20": statistics.median(r["reward_last20"] for r in runs),
            "us_per_event": statistics.median(r["us_per_event"] for r in runs),
            "per_seed_reward": [r["reward"] for r in runs],
            "curve": runs[0]["curve"],
        }
    out: dict[str, Any] = {
        "section": "bandits",
        "events": events,
        "seeds": n_seeds,
        "datasets": results,
        "versions": peer_versions(["vowpalwabbit", "river", "mabwiser", "scikit-learn", "numpy"]),
        "skipped": [{"peer": p, "reason": r} for p, r in sorted(missing.items())],
    }
    out["goals"], out["quality"], out["speed"] = _judge(results)
    return out


def _judge(
    results: dict[str, Any],
) -> tuple[list[dict[str, Any]], dict[str, float], dict[str, float]]:
    goals, quality, speed = [], {}, {}
    for dataset, entry in results.items():
        policies = entry.get("policies")
        if not policies or "krystal" not in policies:
            continue
        ours = policies["krystal"]["reward"]
        peers = {p: v["reward"] for p, v in policies.items() if p not in (*REFERENCES, "krystal")}
        if not peers:
            continue
        best = max(peers, key=peers.__getitem__)
        ratio = ours / peers[best] if peers[best] else math.inf
        quality[f"{dataset}.reward_vs_best_peer"] = ratio
        goals.append(
            goal(
                f"bandits/{dataset}: reward at least the best peer's (1% tie)",
                ratio >= 0.99,
                f"krystal {ours:.3f} vs {best} {peers[best]:.3f} (ratio {ratio:.3f})",
            )
        )
    times: dict[str, list[float]] = {}
    for entry in results.values():
        for p, v in entry.get("policies", {}).items():
            times.setdefault(p, []).append(v["us_per_event"])
    if "krystal" in times:
        ours_us = statistics.median(times["krystal"])
        for peer in ("vw_squarecb", "mabwiser_linucb"):
            if peer not in times:
                continue
            theirs = statistics.median(times[peer])
            ratio = ours_us / theirs
            speed[f"us_per_event_vs_{peer}"] = ratio
            goals.append(
                goal(
                    f"bandits: at least 2x faster per event than {peer}",
                    ratio <= 0.5,
                    f"krystal {ours_us:.0f} µs vs {theirs:.0f} µs (ratio {ratio:.2f})",
                )
            )
    return goals, quality, speed


def render_markdown(result: dict[str, Any]) -> str:
    """Tables of reward and time per dataset, then the goals."""
    from krystal.bench._report import goals_markdown, table

    lines = [
        "## 1. Contextual bandits from classification data",
        "",
        f"{result['events']:,} events per stream, {result['seeds']} seeds (medians); reward 1 "
        "for the right class, only the chosen arm's reward seen.",
        "",
    ]
    datasets = [d for d, e in result["datasets"].items() if "policies" in e]
    header = ["policy", *[f"{d} (all / last 20%)" for d in datasets], "µs/event (median)"]
    body = []
    for name in POLICIES:
        cells, times = [], []
        for d in datasets:
            v = result["datasets"][d]["policies"].get(name)
            cells.append("-" if v is None else f"{v['reward']:.3f} / {v['reward_last20']:.3f}")
            if v is not None:
                times.append(v["us_per_event"])
        if times:
            body.append([name, *cells, f"{statistics.median(times):,.0f}"])
    lines += table(header, body)
    for d, e in result["datasets"].items():
        if "error" in e:
            lines.append(f"\n{d}: not run ({e['error']})")
    lines += ["", *goals_markdown(result)]
    return "\n".join(lines)


def plot(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """Progressive average reward of every policy, one panel per dataset."""
    from krystal.bench._report import pyplot, save_figure

    plt = pyplot()
    datasets = [d for d, e in result["datasets"].items() if "policies" in e]
    if not datasets:
        return []
    cols = min(3, len(datasets))
    rows = math.ceil(len(datasets) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.4 * rows), squeeze=False)
    for ax, d in zip(axes.flat, datasets):
        for name, v in result["datasets"][d]["policies"].items():
            curve = v["curve"]
            xs = [(i + 1) * result["events"] / len(curve) for i in range(len(curve))]
            style = "-" if name == "krystal" else ("--" if name in REFERENCES else ":")
            width = 2.2 if name == "krystal" else 1.0
            ax.plot(xs, curve, style, lw=width, label=name)
        ax.set_title(d)
        ax.set_xlabel("event")
        ax.set_ylabel("progressive mean reward")
    for ax in list(axes.flat)[len(datasets) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6)
    return [save_figure(fig, out_dir / "bandits.png", dpi=90)]
