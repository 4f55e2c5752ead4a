"""Tiny runs of each section and of the suite runner: the contract holds end to end."""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from krystal.bench import _suite, bandits, control, setpoint, speed_peers
from krystal.bench._report import suite_markdown, write_outputs
from krystal.bench._section import missing_functions


def needs(module: str) -> Any:
    return pytest.mark.skipif(
        importlib.util.find_spec(module) is None,
        reason=f"{module} is not installed (pip install 'krystal-sdk[bench]')",
    )


class Recorder:
    def __init__(self) -> None:
        self.total = 0.0
        self.descriptions: list[str] = []

    def __call__(self, advance: float, description: str) -> None:
        self.total += advance
        self.descriptions.append(description)


def check_contract(module: Any, result: dict[str, Any], tmp_path: Path) -> None:
    assert missing_functions(module) == []
    json.dumps(result)  # JSON-able
    assert result["goals"] and all(
        set(g) == {"goal", "met", "detail"} and isinstance(g["met"], bool) for g in result["goals"]
    )
    assert isinstance(result["versions"], dict)
    markdown = module.render_markdown(json.loads(json.dumps(result)))
    assert markdown.startswith("## ")
    paths = module.plot(result, tmp_path)
    assert paths and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)


@needs("sklearn")
@needs("numpy")
def test_bandit_policies_learn_from_partial_feedback() -> None:
    rows, labels = bandits.load_dataset("iris")
    assert len(rows) == 150 and max(labels) == 2
    order = bandits.stream(len(rows), 600, seed=0)
    assert sorted(order[:150]) == list(range(150))  # each pass is a permutation
    rewards = {
        name: bandits.play(bandits._FACTORIES[name](4, 3, 0), rows, labels, order)["reward"]
        for name in ("krystal", "numpy_linucb", "random", "full_info_logistic")
    }
    assert rewards["random"] < 0.45
    for learner in ("krystal", "numpy_linucb", "full_info_logistic"):
        assert rewards[learner] > rewards["random"] + 0.3, rewards


