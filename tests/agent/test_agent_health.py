"""health_check(): a real self-test of every component."""

from typing import Any

import pytest

import krystal
from krystal.agent import _health


def test_all_components_report_ok() -> None:
    report = krystal.health_check()
    assert report["status"] == "ok"
    assert report["failed"] == []
    assert set(report["components"]) == {
        "rng",
        "learning",
        "phase_engine",
        "swarm",
        "pid",
        "persistence",
    }
    for name, component in report["components"].items():
        assert component["status"] == "ok", (name, component)
        assert isinstance(component["detail"], str) and component["detail"]
        assert component["elapsed_ms"] >= 0.0


@pytest.mark.parametrize("broken", ["pid", "rng", "persistence"])
def test_a_failing_check_fails_the_report(monkeypatch: pytest.MonkeyPatch, broken: str) -> None:
    def boom() -> str:
        raise RuntimeError("controller exploded")

    monkeypatch.setitem(_health.CHECKS, broken, boom)
    report = krystal.health_check()
    assert report["status"] == "fail"
    assert report["failed"] == [broken]
    component = report["components"][broken]
    assert component["status"] == "fail"
    assert component["detail"] == "RuntimeError: controller exploded"
    others = [c["status"] for n, c in report["components"].items() if n != broken]
    assert others == ["ok"] * 5


def _broken_learner(monkeypatch: pytest.MonkeyPatch) -> None:
    # A learner that ignores rewards: the learning self-test must notice.
    from krystal.kernel import learner as learner_module

    monkeypatch.setattr(learner_module.Learner, "_credit", lambda self, action, r: None)


def _broken_rng(monkeypatch: pytest.MonkeyPatch) -> None:
    from krystal.kernel.rng import Rng

    original = Rng.next_u64
    monkeypatch.setattr(Rng, "next_u64", lambda self: original(self) ^ 1)


def _broken_pid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_health, "Pid", lambda *a, **k: _StuckPid())


class _StuckPid:
    def update(self, *args: Any, **kwargs: Any) -> float:
        return 0.0


def _broken_phase(monkeypatch: pytest.MonkeyPatch) -> None:
    from krystal.kernel.phase import PhaseEngine

    monkeypatch.setattr(PhaseEngine, "update", lambda self, td, r: self.temperature)


def _broken_swarm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_health.ParticleSwarm, "tell", lambda self, x, score: None)


def _broken_persistence(monkeypatch: pytest.MonkeyPatch) -> None:
    from krystal.kernel.learner import Learner

    monkeypatch.setattr(Learner, "set_state", lambda self, state: None)


@pytest.mark.parametrize(
    ("breaker", "component"),
    [
        (_broken_learner, "learning"),
        (_broken_rng, "rng"),
        (_broken_pid, "pid"),
        (_broken_phase, "phase_engine"),
        (_broken_swarm, "swarm"),
        (_broken_persistence, "persistence"),
    ],
)
def test_real_breakage_is_detected(
    monkeypatch: pytest.MonkeyPatch, breaker: Any, component: str
) -> None:
    breaker(monkeypatch)
    report = krystal.health_check()
    assert report["status"] == "fail"
    assert component in report["failed"]
    assert report["components"][component]["detail"].startswith("AssertionError")
