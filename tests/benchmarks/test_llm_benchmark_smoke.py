"""benchmarks/llm.py runs end to end with tiny counts; peers that are missing are skipped."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_llm_benchmark_runs_with_tiny_counts(tmp_path: Path) -> None:
    pytest.importorskip("httpx")
    out = tmp_path / "llm.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "llm.py"),
            "--requests",
            "20",
            "--streams",
            "5",
            "--import-repeats",
            "1",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert {"command", "environment", "imports", "latency", "streaming", "ratios"} <= set(result)
    assert result["environment"]["cpu_count"]

    krystal_import = result["imports"]["krystal.llm + LLMClient"]
    assert krystal_import["import_ms_median"] > 0 and krystal_import["rss_mb_median"] > 0
    for name in ("httpx", "krystal", "httpx (anthropic)", "krystal (anthropic)"):
        assert result["latency"][name]["n"] == 20
        assert result["streaming"][name]["ttft"]["n"] == 5
        assert result["streaming"][name]["chunks_seen"] == [50]
    assert result["ratios"]["httpx"]["request_median"] == pytest.approx(1.0)
    assert result["ratios"]["krystal"]["request_median"] > 0
    # each wire format is measured against raw httpx on that format
    assert result["ratios"]["httpx (gemini)"]["stream_total_median"] == pytest.approx(1.0)
    assert result["streaming"]["krystal (gemini)"]["chunks_seen"] == [50]

    peers = (("openai", "openai"), ("litellm", "litellm"), ("anthropic", "anthropic"))
    for name, module in (*peers, ("google-genai", "google.genai")):
        if importlib.util.find_spec(module) is None:
            assert result["latency"][name] == "skipped: not installed"
        else:
            assert result["latency"][name]["n"] == 20, result["latency"][name]
    if importlib.util.find_spec("anthropic") is None:
        assert result["imports"]["anthropic"] == "skipped: not installed"
    if importlib.util.find_spec("litellm") is None:
        assert result["imports"]["litellm"] == "skipped: not installed"


def test_llm_soak_runs_with_tiny_counts(tmp_path: Path) -> None:
    pytest.importorskip("httpx")
    out = tmp_path / "soak.json"
    script = str(ROOT / "benchmarks" / "llm_soak.py")
    done = subprocess.run(
        [sys.executable, script, "--streams", "15", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["ok"] and set(result["runs"]) == {"openai", "ollama", "anthropic", "gemini"}
    for run in result["runs"].values():
        assert run["abandoned"]["requests_seen"] == 16 and run["abandoned"]["full_stream_after"]
        assert run["sequential"]["broken"] == 3 and run["sequential"]["right"] == 15


def test_report_lists_a_skipped_peer_instead_of_failing() -> None:
    spec = importlib.util.spec_from_file_location("report", ROOT / "benchmarks" / "report.py")
    assert spec is not None and spec.loader is not None
    report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report)
    document = json.loads((ROOT / "benchmarks" / "results" / "llm.json").read_text())
    document["ratios"]["litellm"] = document["latency"]["litellm"] = "skipped: not installed"
    document["imports"]["litellm"] = "skipped: not installed"

    table = report.llm_tables(document)

    assert "| litellm | skipped: not installed | | | |" in table
    assert "| krystal |" in table  # the measured rows are still there
