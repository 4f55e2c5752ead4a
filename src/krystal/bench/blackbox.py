"""Section 2 of the suite: black-box optimisation, ``Krystal.optimize()`` against its peers.

Problems (all minimised; regret is ``f(x) - f*`` at the recommended point): Branin (2-D),
Hartmann6, and Rosenbrock, Levy, Ackley and Rastrigin in 10-D on their standard domains.
Ackley's and Rastrigin's optimum is moved from the centre of the box (which an optimiser
that starts at the centre finds for free) to a fixed off-centre point inside it. Noisy
Hartmann6 adds Gaussian noise (sd 0.1, about 3 % of the function's range) to every
evaluation and is scored by the true value at the recommended point.

Peers: random search, Optuna TPE (default, multivariate in Optuna 5; and
``multivariate=False``), Optuna CMA-ES, Nevergrad PSO, CMA, DE and NGOpt, and pyswarms'
global-best PSO. Krystal runs :func:`krystal.optimize.optimize` (the engine of
``Krystal.optimize()``) over the same box.

Optimisers that do not know their budget (random search, Optuna's samplers, pyswarms)
run once at the larger budget and are scored at each budget by their best point so far,
which is exactly what a shorter run with the same seed would recommend. Nevergrad's
optimisers and Krystal are told the budget and run once per budget. Overhead is the
wall time outside the objective divided by the evaluations, at the larger budget.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import os
import pathlib
import random
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from krystal._imports import require
from krystal.bench._section import Progress, goal, peer_versions
from krystal.kernel.rng import Rng

NOISE_SD = 0.1
KRYSTAL = "krystal"
PEERS = (
    "random",
    "optuna_tpe",
    "optuna_tpe_independent",
    "optuna_cmaes",
    "nevergrad_pso",
    "nevergrad_cma",
    "nevergrad_de",
    "nevergrad_ngopt",
    "pyswarms_gbest",
)
OPTIMIZERS = (KRYSTAL, *PEERS)
# Told their budget, so run once per budget; the others run once and are read at each.
BUDGET_AWARE = {KRYSTAL, "nevergrad_pso", "nevergrad_cma", "nevergrad_de", "nevergrad_ngopt"}
DISTRIBUTIONS = ["optuna", "cmaes", "nevergrad", "pyswarms", "numpy"]
FULL = {"problems": None, "budgets": (100, 500), "seeds": 10}
QUICK = {"problems": ("branin", "hartmann6", "ackley10"), "budgets": (30, 100), "seeds": 2}


# -- problems ---------------------------------------------------------------------------


def branin(x: Sequence[float]) -> float:
    a, b, c = 1.0, 5.1 / (4.0 * math.pi**2), 5.0 / math.pi
    r, s, t = 6.0, 10.0, 1.0 / (8.0 * math.pi)
    return a * (x[1] - b * x[0] ** 2 + c * x[0] - r) ** 2 + s * (1.0 - t) * math.cos(x[0]) + s


_H_ALPHA = (1.0, 1.2, 3.0, 3.2)
_H_A = (
    (10.0, 3.0, 17.0, 3.5, 1.7, 8.0),
    (0.05, 10.0, 17.0, 0.1, 8.0, 14.0),
    (3.0, 3.5, 1.7, 10.0, 17.0, 8.0),
    (17.0, 8.0, 0.05, 10.0, 0.1, 14.0),
)
_H_P = (
    (0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886),
    (0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991),
    (0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650),
    (0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381),
)


def hartmann6(x: Sequence[float]) -> float:
    return -sum(
        _H_ALPHA[i] * math.exp(-sum(_H_A[i][j] * (x[j] - _H_P[i][j]) ** 2 for j in range(6)))
        for i in range(4)
    )


def rosenbrock(x: Sequence[float]) -> float:
    return sum(100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2 for i in range(len(x) - 1))


def levy(x: Sequence[float]) -> float:
    w = [1.0 + (v - 1.0) / 4.0 for v in x]
    head = math.sin(math.pi * w[0]) ** 2
    body = sum((v - 1.0) ** 2 * (1.0 + 10.0 * math.sin(math.pi * v + 1.0) ** 2) for v in w[:-1])
    tail = (w[-1] - 1.0) ** 2 * (1.0 + math.sin(2.0 * math.pi * w[-1]) ** 2)
    return head + body + tail


def ackley(x: Sequence[float]) -> float:
    n = len(x)
    square = math.sqrt(sum(v * v for v in x) / n)
    cosine = sum(math.cos(2.0 * math.pi * v) for v in x) / n
    return -20.0 * math.exp(-0.2 * square) - math.exp(cosine) + 20.0 + math.e


def rastrigin(x: Sequence[float]) -> float:
    return 10.0 * len(x) + sum(v * v - 10.0 * math.cos(2.0 * math.pi * v) for v in x)


def off_centre(low: float, high: float, dim: int, seed: int) -> list[float]:
    """A fixed point drawn uniformly from the middle 70 % of each axis (not the centre).

    >>> point = off_centre(-5.12, 5.12, 10, 2)
    >>> len(point), all(-3.6 < v < 3.6 for v in point), point == off_centre(-5.12, 5.12, 10, 2)
    (10, True, True)
    """
    rng = Rng(seed)
    return [low + (high - low) * rng.uniform(0.15, 0.85) for _ in range(dim)]


def _shifted(
    function: Callable[[Sequence[float]], float], shift: list[float]
) -> Callable[[Sequence[float]], float]:
    def shifted(x: Sequence[float]) -> float:
        return function([x[d] - shift[d] for d in range(len(shift))])

    return shifted


class Problem:
    """A benchmark function on its box, with its known minimum."""

    def __init__(
        self,
        name: str,
        function: Callable[[Sequence[float]], float],
        low: list[float],
        high: list[float],
        minimum: float,
        noise: float = 0.0,
    ) -> None:
        self.name, self.function, self.low, self.high = name, function, low, high
        self.minimum, self.noise = minimum, noise
        self.dim = len(low)


def problems() -> dict[str, Problem]:
    """The section's problems by name."""
    d = 10
    ackley_shift = off_centre(-32.768, 32.768, d, 2)
    rastrigin_shift = off_centre(-5.12, 5.12, d, 3)
    return {
        "branin": Problem("branin", branin, [-5.0, 0.0], [10.0, 15.0], 0.397887357729739),
        "hartmann6": Problem("hartmann6", hartmann6, [0.0] * 6, [1.0] * 6, -3.32236801141551),
        "rosenbrock10": Problem("rosenbrock10", rosenbrock, [-5.0] * d, [10.0] * d, 0.0),
        "levy10": Problem("levy10", levy, [-10.0] * d, [10.0] * d, 0.0),
        "ackley10": Problem(
            "ackley10", _shifted(ackley, ackley_shift), [-32.768] * d, [32.768] * d, 0.0
        ),
        "rastrigin10": Problem(
            "rastrigin10", _shifted(rastrigin, rastrigin_shift), [-5.12] * d, [5.12] * d, 0.0
        ),
        "hartmann6_noisy": Problem(
            "hartmann6_noisy", hartmann6, [0.0] * 6, [1.0] * 6, -3.32236801141551, NOISE_SD
        ),
    }


