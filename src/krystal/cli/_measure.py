"""Micro-benchmarks of the public API on this machine, as plain functions returning dicts.

``krystal bench`` renders them; ``benchmarks/speed.py`` calls them directly. Standard
library only: ``time.perf_counter_ns`` around each operation, ``tracemalloc`` for memory
and a fresh interpreter (``python -X importtime``) for the import cost. Inputs (metric
dicts, rewards) are generated before the clock starts, so only Krystal's own work is
timed. Timings on shared machines are noisy: the functions report medians and p90s.

>>> cycle = measure_cycle(state_dim=8, action_dim=4, cycles=50)
>>> sorted(cycle)
['action_dim', 'backend', 'cycles', 'mean_us', 'median_us', 'min_us', 'p90_us', 'state_dim']
>>> 0 < cycle["min_us"] <= cycle["median_us"] <= cycle["p90_us"]
True
"""

from __future__ import annotations

import gc
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from krystal.agent import Krystal

__all__ = [
    "STAGES",
    "measure_cycle",
    "measure_import",
    "measure_memory",
    "measure_optimize",
    "percentile",
    "run_all",
]


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of ``samples``, linearly interpolated.

    >>> percentile([1, 2, 3, 4, 5], 50), percentile([1, 2, 3, 4, 5], 90)
    (3.0, 4.6)
    """
    if not samples:
        raise ValueError("percentile of no samples")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def _inputs(state_dim: int, count: int, seed: int) -> tuple[list[dict[str, float]], list[float]]:
    rng = random.Random(seed)
    keys = [f"metric_{i}" for i in range(state_dim)]
    observations = [{key: rng.random() for key in keys} for _ in range(count)]
    rewards = [rng.uniform(-1.0, 1.0) for _ in range(count)]
    return observations, rewards


def _agent(state_dim: int, action_dim: int, seed: int, backend: str = "python") -> Krystal:
    from krystal.agent import Krystal, KrystalConfig

    return Krystal(
        KrystalConfig(state_dim=state_dim, action_dim=action_dim, seed=seed, backend=backend)
    )


def measure_cycle(
    state_dim: int = 8,
    action_dim: int = 4,
    cycles: int = 2000,
    *,
    seed: int = 0,
    backend: str = "python",
) -> dict[str, Any]:
    """Microseconds of one ``observe`` + ``decide`` + ``reward`` cycle (config path).

    A tenth of ``cycles`` (at most 200) run first, untimed, so caches and lazy imports
    are warm.
    """
    if cycles < 1:
        raise ValueError(f"cycles = {cycles!r}: expected an int >= 1")
    warmup = min(200, max(1, cycles // 10))
    observations, rewards = _inputs(state_dim, warmup + cycles, seed)
    agent = _agent(state_dim, action_dim, seed, backend)
    for i in range(warmup):
        agent.observe(observations[i])
        agent.decide()
        agent.reward(rewards[i])
    clock = time.perf_counter_ns
    samples: list[float] = []
    for i in range(warmup, warmup + cycles):
        observation, reward = observations[i], rewards[i]
        start = clock()
        agent.observe(observation)
        agent.decide()
        agent.reward(reward)
        samples.append((clock() - start) / 1000.0)
    return {
        "state_dim": state_dim,
        "action_dim": action_dim,
        "backend": backend,
        "cycles": cycles,
        "median_us": statistics.median(samples),
        "p90_us": percentile(samples, 90),
        "mean_us": statistics.fmean(samples),
        "min_us": min(samples),
    }


def measure_optimize(iterations: int = 50, repeats: int = 20, *, seed: int = 0) -> dict[str, Any]:
    """Microseconds ``optimize()`` spends per evaluation outside a trivial objective.

    The objective times itself; the overhead of one call is its total time minus the
    time inside the objective, divided by the number of evaluations it made.
    """
    agent = _agent(8, 4, seed)
    clock = time.perf_counter_ns
    inside = 0
    calls = 0

    def objective(action: Sequence[float]) -> float:
        nonlocal inside, calls
        start = clock()
        calls += 1
        value = -sum((a - 0.5) ** 2 for a in action)
        inside += clock() - start
        return value

    agent.optimize(objective, iterations=iterations)  # warm-up
    per_evaluation: list[float] = []
    evaluations: list[int] = []
    for _ in range(repeats):
        inside = calls = 0
        start = clock()
        agent.optimize(objective, iterations=iterations)
        total = clock() - start
        per_evaluation.append((total - inside) / max(calls, 1) / 1000.0)
        evaluations.append(calls)
    return {
        "iterations": iterations,
        "repeats": repeats,
        "evaluations_per_call": statistics.median(evaluations),
        "overhead_per_evaluation_us": statistics.median(per_evaluation),
        "p90_overhead_per_evaluation_us": percentile(per_evaluation, 90),
    }


def measure_memory(
    cycles: int = 1000, state_dim: int = 8, action_dim: int = 4, *, seed: int = 0
) -> dict[str, Any]:
    """Bytes (tracemalloc) to construct one agent and run ``cycles`` cycles with it.

    ``construct_bytes``: held right after construction; ``peak_bytes``: the most held at
    any point; ``retained_bytes``: still held by the agent afterwards. A throw-away agent
    runs first so that imports and one-time caches are not counted.
    """
    observations, rewards = _inputs(state_dim, cycles, seed)
    warm = _agent(state_dim, action_dim, seed)
    for i in range(min(cycles, 10)):
        warm.observe(observations[i])
        warm.decide()
        warm.reward(rewards[i])
    del warm
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        agent = _agent(state_dim, action_dim, seed)
        constructed = tracemalloc.get_traced_memory()[0] - base
        for observation, reward in zip(observations, rewards, strict=True):
            agent.observe(observation)
            agent.decide()
            agent.reward(reward)
        gc.collect()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del agent
    return {
        "cycles": cycles,
        "state_dim": state_dim,
        "action_dim": action_dim,
        "construct_bytes": constructed,
        "peak_bytes": peak - base,
        "retained_bytes": current - base,
    }


def _importtime_us(stderr: str, module: str) -> float:
    """Cumulative microseconds of ``module`` from ``-X importtime`` output."""
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        parts = line.split("|")
        if len(parts) == 3 and parts[2].strip() == module:
            return float(parts[1].strip())
    raise RuntimeError(f"no -X importtime line for {module!r} in:\n{stderr[-2000:]}")


def measure_import(repeats: int = 7, *, python: str | None = None) -> dict[str, Any]:
    """Milliseconds to ``import krystal`` in a fresh interpreter (median of ``repeats``).

    ``import_ms`` is the cumulative import time ``-X importtime`` reports for the
    package; ``process_ms`` the wall time of ``python -c "import krystal"`` and
    ``baseline_process_ms`` that of ``python -c pass``, for scale.
    """
    executable = python or sys.executable
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPROFILEIMPORTTIME"}

    def run(*args: str) -> tuple[float, str]:
        start = time.perf_counter_ns()
        done = subprocess.run(
            [executable, *args], capture_output=True, text=True, env=env, check=False
        )
        elapsed = (time.perf_counter_ns() - start) / 1e6
        if done.returncode != 0:
            raise RuntimeError(f"{executable} {' '.join(args)} failed:\n{done.stderr[-2000:]}")
        return elapsed, done.stderr

    imports: list[float] = []
    processes: list[float] = []
    baselines: list[float] = []
    for _ in range(repeats):
        _wall, stderr = run("-X", "importtime", "-c", "import krystal")
        imports.append(_importtime_us(stderr, "krystal") / 1000.0)
        processes.append(run("-c", "import krystal")[0])
        baselines.append(run("-c", "pass")[0])
    return {
        "repeats": repeats,
        "import_ms": statistics.median(imports),
        "process_ms": statistics.median(processes),
        "baseline_process_ms": statistics.median(baselines),
    }


#: ``(key, description)`` of each measurement of :func:`run_all`, in the order they run.
STAGES: tuple[tuple[str, str], ...] = (
    ("cycle_8x4", "cycle, 8 metrics x 4 actions"),
    ("cycle_32x8", "cycle, 32 metrics x 8 actions"),
    ("cycle_8x4_numpy", "cycle, 8 x 4, numpy backend"),
    ("cycle_32x8_numpy", "cycle, 32 x 8, numpy backend"),
    ("optimize", "optimize() overhead"),
    ("memory", "memory of one agent"),
    ("import", "import krystal"),
)


def environment() -> dict[str, Any]:
    """What the numbers were measured on."""
    from krystal import __version__

    return {
        "krystal_version": __version__,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
    }


def _if_numpy(measure: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``measure`` when numpy is installed; otherwise say why it was skipped."""
    try:
        import numpy  # noqa: F401
    except ImportError:
        return {"skipped": "numpy is not installed (pip install 'krystal-sdk[fast]')"}
    return measure()