@needs("sklearn")
def test_bandits_section_end_to_end(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(bandits, "_sizes", lambda quick, seeds: (("iris",), 300, 1))
    progress = Recorder()
    result = bandits.run(quick=True, progress=progress)
    assert progress.total == len(bandits.POLICIES)  # one dataset, one seed; skips count too
    policies = result["datasets"]["iris"]["policies"]
    assert {"krystal", "random"} <= set(policies)
    assert all(0.0 <= v["reward"] <= 1.0 and v["us_per_event"] > 0 for v in policies.values())
    assert {s["peer"] for s in result["skipped"]} == set(bandits.missing_peers())
    check_contract(bandits, result, tmp_path)


def test_control_section_end_to_end(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    size = {"steps": 240, "shift_at": 120, "seeds": 1, "levels": 2, "last": 40}
    monkeypatch.setattr(control, "_sizes", lambda quick, seeds: size)
    monkeypatch.setattr(control, "DOMAINS", ("server",))
    monkeypatch.setattr(control, "WINDOW", 20)
    progress = Recorder()
    result = control.run(quick=True, progress=progress)
    assert progress.total == pytest.approx(control.estimate(quick=True))
    (plain, shifted) = result["results"]
    assert not plain["shift"] and shifted["shift"]
    assert "krystal" in plain["policies"] and "best_fixed" in plain["policies"]
    assert all("recovery_median" in v for v in shifted["policies"].values())
    # the best fixed setting is its own reference: recovered at once, whatever the world
    assert shifted["policies"]["best_fixed"]["recovery"] == [0] * len(
        shifted["policies"]["best_fixed"]["recovery"]
    )
    assert all("recovery_to_tail_median" in v for v in shifted["policies"].values())
    check_contract(control, result, tmp_path)


def test_recovery_is_the_first_window_that_reaches_the_target() -> None:
    rewards = [0.0] * 100 + [0.2] * 30 + [1.0] * 200
    # The window of 100 after step t averages (0.2 (30 - t) + (70 + t)) / 100 >= 0.9 at t = 18.
    assert control.recovery_steps(rewards, 100, 0.9) == 18
    assert control.recovery_steps([0.0] * 400, 100, 0.5) is None


def test_matched_recovery_compares_each_window_with_the_same_window_of_the_reference() -> None:
    # A world whose rewards swing: hard stretches (0.1) between easy ones (0.9).
    world = ([0.1] * 80 + [0.9] * 80) * 3
    shift = 40
    # Learning from the shift on: nothing for 60 steps, then what the fixed setting earns.
    learner = world[:shift] + [0.0] * 60 + world[shift + 60 :]
    # After the first catch-up the windows are equal, so it recovers as soon as the zero
    # stretch weighs less than 10 % of the reference window.
    found = control.matched_recovery(learner, world, shift)
    assert found is not None and 0 < found < 60
    window = control.WINDOW
    mine, ref = (
        sum(learner[shift + found : shift + found + window]),
        sum(world[shift + found : shift + found + window]),
    )
    assert mine >= 0.9 * ref - 1e-9
    before = found - 1
    mine = sum(learner[shift + before : shift + before + window])
    ref = sum(world[shift + before : shift + before + window])
    assert mine < 0.9 * ref
    # A policy that stays 20 % below the fixed setting never counts as recovered, and
    # with negative rewards "within 10 %" means at most 10 % of the magnitude below.
    assert control.matched_recovery([0.8 * v for v in world], world, shift) is None
    assert control.matched_recovery([-0.5] * 300, [-0.46] * 300, 0) == 0
    assert control.matched_recovery([-0.52] * 300, [-0.46] * 300, 0) is None


def test_setpoint_section_end_to_end(tmp_path: Path) -> None:
    progress = Recorder()
    result = setpoint.run(quick=True, seeds=1, progress=progress)
    assert progress.total == setpoint.estimate(quick=True, seeds=1) - (
        0 if importlib.util.find_spec("simple_pid") else 3
    )
    drifting = result["results"]["drifting_gain"]["controllers"]
    # Fixed SIMC gains for the starting plant overshoot as its gain triples; the
    # relay-tuned, gain-following controller does not.
    assert drifting["autotune"]["overshoot"] < drifting["krystal"]["overshoot"]
    check_contract(setpoint, result, tmp_path)


@needs("simple_pid")
def test_control_matches_simple_pid_with_the_same_gains() -> None:
    for plant in setpoint.PLANTS:
        ours = setpoint.simulate(plant, "krystal", 0)["iae"]
        theirs = setpoint.simulate(plant, "simple_pid", 0)["iae"]
        assert ours == pytest.approx(theirs, rel=0.05)


def test_speed_section_end_to_end(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(speed_peers, "_cycles", lambda quick: 20)
    monkeypatch.setattr(speed_peers, "SIZES", ((4, 2),))
    result = speed_peers.run(quick=True, progress=Recorder())
    timings = result["results"]["4x2"]
    assert timings["krystal"]["median_us"] > 0
    for name, ratio in result["ratios"]["4x2"].items():
        ours, peer = name.split("/")
        assert ratio == pytest.approx(timings[ours]["median_us"] / timings[peer]["median_us"])
    if len(timings) > 2:
        check_contract(speed_peers, result, tmp_path)


def test_a_missing_or_broken_section_does_not_stop_the_suite(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = types.ModuleType("krystal.bench.blackbox")
    broken.estimate = lambda **kw: 1.0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "krystal.bench.blackbox", broken)
    document = _suite.run_suite(quick=True, seeds=1, sections=["blackbox", "setpoint"])
    entry = document["sections"]["blackbox"]
    assert entry["status"] == "not available"
    assert "section not available yet" in entry["reason"] and "render_markdown" in entry["reason"]
    assert document["sections"]["setpoint"]["status"] == "ok"

    def explode(**kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("peer crashed")

    for name in ("run", "render_markdown", "plot"):
        setattr(broken, name, explode)
    document = _suite.run_suite(quick=True, seeds=1, sections=["blackbox"])
    assert document["sections"]["blackbox"]["status"] == "error"
    assert "peer crashed" in document["sections"]["blackbox"]["reason"]
    assert "blackbox | error" in suite_markdown(document)
    written = write_outputs(document, tmp_path)
    assert [p.name for p in written] == ["suite.json", "suite.md"]


def test_unknown_section_names_are_refused() -> None:
    with pytest.raises(ValueError, match="section: expected one of"):
        _suite.load_section("chess")