# -- one optimiser on one problem -------------------------------------------------------


class Recorder:
    """The objective handed to an optimiser: counts time inside it and records each call."""

    def __init__(self, problem: Problem, seed: int) -> None:
        self.problem = problem
        self.noise = random.Random(seed * 7919 + 17)
        self.points: list[list[float]] = []
        self.observed: list[float] = []
        self.inside = 0.0
        self.inside_cpu = 0.0

    def __call__(self, x: Sequence[float]) -> float:
        start, start_cpu = time.perf_counter(), time.process_time()
        point = [float(v) for v in x]
        value = self.problem.function(point)
        if self.problem.noise:
            value += self.noise.gauss(0.0, self.problem.noise)
        self.points.append(point)
        self.observed.append(value)
        self.inside += time.perf_counter() - start
        self.inside_cpu += time.process_time() - start_cpu
        return value

    def regret_of(self, x: Sequence[float]) -> float:
        return max(0.0, self.problem.function([float(v) for v in x]) - self.problem.minimum)

    def incumbent_trace(self) -> list[float]:
        """Regret of the best-observed point after each evaluation (true value if noisy)."""
        trace, best, best_regret = [], math.inf, math.inf
        for point, value in zip(self.points, self.observed):
            if value < best:
                best, best_regret = value, self.regret_of(point)
            trace.append(best_regret)
        return trace


