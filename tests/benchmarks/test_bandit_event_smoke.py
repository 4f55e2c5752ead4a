"""A fast run of benchmarks/bandit_event.py: the event breakdown works end to end."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("vowpalwabbit", reason="the bench extra is not installed")
pytest.importorskip("sklearn", reason="the bench extra is not installed")

ROOT = Path(__file__).resolve().parents[2]


def test_bandit_event_script_times_every_layer_beside_vw(tmp_path: Path) -> None:
    out = tmp_path / "bandit_event.json"
    command = [
        sys.executable, str(ROOT / "benchmarks" / "bandit_event.py"), "--datasets", "iris",
        "--events", "300", "--warmup", "100", "--repeats", "1", "--out", str(out),
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    report = json.loads(out.read_text())
    times = report["us_per_event"]["iris"]
    assert set(times) == {"agent", "learner", "policy", "work", "work_without_phase", "vw_squarecb"}
    assert all(t > 0 for t in times.values())
    # each variant does less than the one above it (generous: timings are noisy)
    assert times["work_without_phase"] < times["agent"]
    layers = report["layers_us"]["iris"]
    assert sum(layers.values()) == pytest.approx(times["agent"])
    summary = report["median_over_datasets"]
    assert summary["ratio"] == pytest.approx(summary["krystal"] / summary["vw_squarecb"])
