"""A tiny run of the black-box section, and checks of what its figures rest on."""

import importlib.util
import json
import math
from pathlib import Path
from typing import Any

import pytest

from krystal.bench import blackbox

PROBLEMS = blackbox.problems()


def _missing(*modules: str) -> list[str]:
    return [m for m in modules if importlib.util.find_spec(m) is None]


@pytest.mark.parametrize(
    ("name", "point"),
    [
        ("branin", [math.pi, 2.275]),
        ("branin", [-math.pi, 12.275]),
        ("hartmann6", [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]),
        ("rosenbrock10", [1.0] * 10),
        ("levy10", [1.0] * 10),
    ],
)
def test_problems_reach_their_published_minimum(name: str, point: list[float]) -> None:
    problem = PROBLEMS[name]
    assert problem.function(point) == pytest.approx(problem.minimum, abs=1e-5)


@pytest.mark.parametrize(
    ("name", "seed", "half"), [("ackley10", 2, 32.768), ("rastrigin10", 3, 5.12)]
)
def test_shifted_optima_are_off_centre_and_exact(name: str, seed: int, half: float) -> None:
    problem = PROBLEMS[name]
    optimum = blackbox.off_centre(-half, half, 10, seed)
    assert problem.function(optimum) == pytest.approx(0.0, abs=1e-9)
    assert problem.function([0.0] * 10) > 1.0  # the centre is no longer free
    assert max(abs(v) for v in optimum) > 0.2 * half


def test_noisy_hartmann_is_noisy_but_scored_by_the_true_value() -> None:
    problem = PROBLEMS["hartmann6_noisy"]
    recorder = blackbox.Recorder(problem, seed=0)
    point = [0.5] * 6
    values = {recorder(point) for _ in range(5)}
    assert len(values) == 5
    assert recorder.regret_of(point) == pytest.approx(blackbox.hartmann6(point) - problem.minimum)


def test_ranks_share_ties_and_rank_low_values_first() -> None:
    assert blackbox._ranks({"a": 3.0, "b": 1.0, "c": 1.0, "d": 0.5}) == {
        "d": 1.0,
        "b": 2.5,
        "c": 2.5,
        "a": 4.0,
    }


def test_a_budget_blind_optimiser_read_early_equals_a_shorter_run() -> None:
    problem = PROBLEMS["levy10"]
    long = blackbox.run_one("random", problem, 60, seed=4)
    short = blackbox.run_one("random", problem, 30, seed=4)
    assert short["final"] == long["trace"][29]


def test_a_tiny_section_run_has_the_contract_fields(tmp_path: Path) -> None:
    advances: list[float] = []
    result = blackbox.run(
        quick=True,
        seeds=1,
        progress=lambda advance, text: advances.append(advance),
        optimizers=["krystal", "random"],
        workers=1,
    )
    assert sum(advances) == pytest.approx(blackbox.estimate(quick=True, seeds=1))
    json.dumps(result)  # JSON-able
    assert result["optimizers"] == ["krystal", "random"]
    for budget in map(str, result["budgets"]):
        ranks = result["average_rank"][budget]
        assert sorted(ranks) == ["krystal", "random"]
        assert sum(ranks.values()) == pytest.approx(3.0)
    goals = result["goals"]
    assert [g["goal"] for g in goals][:2] == [
        "best average rank at budget 30",
        "best average rank at budget 100",
    ]
    assert all(isinstance(g["met"], bool) and g["detail"] for g in goals)
    # Krystal against random search alone should win on these three functions.
    assert goals[0]["met"] and goals[1]["met"]
    text = blackbox.render_markdown(result)
    assert text.startswith("## Black-box optimisation")
    assert "| **krystal** |" in text
    if _missing("matplotlib"):
        pytest.skip("matplotlib not installed: pip install 'krystal-sdk[plot]'")
    paths = blackbox.plot(result, tmp_path)
    assert [p.name for p in paths] == ["blackbox_regret.png", "blackbox_ranks.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)


@pytest.mark.parametrize(
    ("peer", "modules"),
    [
        ("optuna_tpe", ["optuna"]),
        ("optuna_tpe_independent", ["optuna"]),
        ("optuna_cmaes", ["optuna", "cmaes"]),
        ("nevergrad_pso", ["nevergrad"]),
        ("nevergrad_cma", ["nevergrad"]),
        ("nevergrad_de", ["nevergrad"]),
        ("nevergrad_ngopt", ["nevergrad"]),
        ("pyswarms_gbest", ["pyswarms"]),
    ],
)
def test_each_peer_runs_its_budget_and_reports_a_regret(peer: str, modules: list[str]) -> None:
    missing = _missing(*modules)
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed: pip install 'krystal-sdk[bench]'")
    out: Any = blackbox.run_one(peer, PROBLEMS["hartmann6"], 40, seed=0)
    assert out["evaluations"] == 40
    assert len(out["trace"]) == 40
    assert out["trace"] == sorted(out["trace"], reverse=True)  # best-so-far never worsens
    assert 0.0 <= out["final"] < 3.33
    assert out["overhead_s"] >= 0.0


def test_pyswarms_leaves_the_process_logging_and_working_directory_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import logging

    if _missing("pyswarms"):
        pytest.skip("pyswarms not installed: pip install 'krystal-sdk[bench]'")
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    blackbox.run_one("pyswarms_gbest", PROBLEMS["branin"], 20, seed=0)
    # its reporter used to point the root logger at stderr and ./report.log
    assert root.handlers == handlers and root.level == level
    assert list(tmp_path.iterdir()) == []