def _run_krystal(problem: Problem, budget: int, seed: int, rec: Recorder) -> list[float]:
    from krystal.optimize import optimize

    x, _ = optimize(lambda x: -rec(x), low=problem.low, high=problem.high, budget=budget, seed=seed)
    return x


def _run_random(problem: Problem, budget: int, seed: int, rec: Recorder) -> list[float]:
    rng = random.Random(seed)
    for _ in range(budget):
        rec([rng.uniform(lo, hi) for lo, hi in zip(problem.low, problem.high)])
    return rec.points[min(range(budget), key=lambda i: rec.observed[i])]


def _run_optuna(
    sampler_name: str, problem: Problem, budget: int, seed: int, rec: Recorder
) -> list[float]:
    optuna = require("optuna", "bench")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    samplers = optuna.samplers
    if sampler_name == "optuna_tpe":
        sampler = samplers.TPESampler(seed=seed)
    elif sampler_name == "optuna_tpe_independent":
        sampler = samplers.TPESampler(seed=seed, multivariate=False)
    else:
        require("cmaes", "bench")
        sampler = samplers.CmaEsSampler(seed=seed)
    study = optuna.create_study(sampler=sampler)
    names = [f"x{d}" for d in range(problem.dim)]

    def objective(trial: Any) -> float:
        return rec(
            [trial.suggest_float(n, lo, hi) for n, lo, hi in zip(names, problem.low, problem.high)]
        )

    study.optimize(objective, n_trials=budget)
    return [study.best_trial.params[n] for n in names]


def _run_nevergrad(
    name: str, problem: Problem, budget: int, seed: int, rec: Recorder
) -> list[float]:
    ng = require("nevergrad", "bench")
    np = require("numpy", "bench")
    registry = {
        "nevergrad_pso": "PSO",
        "nevergrad_cma": "CMA",
        "nevergrad_de": "DE",
        "nevergrad_ngopt": "NGOpt",
    }
    # Bounds in the constructor also set the mutation scale to a sixth of the box, as
    # Nevergrad recommends (set_bounds alone keeps sigma = 1 whatever the box).
    space = ng.p.Array(
        shape=(problem.dim,), lower=np.array(problem.low), upper=np.array(problem.high)
    )
    space.random_state = np.random.RandomState(seed)
    optimizer = ng.optimizers.registry[registry[name]](parametrization=space, budget=budget)
    with warnings.catch_warnings(), _one_row_predictions_are_scalars():
        # NGOpt's inner optimisers warn about their own settings; the run is unaffected.
        warnings.simplefilter("ignore")
        for _ in range(budget):
            candidate = optimizer.ask()
            optimizer.tell(candidate, rec(candidate.value))
        return [float(v) for v in optimizer.provide_recommendation().value]


@contextlib.contextmanager
def _one_row_predictions_are_scalars() -> Iterator[None]:
    """Let Nevergrad 1.0.12's MetaModel (inside NGOpt) run on NumPy >= 2.4.

    It calls ``float()`` on scikit-learn's one-row prediction, an array of shape (1,),
    which NumPy 2.4 refuses (older NumPy converted it with a deprecation warning). For the
    duration of the run ``LinearRegression.predict`` of one row returns that one number,
    so NGOpt behaves exactly as it does on the NumPy it was released against.
    """
    try:
        linear_model = importlib.import_module("sklearn.linear_model")
    except ImportError:  # MetaModel is not used without scikit-learn
        yield
        return
    original = linear_model.LinearRegression

    class OneRowScalar(original):  # type: ignore[misc, valid-type]
        def predict(self, X: Any) -> Any:
            out = super().predict(X)
            return out[0] if getattr(out, "shape", None) == (1,) else out

    linear_model.LinearRegression = OneRowScalar
    try:
        yield
    finally:
        linear_model.LinearRegression = original


