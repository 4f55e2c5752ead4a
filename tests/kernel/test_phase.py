import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from krystal.kernel.phase import BOUNDARIES, PHASES, PhaseEngine, phase_of


@pytest.mark.parametrize(
    ("t", "phase"),
    [
        (0.0, "SOLID"),
        (0.1499, "SOLID"),
        (0.15, "LIQUID"),
        (0.3999, "LIQUID"),
        (0.4, "GAS"),
        (0.6999, "GAS"),
        (0.7, "PLASMA"),
        (1.0, "PLASMA"),
    ],
)
def test_phase_of_bands(t: float, phase: str) -> None:
    assert phase_of(t) == phase


@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_phase_of_is_monotone(a: float, b: float) -> None:
    lo, hi = min(a, b), max(a, b)
    assert PHASES.index(phase_of(lo)) <= PHASES.index(phase_of(hi))


def calm(engine: PhaseEngine, steps: int) -> None:
    for _ in range(steps):
        engine.update(td_error=0.1, reward=1.0)


def test_anneals_to_solid_and_records_history() -> None:
    engine = PhaseEngine(initial_temperature=0.6, anneal_steps=50.0)
    assert engine.phase == "GAS"
    calm(engine, 300)
    assert engine.phase == "SOLID"
    assert engine.temperature < BOUNDARIES[0]
    phases = [p for _, p in engine.history]
    assert phases == ["GAS", "LIQUID", "SOLID"]
    steps = [s for s, _ in engine.history]
    assert steps == sorted(steps) and steps[0] == 0 and steps[-1] <= 300


def test_surprise_heats_fast() -> None:
    engine = PhaseEngine(initial_temperature=0.6, anneal_steps=50.0)
    calm(engine, 300)
    before = engine.temperature
    for _ in range(10):
        engine.update(td_error=3.0, reward=1.0)  # reward unchanged: only the TD error moves
    assert engine.surprise > 2.0
    assert engine.temperature > before + 0.3
    assert engine.phase in ("GAS", "PLASMA")


def test_falling_reward_heats_even_without_surprise() -> None:
    engine = PhaseEngine(initial_temperature=0.6, anneal_steps=50.0)
    calm(engine, 300)
    before = engine.temperature
    for _ in range(10):
        engine.update(td_error=0.1, reward=-2.0)
    assert engine.trend < -0.7
    assert engine.temperature > before + 0.15


def test_rising_reward_does_not_heat() -> None:
    engine = PhaseEngine(initial_temperature=0.6, anneal_steps=50.0)
    calm(engine, 300)
    before = engine.temperature
    for _ in range(10):
        engine.update(td_error=0.1, reward=3.0)
    assert engine.trend > 0.0
    assert engine.temperature <= before + 1e-12


def test_stagnation_alone_never_goes_past_liquid() -> None:
    engine = PhaseEngine(initial_temperature=0.6, anneal_steps=50.0, patience=100.0)
    calm(engine, 2000)
    assert engine.stagnation == 1.0
    assert engine.heat == pytest.approx(0.1)
    assert engine.phase in ("SOLID", "LIQUID")
    assert engine.temperature == pytest.approx(0.1, abs=1e-6)


def test_disabled_engine_only_anneals() -> None:
    engine = PhaseEngine(initial_temperature=0.6, anneal_steps=50.0, enabled=False)
    calm(engine, 300)
    before = engine.temperature
    for _ in range(20):
        engine.update(td_error=3.0, reward=-1.0)
    assert engine.heat == 0.0
    assert engine.temperature < before


def test_heats_quickly_but_cools_slowly() -> None:
    engine = PhaseEngine(initial_temperature=0.0, anneal_steps=50.0)
    calm(engine, 300)
    engine.update(td_error=5.0, reward=1.0)
    hot_target_gap = engine.temperature  # one hot step moves 30% of the way
    assert hot_target_gap > 0.05
    for _ in range(10):
        engine.update(td_error=5.0, reward=1.0)
    peak = engine.temperature
    calm(engine, 1)
    assert peak - engine.temperature <= 0.02 * peak + 1e-12


def test_hysteresis_keeps_the_label_near_a_boundary() -> None:
    engine = PhaseEngine(initial_temperature=0.1)
    assert engine.phase == "SOLID"
    engine.temperature = 0.16  # past 0.15 but within the hysteresis band
    engine._relabel()
    assert engine.phase == "SOLID"
    engine.temperature = 0.19
    engine._relabel()
    assert engine.phase == "LIQUID"
    engine.temperature = 0.13  # back under 0.15, still within the band
    engine._relabel()
    assert engine.phase == "LIQUID"
    engine.temperature = 0.95  # a jump skips straight to the right band
    engine._relabel()
    assert engine.phase == "PLASMA"
    assert [p for _, p in engine.history] == ["SOLID", "LIQUID", "PLASMA"]


def test_history_is_bounded() -> None:
    engine = PhaseEngine(initial_temperature=0.1, history_limit=3)
    for i in range(10):
        engine.temperature = 0.9 if i % 2 == 0 else 0.05
        engine._relabel()
    assert len(engine.history) == 3
    assert engine.history[-1][1] == "SOLID"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"initial_temperature": -0.1}, "initial_temperature"),
        ({"initial_temperature": 1.1}, "initial_temperature"),
        ({"anneal_steps": 0.0}, "anneal_steps"),
        ({"patience": -1.0}, "patience"),
    ],
)
def test_rejects_bad_arguments(kwargs: dict, field: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError, match=field):
        PhaseEngine(**kwargs)


def test_signals_and_state_round_trip() -> None:
    engine = PhaseEngine(anneal_steps=40.0)
    calm(engine, 100)
    for _ in range(5):
        engine.update(2.0, -1.0)
    signals = engine.signals()
    assert set(signals) == {"temperature", "phase", "surprise", "trend", "stagnation", "heat"}
    assert signals["temperature"] == engine.temperature
    twin = PhaseEngine(anneal_steps=40.0)
    twin.set_state(json.loads(json.dumps(engine.get_state())))
    assert twin.get_state() == engine.get_state()
    for td, r in ((0.5, 0.0), (3.0, -2.0), (0.1, 1.0)):
        assert twin.update(td, r) == engine.update(td, r)
    assert twin.phase == engine.phase


def test_set_state_rejects_unknown_phase() -> None:
    engine = PhaseEngine()
    state = engine.get_state()
    state["phase"] = "STEAM"
    with pytest.raises(ValueError, match="phase"):
        engine.set_state(state)
    assert engine.phase == "GAS"


def test_a_drop_the_learner_predicted_does_not_heat() -> None:
    # Nightfall: the reward falls, but the learner's prediction falls with it.
    predicted, surprised = PhaseEngine(anneal_steps=50.0), PhaseEngine(anneal_steps=50.0)
    for engine in (predicted, surprised):
        for _ in range(300):
            engine.update(td_error=0.1, reward=1.0, expected=1.0)
    before = predicted.temperature
    for _ in range(10):
        predicted.update(td_error=0.1, reward=-2.0, expected=-2.0)
        surprised.update(td_error=0.1, reward=-2.0, expected=1.0)
    assert predicted.temperature < before + 0.01
    assert surprised.temperature > before + 0.15
