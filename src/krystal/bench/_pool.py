"""Run a section's independent jobs on a few processes, reporting each as it finishes."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from krystal.bench._section import Progress

__all__ = ["default_workers", "run_jobs"]


def default_workers() -> int:
    """Worker processes for a suite run: ``KRYSTAL_BENCH_WORKERS``, else up to 2 CPUs.

    Timed measurements (the speed section) always run in the main process, alone.
    """
    value = os.environ.get("KRYSTAL_BENCH_WORKERS")
    if value:
        return max(1, int(value))
    return max(1, min(2, os.cpu_count() or 1))


def run_jobs(
    fn: Callable[..., Any],
    jobs: Sequence[tuple[Any, ...]],
    progress: Progress,
    describe: Callable[[tuple[Any, ...]], str],
    *,
    weight: Callable[[tuple[Any, ...]], float] = lambda job: 1.0,
    workers: int | None = None,
) -> list[Any]:
    """``[fn(*job) for job in jobs]``, in parallel when ``workers > 1``; order kept.

    ``progress(weight(job), describe(job))`` is called as each job completes.

    >>> seen = []
    >>> run_jobs(pow, [(2, 3), (3, 2)], lambda a, d: seen.append(d), str, workers=1)
    [8, 9]
    >>> seen
    ['(2, 3)', '(3, 2)']
    """
    workers = default_workers() if workers is None else workers
    if workers <= 1 or len(jobs) <= 1:
        out = []
        for job in jobs:
            out.append(fn(*job))
            progress(weight(job), describe(job))
        return out
    results: list[Any] = [None] * len(jobs)
    with ProcessPoolExecutor(workers) as pool:
        futures = {pool.submit(fn, *job): i for i, job in enumerate(jobs)}
        for future in as_completed(futures):
            i = futures[future]
            results[i] = future.result()
            progress(weight(jobs[i]), describe(jobs[i]))
    return results
