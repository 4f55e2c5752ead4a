"""krystal --help / version / health, the console script and the missing-extra message."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import krystal

BLOCK_IMPORT = """
import importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == {module!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, Block())
sys.argv = ["krystal", *{argv!r}]
from krystal.cli import main
main()
"""


def test_help_lists_every_command(cli: Any) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for command in ("version", "health", "demo", "bench", "config"):
        assert command in result.stdout


def test_no_arguments_shows_help_and_a_usage_exit_code(cli: Any) -> None:
    result = cli()
    assert result.exit_code == 2
    assert "Usage" in result.output


def test_unknown_command_is_a_usage_error(cli: Any) -> None:
    assert cli("fly").exit_code == 2


def test_version_plain_and_json(cli: Any) -> None:
    plain = cli("version")
    assert plain.exit_code == 0
    assert plain.stdout.startswith(f"krystal-sdk {krystal.__version__} ")
    data = json.loads(cli("version", "--json").stdout)
    assert data["name"] == "krystal-sdk"
    assert data["version"] == krystal.__version__
    assert data["python"].count(".") == 2


def test_health_json_has_every_component(cli: Any) -> None:
    result = cli("health", "--json")
    report = json.loads(result.stdout)
    assert report["status"] in ("ok", "degraded", "fail")
    assert result.exit_code == (1 if report["status"] == "fail" else 0)
    assert report["components"]
    for name, component in report["components"].items():
        assert isinstance(name, str)
        assert component["status"] in ("ok", "fail")
        assert isinstance(component["detail"], str)
        assert component["elapsed_ms"] >= 0


def test_health_table_names_the_components(cli: Any) -> None:
    result = cli("health")
    names = krystal.health_check()["components"]
    for name in names:
        assert name in result.stdout
    assert "overall:" in result.stdout


def test_health_failure_exits_1(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    report = {
        "status": "fail",
        "components": {"kernel": {"status": "fail", "detail": "boom", "elapsed_ms": 0.5}},
    }
    monkeypatch.setattr(krystal.agent, "health_check", lambda: report)
    result = cli("health")
    assert result.exit_code == 1
    assert "boom" in result.stdout
    assert cli("health", "--json").exit_code == 1


def test_missing_typer_prints_the_install_command(run_python: Any) -> None:
    done = run_python(BLOCK_IMPORT.format(module="typer", argv=["version"]))
    assert done.returncode == 1, done.stderr
    assert 'pip install "krystal-sdk[cli]"' in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_missing_pydantic_settings_fails_config_commands_helpfully(run_python: Any) -> None:
    done = run_python(BLOCK_IMPORT.format(module="pydantic_settings", argv=["config", "show"]))
    assert done.returncode == 1, done.stderr
    assert 'pip install "krystal-sdk[cli]"' in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_matplotlib_fails_demo_plot_before_running(run_python: Any) -> None:
    done = run_python(
        BLOCK_IMPORT.format(module="matplotlib", argv=["demo", "--steps", "10", "--plot", "x.png"])
    )
    assert done.returncode == 1, done.stderr
    assert 'pip install "krystal-sdk[plot]"' in done.stderr


def _console_script() -> str | None:
    beside = Path(sys.executable).with_name("krystal")
    return str(beside) if beside.exists() else shutil.which("krystal")


@pytest.mark.skipif(
    _console_script() is None, reason="krystal-sdk is not installed (pip install -e .)"
)
def test_installed_console_script_runs(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    script = _console_script()
    assert script is not None
    done = subprocess.run(
        [script, "version", "--json"],
        capture_output=True,
        text=True,
        env=subprocess_env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["version"] == krystal.__version__
    usage = subprocess.run(
        [script, "demo", "--domain", "chess"],
        capture_output=True,
        text=True,
        env=subprocess_env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert usage.returncode == 2
    assert "game, server, ml, iot" in usage.stderr


@pytest.mark.slow
@pytest.mark.skipif(
    _console_script() is None, reason="krystal-sdk is not installed (pip install -e .)"
)
def test_installed_demo_with_no_arguments_is_quick(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    script = _console_script()
    assert script is not None
    started = time.perf_counter()
    done = subprocess.run(
        [script, "demo"],
        capture_output=True,
        text=True,
        env=subprocess_env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    assert "best_fixed" in done.stdout and "1000 steps" in done.stdout
    assert elapsed < 30.0
