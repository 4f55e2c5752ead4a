"""Fixtures of the CLI tests: an isolated directory, in-process and subprocess runners."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result
from llm_standins import PROVIDER_ENV, OpenAIStandIn, closed_port
from typer.testing import CliRunner

import krystal

#: The directory that holds the ``krystal`` package, so subprocesses import this tree.
SOURCE_ROOT = str(Path(krystal.__file__).resolve().parent.parent)

Invoke = Callable[..., Result]
RunPython = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run each test in an empty directory with no KRYSTAL_* variables set."""
    for name in list(os.environ):
        if name.upper().startswith("KRYSTAL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")  # Rich and Typer wrap at 80 columns otherwise
    return tmp_path


@pytest.fixture
def cli() -> Invoke:
    """``cli("demo", "--json")`` runs the Typer app in-process, stderr kept apart."""
    from krystal.cli._app import app

    def invoke(*args: str) -> Result:
        try:
            runner = CliRunner(mix_stderr=False)  # type: ignore[call-arg]  # Click < 8.2
        except TypeError:
            runner = CliRunner()  # Click >= 8.2 always keeps result.stderr apart
        return runner.invoke(app, list(args), prog_name="krystal")

    return invoke


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    """The current environment with this source tree first on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [SOURCE_ROOT, env.get("PYTHONPATH")]))
    env["COLUMNS"] = "160"
    return env


@pytest.fixture
def run_python(subprocess_env: dict[str, str], tmp_path: Path) -> RunPython:
    """``run_python(code)`` runs ``python -c code`` in a fresh interpreter in tmp_path."""

    def run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", code, *args],
            capture_output=True,
            text=True,
            env=subprocess_env,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )

    return run


@pytest.fixture(autouse=True)
def no_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every local server at a closed port, no API key: only what a test starts exists."""
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    for name in ("OLLAMA_HOST", "LMSTUDIO_HOST", "VLLM_HOST"):
        monkeypatch.setenv(name, f"127.0.0.1:{closed_port()}")


@pytest.fixture
def local_server() -> Iterator[OpenAIStandIn]:
    """An OpenAI-compatible server that wants no key (LM Studio, vLLM)."""
    with OpenAIStandIn(api_key=None) as server:
        yield server