@contextlib.contextmanager
def _logging_left_alone() -> Iterator[None]:
    """Import pyswarms and build its optimisers without its reporters reconfiguring logging.

    pyswarms makes a reporter at import and one per optimiser, and each calls
    ``logging.config.dictConfig``: the whole process's root logger then sends INFO
    records to stderr and to a ``report.log`` it creates in the working directory
    (alembic's migration lines, among others, ended up there). Its own switch for that
    set-up is ``LOG_CFG``, a YAML file: inside this block it names one that changes
    nothing (an incremental configuration with no entries).
    """
    previous = os.environ.get("LOG_CFG")
    with tempfile.TemporaryDirectory() as folder:
        config = pathlib.Path(folder) / "logging.yaml"
        config.write_text("version: 1\nincremental: true\n", encoding="utf-8")
        os.environ["LOG_CFG"] = str(config)
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop("LOG_CFG", None)
            else:
                os.environ["LOG_CFG"] = previous


def _run_pyswarms(problem: Problem, budget: int, seed: int, rec: Recorder) -> list[float]:
    np = require("numpy", "bench")
    np.random.seed(seed)  # pyswarms draws from numpy's global generator
    particles = 10
    with _logging_left_alone():
        ps = require("pyswarms", "bench")
        optimizer = ps.single.GlobalBestPSO(
            n_particles=particles,
            dimensions=problem.dim,
            options={"c1": 0.5, "c2": 0.3, "w": 0.9},  # the values of pyswarms' own examples
            bounds=(np.array(problem.low), np.array(problem.high)),
        )
    optimizer.optimize(
        lambda swarm: np.array([rec(row) for row in swarm]),
        iters=budget // particles,
        verbose=False,
    )
    return rec.points[min(range(len(rec.points)), key=lambda i: rec.observed[i])]


def run_one(name: str, problem: Problem, budget: int, seed: int) -> dict[str, Any]:
    """Run one optimiser; return its regret trace, final regret and overhead per evaluation."""
    rec = Recorder(problem, seed)
    start, start_cpu = time.perf_counter(), time.process_time()
    if name == KRYSTAL:
        x = _run_krystal(problem, budget, seed, rec)
    elif name == "random":
        x = _run_random(problem, budget, seed, rec)
    elif name.startswith("optuna"):
        x = _run_optuna(name, problem, budget, seed, rec)
    elif name.startswith("nevergrad"):
        x = _run_nevergrad(name, problem, budget, seed, rec)
    else:
        x = _run_pyswarms(problem, budget, seed, rec)
    total, total_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    evaluations = len(rec.points)
    return {
        "trace": rec.incumbent_trace(),
        "final": rec.regret_of(x),
        "evaluations": evaluations,
        "overhead_s": max(0.0, total - rec.inside) / max(1, evaluations),
        "overhead_cpu_s": max(0.0, total_cpu - rec.inside_cpu) / max(1, evaluations),
    }


def _task(args: tuple[str, str, tuple[int, ...], int]) -> dict[str, Any]:
    """All runs of one optimiser on one problem and seed (a process-pool work item)."""
    name, problem_name, budgets, seed = args
    problem = problems()[problem_name]
    out: dict[str, Any] = {"optimizer": name, "problem": problem_name, "seed": seed}
    largest = max(budgets)
    result = run_one(name, problem, largest, seed)
    out["trace"] = _thin(result["trace"])
    out["overhead_s"] = result["overhead_s"]
    out["overhead_cpu_s"] = result["overhead_cpu_s"]
    out["final"] = {}
    for budget in budgets:
        if budget == largest:
            out["final"][str(budget)] = result["final"]
        elif name in BUDGET_AWARE:
            out["final"][str(budget)] = run_one(name, problem, budget, seed)["final"]
        else:
            out["final"][str(budget)] = result["trace"][budget - 1]
    return out


def _thin(trace: list[float]) -> list[list[float]]:
    """(evaluation, regret) at about 60 log-spaced evaluations, for the plots."""
    keep = sorted({max(1, round(len(trace) ** (k / 59))) for k in range(60)})
    return [[float(k), trace[k - 1]] for k in keep]


