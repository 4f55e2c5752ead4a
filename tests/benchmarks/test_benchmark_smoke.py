"""Fast versions of the benchmarks: the scripts run, and the learner really learns."""

import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from krystal.agent import get_preset
from krystal.sims import best_fixed, fixed_chooser, make, random_chooser, rollout

ROOT = Path(__file__).resolve().parents[2]


def _krystal(domain: str, steps: int, seed: int) -> list[float]:
    agent = get_preset(domain).create(seed=seed)
    return rollout(
        make(domain), lambda obs: agent.observe(obs).decide(), agent.reward, steps=steps, seed=seed
    )


@pytest.mark.slow
@pytest.mark.parametrize("domain", ["game", "server", "iot"])
def test_krystal_approaches_the_best_fixed_setting_quickly(domain: str) -> None:
    # Half the benchmark's steps, one seed, a looser margin (the full benchmark asks for
    # the best fixed setting itself after 3,000 steps); a learner that does not learn
    # stays near random or the default and fails.
    steps, tail = 1500, 300
    krystal = statistics.mean(_krystal(domain, steps, seed=0)[-tail:])
    _, best = best_fixed(domain, steps=steps, seeds=[0], window=(steps - tail, steps))
    env = make(domain)
    random_mean = statistics.mean(rollout(env, random_chooser(env, 1), steps=steps, seed=0)[-tail:])
    default = statistics.mean(
        rollout(
            make(domain), fixed_chooser(get_preset(domain).default_action), steps=steps, seed=0
        )[-tail:]
    )
    assert krystal >= 0.75 * best, (krystal, best)
    assert krystal > random_mean + 0.15 and krystal > default, (krystal, random_mean, default)


@pytest.mark.slow
@pytest.mark.parametrize("domain", ["server", "ml"])
def test_krystal_beats_random_and_the_default_quickly(domain: str) -> None:
    steps, tail = 1500, 300
    krystal = statistics.mean(_krystal(domain, steps, seed=0)[-tail:])
    env = make(domain)
    random_mean = statistics.mean(rollout(env, random_chooser(env, 1), steps=steps, seed=0)[-tail:])
    default = statistics.mean(
        rollout(
            make(domain), fixed_chooser(get_preset(domain).default_action), steps=steps, seed=0
        )[-tail:]
    )
    assert krystal > random_mean + 0.2, (krystal, random_mean)
    assert krystal > default, (krystal, default)


def test_learning_script_writes_results(tmp_path: Path) -> None:
    out = tmp_path / "learning.json"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "learning.py"),
            "--domains",
            "game",
            "--seeds",
            "1",
            "--steps",
            "300",
            "--no-shift",
            "--workers",
            "1",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    document = json.loads(out.read_text())
    (result,) = document["results"]
    assert result["domain"] == "game"
    for key in ("krystal", "random", "default", "best_fixed"):
        assert isinstance(result[key], float)
    # The best fixed setting is the best constant action on the scoring window.
    assert result["best_fixed"] >= result["default"]
    assert out.with_suffix(".png").read_bytes().startswith(b"\x89PNG")


def test_speed_script_writes_results(tmp_path: Path) -> None:
    out = tmp_path / "speed.json"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "speed.py"),
            "--cycles",
            "50",
            "--memory-cycles",
            "50",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    document = json.loads(out.read_text())
    assert document["cycle_8x4"]["median_us"] > 0
    assert document["cycle_32x8"]["median_us"] > document["cycle_8x4"]["median_us"]
