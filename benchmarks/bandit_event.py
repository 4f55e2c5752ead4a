"""Where one contextual-bandit event's time goes: Krystal layer by layer, beside VW.

The suite's bandit section (``krystal.bench.bandits``) reports the median time of one
decide + learn event. This script takes that event apart on the same streams. Each
variant below starts from an agent warmed up through the public API on the same events,
then plays the rest of the stream calling one layer lower than the one before:

- ``agent``: the public API, exactly as the suite (``observe(dict).decide()`` and
  ``reward(r)``, named choice space, numpy backend when numpy is installed);
- ``learner``: the kernel learner on the vector the agent would hand it;
- ``policy``: the normaliser, the arms policy and the phase engine, called in turn;
- ``work``: the normaliser, the arm models' moments, the Thompson choice, the model
  update and the phase engine, nothing around them;
- ``work_without_phase``: the same without the phase engine.

VW's ``--cb_explore_adf --squarecb`` (the suite's fastest VW) plays the same events in
the same run. Times are CPU time per event (so another process on the machine costs
less than in wall time), the median of ``--repeats`` interleaved repeats; the
differences between variants are what each layer adds.

    python benchmarks/bandit_event.py                  # writes benchmarks/results/bandit_event.json
    python benchmarks/bandit_event.py --datasets wine --events 600 --repeats 1
"""

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from krystal import __version__
from krystal.bench import bandits
from krystal.kernel.arms import thompson_choice

RESULTS = Path(__file__).parent / "results"
VARIANTS = ("agent", "learner", "policy", "work", "work_without_phase", "vw_squarecb")


def _player(variant: str, policy: Any, labels: list[int]) -> Callable[[list[float], int], None]:
    """One event of ``variant`` on a warmed-up :class:`bandits.KrystalPolicy` (or VW)."""
    if variant in ("agent", "vw_squarecb"):

        def public(x: list[float], label: int) -> None:
            arm = policy.choose(x)
            policy.learn(x, arm, 1.0 if arm == label else 0.0, label)

        return public
    agent = policy.agent
    learner = agent._learner
    arms = learner.policy
    models, normalizer, phase, rng = arms.models, learner.normalizer, learner.phase, learner.rng
    known, names = agent._known, policy.names

    if variant == "learner":

        def kernel(x: list[float], label: int) -> None:
            learner.observe(known.vector(dict(zip(names, x))))
            learner.decide()
            learner.reward(1.0 if arms.last_arm == label else 0.0)

        return kernel
    if variant == "policy":

        def layered(x: list[float], label: int) -> None:
            z = normalizer.standardise(known.vector(dict(zip(names, x))))
            action = arms.propose([], z, phase.temperature)
            r = 1.0 if arms.last_arm == label else 0.0
            expected = arms.predict([], z, action)
            error = arms.learn([], z, action, r, 1.0)
            phase.update(error, r, expected)

        return layered
    with_phase = variant == "work"

    def work(x: list[float], label: int) -> None:
        z = normalizer.standardise(known.vector(dict(zip(names, x))))
        context = [1.0, *z]
        means, variances = models.moments(context)
        spread = (0.5 + phase.temperature) * arms.noise_var**0.5
        arm = thompson_choice(means, variances, spread, rng)
        r = 1.0 if arm == label else 0.0
        error = models.update(arm, context, r)
        if with_phase:
            phase.update(error, r, r - error)

    return work


def measure(dataset: str, variant: str, events: int, warmup: int, seed: int) -> float:
    """CPU microseconds per event of ``variant`` after ``warmup`` public-API events."""
    rows, labels = bandits.load_dataset(dataset)
    order = bandits.stream(len(rows), warmup + events, 1000 + seed)
    name = "vw_squarecb" if variant == "vw_squarecb" else "krystal"
    policy = bandits._FACTORIES[name](len(rows[0]), max(labels) + 1, seed)
    for i in order[:warmup]:
        arm = policy.choose(rows[i])
        policy.learn(rows[i], arm, 1.0 if arm == labels[i] else 0.0, labels[i])
    play = _player(variant, policy, labels)
    timed = [(rows[i], labels[i]) for i in order[warmup:]]
    start = time.thread_time_ns()
    for x, label in timed:
        play(x, label)
    return (time.thread_time_ns() - start) / 1000.0 / len(timed)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", default=",".join(bandits.DATASETS))
    parser.add_argument("--events", type=int, default=3000, help="timed events per run")
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(RESULTS / "bandit_event.json"))
    args = parser.parse_args()
    datasets = [d for d in args.datasets.split(",") if d]
    runs: dict[str, dict[str, list[float]]] = {d: {v: [] for v in VARIANTS} for d in datasets}
    for repeat in range(args.repeats):
        for dataset in datasets:
            for variant in VARIANTS:
                us = measure(dataset, variant, args.events, args.warmup, seed=0)
                runs[dataset][variant].append(us)
                print(f"repeat {repeat} {dataset} {variant}: {us:.1f} µs", file=sys.stderr)
    medians = {d: {v: statistics.median(r) for v, r in by.items()} for d, by in runs.items()}
    layers = {
        d: {
            "agent_api": m["agent"] - m["learner"],
            "learner": m["learner"] - m["policy"],
            "policy": m["policy"] - m["work"],
            "phase_engine": m["work"] - m["work_without_phase"],
            "work_without_phase": m["work_without_phase"],
        }
        for d, m in medians.items()
    }
    ours = statistics.median(m["agent"] for m in medians.values())
    theirs = statistics.median(m["vw_squarecb"] for m in medians.values())
    result = {
        "benchmark": "bandit_event",
        "krystal_version": __version__,
        "python": platform.python_version(),
        "machine": platform.platform(),
        "events": args.events,
        "warmup": args.warmup,
        "repeats": args.repeats,
        "us_per_event": medians,
        "layers_us": layers,
        "median_over_datasets": {"krystal": ours, "vw_squarecb": theirs, "ratio": ours / theirs},
        "runs": runs,
        "command": " ".join(["python", "benchmarks/bandit_event.py", *sys.argv[1:]]),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(
        json.dumps(
            {"us_per_event": medians, "median_over_datasets": result["median_over_datasets"]},
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
