"""krystal bench and the measurement functions behind it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from krystal.cli import _measure


def test_bench_json_has_the_documented_keys(cli: Any) -> None:
    result = cli("bench", "--json", "--cycles", "200", "--memory-cycles", "300")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    data = json.loads(result.stdout)
    assert data["cycles"] == 200
    assert data["environment"]["krystal_version"]
    for key, (state_dim, action_dim) in {"cycle_8x4": (8, 4), "cycle_32x8": (32, 8)}.items():
        cycle = data[key]
        assert (cycle["state_dim"], cycle["action_dim"], cycle["cycles"]) == (
            state_dim,
            action_dim,
            200,
        )
        assert 0 < cycle["min_us"] <= cycle["median_us"] <= cycle["p90_us"]
    assert data["optimize"]["overhead_per_evaluation_us"] > 0
    assert data["optimize"]["evaluations_per_call"] >= data["optimize"]["iterations"]
    memory = data["memory"]
    assert memory["cycles"] == 300
    assert memory["construct_bytes"] > 0
    assert memory["peak_bytes"] >= memory["retained_bytes"] > 0
    assert data["import"]["import_ms"] > 0
    assert data["import"]["process_ms"] > 0


def test_bench_table(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The table is rendered from run_all's dict; fake one to keep this test instant.
    cycle = {"state_dim": 8, "action_dim": 4, "cycles": 10, "median_us": 50.0, "p90_us": 60.0}
    fake = {
        "environment": {
            "krystal_version": "0",
            "python": "3",
            "platform": "p",
            "cpu_count": 2,
        },
        "cycles": 10,
        "cycle_8x4": cycle,
        "cycle_32x8": {**cycle, "state_dim": 32, "action_dim": 8},
        "optimize": {
            "iterations": 50,
            "repeats": 20,
            "evaluations_per_call": 250,
            "overhead_per_evaluation_us": 7.5,
            "p90_overhead_per_evaluation_us": 8.0,
        },
        "memory": {
            "cycles": 1000,
            "construct_bytes": 2048,
            "peak_bytes": 4096,
            "retained_bytes": 3072,
        },
        "import": {"repeats": 7, "import_ms": 1.5, "process_ms": 20.0, "baseline_process_ms": 19.0},
    }

    def run_all(cycles: int, memory_cycles: int, on_stage: Any = None) -> dict[str, Any]:
        for key, description in _measure.STAGES:
            on_stage(key, description)
        return fake

    monkeypatch.setattr(_measure, "run_all", run_all)
    result = cli("bench", "--cycles", "10")
    assert result.exit_code == 0, result.output
    for text in ("8 x 4", "32 x 8", "50 µs", "7.5 µs", "3.0 KiB", "1.5 ms"):
        assert text in result.stdout


def test_percentile_interpolates() -> None:
    assert _measure.percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert _measure.percentile([0.0, 10.0], 90) == 9.0
    assert _measure.percentile([4.0], 90) == 4.0
    with pytest.raises(ValueError):
        _measure.percentile([], 50)


def test_importtime_parsing() -> None:
    stderr = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       120 |        120 |   krystal._version\n"
        "import time:       310 |       1234 | krystal\n"
    )
    assert _measure._importtime_us(stderr, "krystal") == 1234.0
    with pytest.raises(RuntimeError):
        _measure._importtime_us(stderr, "numpy")


def test_measure_functions_return_positive_numbers() -> None:
    cycle = _measure.measure_cycle(4, 2, 30)
    assert cycle["median_us"] > 0
    memory = _measure.measure_memory(cycles=20)
    assert memory["retained_bytes"] > 0
    optimize = _measure.measure_optimize(iterations=3, repeats=2)
    assert optimize["overhead_per_evaluation_us"] > 0


def test_bench_suite_json_and_compare(cli: Any, tmp_path: Any) -> None:
    quick_setpoint = ("bench", "--suite", "quick", "--sections", "setpoint", "--seeds", "1")
    result = cli(*quick_setpoint, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["suite"] == "quick"
    assert document["sections"]["setpoint"]["status"] == "ok"
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(document))
    same = cli(*quick_setpoint, "--compare", str(baseline), "--out", str(tmp_path / "out"))
    assert same.exit_code == 0, same.output
    assert "no regression" in same.stderr
    assert (tmp_path / "out" / "suite.md").read_text().startswith("# Krystal benchmark suite")
    assert (tmp_path / "out" / "setpoint.png").exists()
    # A baseline whose decision quality was higher makes the same run a regression.
    for figures in document["sections"]["setpoint"]["quality"].values():
        assert figures > 0
    document["sections"]["setpoint"]["quality"] = {
        key: value * 2 for key, value in document["sections"]["setpoint"]["quality"].items()
    }
    baseline.write_text(json.dumps(document))
    worse = cli(*quick_setpoint, "--compare", str(baseline))
    assert worse.exit_code == 1
    assert "REGRESSION" in worse.stderr and "FAIL setpoint.quality." in worse.stderr


def test_bench_suite_usage_errors(cli: Any, tmp_path: Any) -> None:
    assert cli("bench", "--suite", "huge").exit_code == 2
    assert cli("bench", "--compare", str(tmp_path / "x.json")).exit_code == 2
    assert cli("bench", "--suite", "quick", "--sections", "chess").exit_code == 2
    missing = cli("bench", "--suite", "quick", "--compare", str(tmp_path / "none.json"))
    assert missing.exit_code == 2 and "no such file" in missing.stderr
