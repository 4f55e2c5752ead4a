"""krystal config show / validate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


def sources(cli: Any, *args: str) -> dict[str, tuple[Any, str]]:
    result = cli("config", "show", "--json", *args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    return {row["key"]: (row["value"], row["source"]) for row in data["settings"]}


def test_show_reports_each_source(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "krystal.yaml").write_text("learning_rate: 0.2\nseed: 5\nstate_dim: 10\n")
    (tmp_path / ".env").write_text("KRYSTAL_STATE_DIM=11\nKRYSTAL_SEED=6\n")
    monkeypatch.setenv("KRYSTAL_SEED", "7")
    rows = sources(cli)
    assert rows["learning_rate"] == (0.2, "krystal.yaml")
    assert rows["state_dim"] == (11, ".env")
    assert rows["seed"] == (7, "KRYSTAL_SEED")
    assert rows["action_dim"] == (4, "default")


def test_show_with_explicit_config(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "other.toml"
    path.write_text('domain = "iot"\n')
    assert sources(cli, "--config", str(path))["domain"] == ("iot", str(path))


def test_show_table(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "krystal.toml").write_text("swarm_particles = 9\n")
    result = cli("config", "show")
    assert result.exit_code == 0
    line = next(line for line in result.stdout.splitlines() if "swarm_particles" in line)
    assert "9" in line and "krystal.toml" in line
    assert "config file: krystal.toml" in result.stdout


def test_show_with_an_invalid_file_exits_1_naming_file_and_key(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "krystal.yaml").write_text("learning_rat: 0.1\n")
    result = cli("config", "show")
    assert result.exit_code == 1
    assert "krystal.yaml: learning_rat: unknown key" in result.stderr


def test_validate_valid_file(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "krystal.yaml").write_text("learning_rate: 0.2\ndomain: server\n")
    result = cli("config", "validate", "krystal.yaml")
    assert result.exit_code == 0
    assert result.stdout.strip() == "krystal.yaml: valid"


def test_validate_lists_every_error(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text('state_dim = "many"\nbogus = 1\nlog_level = "LOUD"\n')
    result = cli("config", "validate", "bad.toml")
    assert result.exit_code == 1
    lines = result.stdout.strip().splitlines()
    assert [line.split(": ")[:2] for line in lines] == [
        ["bad.toml", "state_dim"],
        ["bad.toml", "log_level"],
        ["bad.toml", "bogus"],
    ]
    assert "got 'many'" in lines[0]


def test_validate_unparsable_and_missing_files(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("a: [\n")
    broken = cli("config", "validate", "broken.yaml")
    assert broken.exit_code == 1
    assert broken.stdout.startswith("broken.yaml: could not be read as YAML")
    missing = cli("config", "validate", "missing.toml")
    assert missing.exit_code == 1
    assert missing.stdout.strip() == "missing.toml: config file not found"


def test_validate_without_a_file_is_a_usage_error(cli: Any) -> None:
    assert cli("config", "validate").exit_code == 2