# -- the section contract ---------------------------------------------------------------


def _settings(quick: bool, seeds: int | None) -> tuple[list[str], tuple[int, ...], int]:
    spec = QUICK if quick else FULL
    names = list(spec["problems"] or problems())  # type: ignore[arg-type]
    return names, tuple(spec["budgets"]), int(seeds or spec["seeds"])  # type: ignore[arg-type]


def _available() -> tuple[list[str], list[dict[str, str]]]:
    """The optimisers whose packages are installed, and why the others are skipped."""
    from importlib.util import find_spec

    needs = {
        "optuna": ["optuna"],
        "nevergrad": ["nevergrad", "numpy"],
        "pyswarms": ["pyswarms", "numpy"],
    }
    skipped, names = [], []
    for name in OPTIMIZERS:
        modules = next((v for k, v in needs.items() if name.startswith(k)), [])
        if name == "optuna_cmaes":
            modules = [*modules, "cmaes"]
        missing = [m for m in modules if find_spec(m) is None]
        if missing:
            skipped.append(
                {
                    "peer": name,
                    "reason": f"{', '.join(missing)} not installed: "
                    "pip install 'krystal-sdk[bench]'",
                }
            )
        else:
            names.append(name)
    return names, skipped


def _work(name: str, budgets: tuple[int, ...]) -> int:
    largest = max(budgets)
    if name in BUDGET_AWARE:
        return sum(budgets)
    return largest


def estimate(*, quick: bool, seeds: int | None = None) -> float:
    """Total progress units (evaluations) of :func:`run`."""
    names, budgets, count = _settings(quick, seeds)
    return float(sum(_work(o, budgets) for o in OPTIMIZERS) * len(names) * count)


def run(
    *,
    quick: bool,
    seeds: int | None = None,
    progress: Progress,
    optimizers: Sequence[str] | None = None,
    workers: int = 2,
) -> dict[str, Any]:
    """Run the section; ``optimizers`` narrows the field (tests), ``workers`` the pool."""
    names, budgets, count = _settings(quick, seeds)
    available, skipped = _available()
    chosen = [o for o in available if optimizers is None or o in optimizers]
    tasks = [(o, p, budgets, s) for p in names for s in range(count) for o in chosen]
    for name in OPTIMIZERS:
        if name not in chosen and name in available:
            progress(_work(name, budgets) * len(names) * count, f"blackbox: {name} not selected")
    for entry in skipped:
        progress(_work(entry["peer"], budgets) * len(names) * count, f"skipped {entry['peer']}")
    records = []
    start = time.perf_counter()
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for task, record in zip(tasks, pool.map(_task, tasks)):
                records.append(record)
                progress(_work(task[0], budgets), f"blackbox: {task[0]} on {task[1]}")
    else:
        for task in tasks:
            records.append(_task(task))
            progress(_work(task[0], budgets), f"blackbox: {task[0]} on {task[1]}")
    result = summarise(records, names, budgets, chosen)
    result.update(
        {
            "section": "blackbox",
            "quick": quick,
            "seeds": count,
            "noise_sd": NOISE_SD,
            "skipped": skipped,
            "versions": peer_versions(DISTRIBUTIONS),
            "wall_s": time.perf_counter() - start,
        }
    )
    return result


