"""The regression check behind ``krystal bench --suite quick --compare BASELINE``."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from krystal._errors import InputError
from krystal.bench import Tolerances, compare, run_suite
from krystal.bench.compare import load_document


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    """A real suite document: the setpoint section on one seed (about a second)."""
    return run_suite(quick=True, seeds=1, sections=["setpoint"])


def scaled(doc: dict[str, Any], kind: str, factor: float) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    for result in out["sections"].values():
        figures = result.get(kind, {})
        for key in figures:
            figures[key] *= factor
    return out


def test_a_run_compared_with_itself_passes(document: dict[str, Any]) -> None:
    report = compare(document, document)
    assert report.ok
    quality = [f for f in report.findings if f.kind == "quality"]
    assert quality, "the setpoint section reports decision-quality figures"
    assert report.report().startswith("no regression: 0 of")


def test_a_quality_drop_beyond_tolerance_fails_and_names_the_figure(
    document: dict[str, Any],
) -> None:
    worse = scaled(document, "quality", 0.8)  # every figure loses 20 %
    report = compare(worse, document)
    assert not report.ok
    keys = {f.key for f in report.failures}
    assert "setpoint.quality.drifting_gain.autotune_iae_ratio_inverse" in keys
    assert "REGRESSION" in report.report()
    assert "FAIL setpoint.quality.drifting_gain" in report.report()


def test_a_quality_drop_within_tolerance_passes(document: dict[str, Any]) -> None:
    assert compare(scaled(document, "quality", 0.97), document).ok
    # A stricter tolerance turns the same drop into a failure.
    assert not compare(scaled(document, "quality", 0.97), document, Tolerances(0.01)).ok


def test_speed_ratios_fail_only_when_they_grow_beyond_tolerance() -> None:
    from krystal.bench import speed_peers

    timings = {
        "8x4": {
            "krystal": speed_peers.measure("krystal", 8, 4, 30),
            "krystal_numpy": speed_peers.measure("krystal", 8, 4, 30),
        }
    }
    # The pure-Python Krystal against itself as the "peer": a real, computed ratio near 1.
    timings["8x4"]["vw"] = timings["8x4"]["krystal_numpy"]
    _, speed, _ = speed_peers._judge(timings)
    base = {"benchmark": "suite", "suite": "quick", "sections": {"speed_peers": {"speed": speed}}}
    slower = scaled(base, "speed", 1.5)
    faster = scaled(base, "speed", 0.5)
    assert not compare(slower, base).ok
    assert compare(faster, base).ok
    assert compare(scaled(base, "speed", 1.2), base).ok  # inside the 30 % allowance
    failure = compare(slower, base).failures[0]
    assert failure.kind == "speed" and failure.current == pytest.approx(1.5 * failure.baseline)


def test_a_figure_missing_from_the_run_fails(document: dict[str, Any]) -> None:
    fewer = copy.deepcopy(document)
    fewer["sections"]["setpoint"]["quality"].popitem()
    report = compare(fewer, document)
    assert [f.note for f in report.failures] == ["missing from this run"]
    # And a figure only the run has is listed but not judged.
    report = compare(document, fewer)
    assert report.ok and any(f.note == "new, not in baseline" for f in report.findings)


def test_different_suites_are_not_compared(document: dict[str, Any]) -> None:
    full = dict(document, suite="full")
    with pytest.raises(InputError, match="same suite"):
        compare(full, document)


@pytest.mark.parametrize("value", [-0.1, float("nan"), "5%", True])
def test_tolerances_are_validated(value: object) -> None:
    with pytest.raises(InputError, match="quality_drop"):
        Tolerances(quality_drop=value)  # type: ignore[arg-type]


def test_load_document_reports_bad_files(tmp_path: Path, document: dict[str, Any]) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_document(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(InputError, match="not a readable JSON"):
        load_document(broken)
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({"benchmark": "learning"}))
    with pytest.raises(InputError, match="not a benchmark-suite result"):
        load_document(foreign)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(document))
    assert load_document(good)["sections"].keys() == document["sections"].keys()


def test_the_stored_quick_baseline_is_a_suite_document() -> None:
    path = Path(__file__).resolve().parents[2] / "benchmarks/results/suite/baseline_quick.json"
    if not path.exists():
        pytest.skip("no stored baseline yet")
    baseline = load_document(path)
    assert baseline["suite"] == "quick"
    assert compare(baseline, baseline).ok