def run_all(
    cycles: int = 1000,
    *,
    memory_cycles: int = 1000,
    import_repeats: int = 7,
    on_stage: Callable[[str, str], None] | None = None,
) -> dict[str, Any]:
    """Every measurement in :data:`STAGES`, keyed by stage, plus the environment.

    ``cycles`` timed cycles per agent size, ``memory_cycles`` cycles for the memory
    measurement; ``on_stage(key, description)`` is called before each stage starts.
    """
    plan: dict[str, Callable[[], dict[str, Any]]] = {
        "cycle_8x4": lambda: measure_cycle(8, 4, cycles),
        "cycle_32x8": lambda: measure_cycle(32, 8, cycles),
        "cycle_8x4_numpy": lambda: _if_numpy(lambda: measure_cycle(8, 4, cycles, backend="numpy")),
        "cycle_32x8_numpy": lambda: _if_numpy(
            lambda: measure_cycle(32, 8, cycles, backend="numpy")
        ),
        "optimize": measure_optimize,
        "memory": lambda: measure_memory(memory_cycles),
        "import": lambda: measure_import(import_repeats),
    }
    result: dict[str, Any] = {"environment": environment(), "cycles": cycles}
    for key, description in STAGES:
        if on_stage is not None:
            on_stage(key, description)
        result[key] = plan[key]()
    return result