def _ranks(values: dict[str, float]) -> dict[str, float]:
    """Rank 1 = lowest value; ties share the mean of their ranks."""
    ordered = sorted(values, key=lambda k: values[k])
    ranks: dict[str, float] = {}
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and values[ordered[j + 1]] == values[ordered[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[ordered[k]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def summarise(
    records: list[dict[str, Any]], names: list[str], budgets: tuple[int, ...], chosen: list[str]
) -> dict[str, Any]:
    """Medians, IQRs, ranks, overheads and goals from the raw per-run records."""
    table: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    ranks: dict[str, dict[str, dict[str, float]]] = {}
    for budget in budgets:
        b = str(budget)
        table[b], ranks[b] = {}, {}
        for problem in names:
            table[b][problem] = {}
            for name in chosen:
                finals = [
                    r["final"][b]
                    for r in records
                    if r["problem"] == problem and r["optimizer"] == name
                ]
                table[b][problem][name] = {
                    "median": statistics.median(finals),
                    "q25": _quantile(finals, 0.25),
                    "q75": _quantile(finals, 0.75),
                }
            ranks[b][problem] = _ranks({n: table[b][problem][n]["median"] for n in chosen})
    average_rank = {
        b: {n: statistics.fmean(ranks[b][p][n] for p in names) for n in chosen} for b in ranks
    }
    overhead = {
        n: statistics.median(r["overhead_s"] for r in records if r["optimizer"] == n)
        for n in chosen
    }
    overhead_cpu = {
        n: statistics.median(r["overhead_cpu_s"] for r in records if r["optimizer"] == n)
        for n in chosen
    }
    traces: dict[str, dict[str, list[list[float]]]] = {}
    for problem in names:
        traces[problem] = {}
        for name in chosen:
            runs = [
                r["trace"] for r in records if r["problem"] == problem and r["optimizer"] == name
            ]
            traces[problem][name] = [
                [runs[0][k][0], statistics.median(run[k][1] for run in runs)]
                for k in range(len(runs[0]))
            ]
    return {
        "problems": names,
        "budgets": list(budgets),
        "optimizers": chosen,
        "regret": table,
        "ranks": ranks,
        "average_rank": average_rank,
        "overhead_us": {n: 1e6 * v for n, v in overhead.items()},
        "overhead_cpu_us": {n: 1e6 * v for n, v in overhead_cpu.items()},
        "traces": traces,
        "goals": _goals(average_rank, overhead, chosen),
        "quality": {
            f"rank_margin_{b}": min(
                (v for n, v in average_rank[b].items() if n != KRYSTAL), default=0.0
            )
            - average_rank[b].get(KRYSTAL, 0.0)
            for b in average_rank
        },
        "speed": (
            {"overhead_vs_tpe": overhead[KRYSTAL] / overhead["optuna_tpe"]}
            if KRYSTAL in overhead and overhead.get("optuna_tpe")
            else {}
        ),
    }


def _goals(
    average_rank: dict[str, dict[str, float]], overhead: dict[str, float], chosen: list[str]
) -> list[dict[str, Any]]:
    goals = []
    for b, by_name in average_rank.items():
        others = {n: v for n, v in by_name.items() if n != KRYSTAL}
        if KRYSTAL not in by_name or not others:
            goals.append(goal(f"best average rank at budget {b}", False, "no peer ran"))
            continue
        best_peer = min(others, key=lambda n: others[n])
        met = by_name[KRYSTAL] <= others[best_peer]
        goals.append(
            goal(
                f"best average rank at budget {b}",
                met,
                f"krystal {by_name[KRYSTAL]:.2f}, best peer {best_peer} {others[best_peer]:.2f}",
            )
        )
    if KRYSTAL in overhead and "optuna_tpe" in overhead:
        ratio = overhead[KRYSTAL] / overhead["optuna_tpe"]
        goals.append(
            goal(
                "overhead per evaluation below a tenth of Optuna TPE's",
                ratio < 0.1,
                f"krystal {1e6 * overhead[KRYSTAL]:.0f} us, "
                f"TPE {1e6 * overhead['optuna_tpe']:.0f} us ({ratio:.3f}x)",
            )
        )
    else:
        goals.append(
            goal("overhead per evaluation below a tenth of Optuna TPE's", False, "TPE not run")
        )
    return goals


def render_markdown(result: dict[str, Any]) -> str:
    """The section's tables: median [IQR] regret per budget, average ranks, overheads."""
    names, chosen = result["problems"], result["optimizers"]
    lines = [
        "## Black-box optimisation",
        "",
        f"Final regret (median [25th-75th percentile]) over {result['seeds']} seeds; "
        f"noisy Hartmann6 has noise sd {result['noise_sd']} and is scored by the true value "
        "at the recommended point. Rank 1 is best (ranked by median regret per function).",
    ]
    for b in map(str, result["budgets"]):
        lines += ["", f"### Budget {b}", ""]
        lines.append("| optimiser | " + " | ".join(names) + " | average rank |")
        lines.append("| --- " * (len(names) + 2) + "|")
        order = sorted(chosen, key=lambda n: result["average_rank"][b][n])
        for name in order:
            cells = []
            for p in names:
                cell = result["regret"][b][p][name]
                text = f"{cell['median']:.3g} [{cell['q25']:.2g}, {cell['q75']:.2g}]"
                if result["ranks"][b][p][name] == 1.0:
                    text = f"**{text}**"
                cells.append(text)
            rank = result["average_rank"][b][name]
            label = f"**{name}**" if name == KRYSTAL else name
            lines.append(f"| {label} | " + " | ".join(cells) + f" | {rank:.2f} |")
    lines += ["", "### Overhead per evaluation (time outside the objective)", ""]
    lines += [
        "Median over runs at the larger budget, in microseconds: wall time (the goal's",
        "measure) and CPU time of the optimiser's process (steadier on a shared machine).",
        "",
        "| optimiser | wall | CPU |",
        "| --- | --- | --- |",
    ]
    for name in sorted(chosen, key=lambda n: result["overhead_us"][n]):
        cpu = result.get("overhead_cpu_us", {}).get(name)
        cpu_text = "" if cpu is None else f"{cpu:.0f}"
        lines.append(f"| {name} | {result['overhead_us'][name]:.0f} | {cpu_text} |")
    lines += ["", "### Goals", ""]
    for g in result["goals"]:
        lines.append(f"- {'met' if g['met'] else 'NOT MET'}: {g['goal']} ({g['detail']})")
    for entry in result.get("skipped", []):
        lines.append(f"- skipped {entry['peer']}: {entry['reason']}")
    return "\n".join(lines) + "\n"


def plot(result: dict[str, Any], out_dir: pathlib.Path) -> list[pathlib.Path]:
    """Regret against evaluations per function, and the average-rank table as a chart."""
    from krystal.bench._report import pyplot, save_figure

    plt = pyplot()
    out_dir.mkdir(parents=True, exist_ok=True)
    names, chosen = result["problems"], result["optimizers"]
    columns = 4
    rows = math.ceil(len(names) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.4 * rows), squeeze=False)
    colours = plt.get_cmap("tab10")
    for k, problem in enumerate(names):
        ax = axes[k // columns][k % columns]
        for i, name in enumerate(chosen):
            points = result["traces"][problem][name]
            ax.plot(
                [p[0] for p in points],
                [max(p[1], 1e-12) for p in points],
                label=name,
                color="black" if name == KRYSTAL else colours(i % 10),
                linewidth=2.4 if name == KRYSTAL else 1.0,
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(problem)
        ax.set_xlabel("evaluations")
        ax.set_ylabel("median regret")
        ax.grid(True, alpha=0.3)
    for k in range(len(names), rows * columns):
        axes[k // columns][k % columns].axis("off")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower right", fontsize=9)
    fig.suptitle(
        f"Black-box optimisation: median regret of the best point so far ({result['seeds']} seeds)"
    )
    curves = save_figure(fig, out_dir / "blackbox_regret.png", dpi=90)

    budgets = [str(b) for b in result["budgets"]]
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(chosen) + 1.5))
    order = sorted(chosen, key=lambda n: result["average_rank"][budgets[-1]][n])
    height = 0.8 / len(budgets)
    for j, b in enumerate(budgets):
        ax.barh(
            [i + j * height for i in range(len(order))],
            [result["average_rank"][b][n] for n in order],
            height=height,
            label=f"budget {b}",
        )
    ax.set_yticks([i + height * (len(budgets) - 1) / 2 for i in range(len(order))])
    ax.set_yticklabels(order)
    ax.invert_yaxis()
    ax.set_xlabel(f"average rank over {len(names)} functions (1 = best)")
    ax.legend()
    ax.grid(True, axis="x", alpha=0.3)
    ranks = save_figure(fig, out_dir / "blackbox_ranks.png", dpi=90)
    return [curves, ranks]
