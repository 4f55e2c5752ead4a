"""krystal demo: JSON document, tables, plot, config and usage errors."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import pytest

from krystal.agent import PRESET_NAMES, Phase
from krystal.cli._demo_run import DemoRun, PolicyRun, ratio, tail_length

POLICIES = ["krystal", "random", "default", "best_fixed"]
PHASES = {phase.value for phase in Phase}


def demo_json(cli: Any, *args: str) -> dict[str, Any]:
    result = cli("demo", "--json", *args)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # --json keeps stderr silent: no bars, no log lines
    return json.loads(result.stdout)


@pytest.mark.parametrize("domain", PRESET_NAMES)
def test_demo_json_for_each_domain(cli: Any, domain: str) -> None:
    data = demo_json(cli, "--steps", "200", "--domain", domain)
    assert (data["domain"], data["steps"], data["seed"]) == (domain, 200, 0)
    assert [policy["name"] for policy in data["policies"]] == POLICIES
    for policy in data["policies"]:
        for key in ("mean_reward", "mean_reward_last_20pct"):
            assert math.isfinite(policy[key]), (policy["name"], key)
            assert -1.5 <= policy[key] <= 1.5
    krystal = data["policies"][0]
    assert krystal["krystal_ratio"] == pytest.approx(1.0) or krystal["mean_reward"] <= 0
    for name in ("default", "best_fixed"):
        action = next(p["action"] for p in data["policies"] if p["name"] == name)
        assert isinstance(action, dict) and action
    phases = data["phase_history"]
    assert phases and all(segment["phase"] in PHASES for segment in phases)
    assert phases[-1]["to_cycle"] == 200
    for before, after in itertools.pairwise(phases):
        assert after["from_cycle"] == before["to_cycle"] + 1
    assert data["metrics"]["cycle"] == 200
    assert data["plot"] is None


def test_demo_is_reproducible_for_a_seed(cli: Any) -> None:
    first = demo_json(cli, "--steps", "60", "--domain", "server", "--seed", "3")
    second = demo_json(cli, "--steps", "60", "--domain", "server", "--seed", "3")
    means = [[p["mean_reward"] for p in run["policies"]] for run in (first, second)]
    assert means[0] == means[1]
    assert first["phase_history"] == second["phase_history"]


def test_demo_tables(cli: Any) -> None:
    result = cli("demo", "--steps", "60", "--domain", "iot")
    assert result.exit_code == 0, result.output
    for text in (*POLICIES, "mean reward", "last 20%", "Krystal's phases", "final metrics"):
        assert text in result.stdout
    assert "baseline: searching fixed settings" in result.stderr  # the progress bars


def test_demo_plot_writes_a_png(cli: Any, tmp_path: Path) -> None:
    target = tmp_path / "demo.png"
    data = demo_json(cli, "--steps", "80", "--domain", "server", "--plot", str(target))
    assert data["plot"] == str(target)
    content = target.read_bytes()
    assert content.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(content) > 10_000


def test_demo_plot_into_a_missing_directory_is_a_usage_error(cli: Any, tmp_path: Path) -> None:
    result = cli("demo", "--plot", str(tmp_path / "nope" / "x.png"))
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_invalid_domain_is_a_usage_error_listing_the_domains(cli: Any) -> None:
    result = cli("demo", "--domain", "chess")
    assert result.exit_code == 2
    assert "game, server, ml, iot" in result.output
    assert "chess" in result.output


def test_invalid_steps_is_a_usage_error(cli: Any) -> None:
    assert cli("demo", "--steps", "0").exit_code == 2
    assert cli("demo", "--steps", "many").exit_code == 2


def test_demo_takes_domain_seed_and_agent_settings_from_config(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "krystal.yaml").write_text("domain: iot\nseed: 5\nlearning_rate: 0.3\n")
    monkeypatch.setenv("KRYSTAL_ENABLE_SWARM", "false")
    data = demo_json(cli, "--steps", "40")
    assert (data["domain"], data["seed"]) == ("iot", 5)
    assert data["agent_overrides"] == {"learning_rate": 0.3, "seed": 5, "enable_swarm": False}
    # Command-line flags beat the settings.
    flags = demo_json(cli, "--steps", "40", "--domain", "server", "--seed", "1")
    assert (flags["domain"], flags["seed"]) == ("server", 1)


def test_demo_with_an_invalid_config_exits_1(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "custom.toml"
    path.write_text("steps = 10\n")
    result = cli("demo", "--config", str(path))
    assert result.exit_code == 1
    assert f"{path}: steps: unknown key" in result.stderr


def test_shift_happens_half_way_through_the_run(cli: Any) -> None:
    shifted = demo_json(cli, "--steps", "60", "--domain", "server", "--shift")
    calm = demo_json(cli, "--steps", "60", "--domain", "server")
    assert (shifted["shift"], shifted["shift_at"]) == (True, 30)

    # The same fixed setting earns differently once the traffic has changed.
    def default_reward(data: dict[str, Any]) -> float:
        (default,) = [p for p in data["policies"] if p["name"] == "default"]
        return float(default["mean_reward_last_20pct"])

    assert default_reward(shifted) != default_reward(calm)


def test_phase_segments_and_ratios() -> None:
    run = DemoRun(
        domain="game",
        steps=10,
        seed=0,
        shift=False,
        shift_at=None,
        runs={"krystal": PolicyRun("krystal", [0.5] * 10)},
        phase_history=[(0, "GAS"), (4, "LIQUID"), (7, "SOLID")],
        metrics={},
        elapsed_s=0.0,
    )
    assert run.phase_segments() == [("GAS", 0, 3), ("LIQUID", 4, 6), ("SOLID", 7, 10)]
    assert ratio(0.5, 0.25) == 2.0
    assert ratio(0.5, 0.0) is None and ratio(0.5, -0.1) is None
    assert tail_length(200) == 40 and tail_length(3) == 1
